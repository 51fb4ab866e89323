import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import Provider, { errors as oidcErrors, type Adapter, type AdapterPayload, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * A standards-compliant OAuth2 server (oidc-provider) on loopback, configured for
 * client_credentials with private_key_jwt and client_secret_post: what the FLA and
 * PISTE token endpoints speak. The local broker's demo and the tests use it, so
 * assertions are checked by a real server rather than by our own code.
 *
 * With `operator`, it is also the operator console's OpenID provider: one operator
 * account, a login page of its own, and the public client `sesame-console`
 * (authorization code + PKCE S256) whose access tokens are JWTs for the admin API
 * (audience `sesame-admin`), as a Cognito user pool or Entra ID would issue in AWS.
 */
export type OAuthClientSpec =
  /** `publicKey`: one key, or several, as a Chaman account may hold several certificates (a rotation). */
  | { client_id: string; auth: 'private_key_jwt'; publicKey: KeyObject | readonly KeyObject[]; scope?: string }
  | { client_id: string; auth: 'client_secret_post'; client_secret: string; scope?: string };

export const CONSOLE_CLIENT_ID = 'sesame-console';
export const ADMIN_AUDIENCE = 'sesame-admin';
/** The resource indicator (RFC 8707) of the admin API; the console may omit it, it is the default. */
export const ADMIN_RESOURCE = 'urn:sesame:admin';
/** The admin API's scope, carried by the access token's `scope` claim. */
export const ADMIN_SCOPE = 'sesame:admin';

export interface OperatorOptions {
  username: string;
  /** Compared in constant time; never logged, never echoed. */
  password: string;
  email?: string;
  /** The console's redirect URIs, e.g. `<broker url>/console/callback`. */
  redirectUris: string[];
  /** Where the console may send the operator after a logout at the end_session endpoint. */
  postLogoutRedirectUris?: string[];
  clientId?: string;
  audience?: string;
  resource?: string;
  /** Lifetime of the admin API access tokens (default 3600). */
  accessTokenTtlSeconds?: number;
}

export interface OAuthServer {
  issuer: string;
  tokenEndpoint: string;
  /** POSTs received on the token endpoint. */
  tokenRequests(): number;
  /** Adds a client while running, as Chaman does when a certificate is registered; a client of that id is replaced. */
  register(client: OAuthClientSpec): Promise<void>;
  /**
   * Adds a public key to a private_key_jwt client, as Chaman's "Add a certificate" on an
   * existing account: assertions signed by any of the client's keys are accepted.
   */
  addClientKey(clientId: string, publicKey: KeyObject): Promise<void>;
  /** Removes a public key from a private_key_jwt client, as deleting a certificate in Chaman; a client keeps at least one. */
  removeClientKey(clientId: string, publicKey: KeyObject): Promise<void>;
  /** With `operator`: what the console needs to log in, and what the admin API checks. */
  operator?: { sub: string; username: string; clientId: string; audience: string; resource: string; scope: string };
  close(): Promise<void>;
}

export interface OAuthServerOptions {
  clients: OAuthClientSpec[];
  tokenTtlSeconds?: number;
  /** Wraps the provider's listener, e.g. to inject faults in front of it. */
  wrap?: (next: RequestListener) => RequestListener;
  operator?: OperatorOptions;
}

/** In-memory storage, one per server, so that the provider does not warn about its development adapter. */
function memoryAdapter(): new (name: string) => Adapter {
  const stores = new Map<string, Map<string, AdapterPayload>>();
  return class MemoryAdapter implements Adapter {
    private readonly store: Map<string, AdapterPayload>;
    constructor(name: string) {
      this.store = stores.get(name) ?? new Map();
      stores.set(name, this.store);
    }
    async upsert(id: string, payload: AdapterPayload) {
      this.store.set(id, payload);
    }
    async find(id: string) {
      return this.store.get(id);
    }
    async findByUserCode() {
      return undefined;
    }
    /** Sessions are looked up by uid when an interaction resumes and when a code is exchanged. */
    async findByUid(uid: string) {
      for (const p of this.store.values()) if (p.uid === uid) return p;
      return undefined;
    }
    async consume(id: string) {
      const p = this.store.get(id);
      if (p) p.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      this.store.delete(id);
    }
    async revokeByGrantId(grantId: string) {
      for (const [id, p] of this.store) if (p.grantId === grantId) this.store.delete(id);
    }
  };
}

const keysOf = (spec: Extract<OAuthClientSpec, { auth: 'private_key_jwt' }>): KeyObject[] => (Array.isArray(spec.publicKey) ? [...spec.publicKey] : [spec.publicKey as KeyObject]);

/** One key's public JWK as a string: how two KeyObjects are found to be the same key. */
const jwkId = (key: KeyObject) => JSON.stringify(key.export({ format: 'jwk' }));

function toClientMetadata(spec: OAuthClientSpec): ClientMetadata {
  const base: ClientMetadata = { client_id: spec.client_id, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], ...(spec.scope ? { scope: spec.scope } : {}) };
  if (spec.auth === 'client_secret_post') return { ...base, client_secret: spec.client_secret, token_endpoint_auth_method: 'client_secret_post' };
  const keys = keysOf(spec);
  if (keys.length === 0) throw new Error(`client ${spec.client_id}: private_key_jwt needs at least one public key`);
  // Without a kid, the provider tries every key of the assertion's type: what Chaman does with an account's certificates.
  return { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: keys.map((k) => k.export({ format: 'jwk' })) } };
}

/** Equal strings, in a time that depends on neither their contents nor their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

// --- The login page: our own HTML, no script, one stylesheet from the same origin. ---

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const LOGIN_CSS = `*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2430}
main{width:min(24rem,92vw);background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:1.75rem}
h1{font-size:1.25rem;margin:0 0 .25rem}
p{margin:.25rem 0 1rem;color:#4a5363}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
label span{font-weight:400;color:#4a5363}
input{width:100%;padding:.55rem .6rem;font:inherit;border:1px solid #9aa3b2;border-radius:4px}
input:focus,button:focus{outline:3px solid #2f6fde;outline-offset:1px}
button{margin-top:1.25rem;width:100%;padding:.6rem;font:inherit;font-weight:600;color:#fff;background:#2f5fb3;border:0;border-radius:4px;cursor:pointer}
.error{border-left:4px solid #b3261e;background:#fdecea;color:#5f1510;padding:.5rem .75rem;margin:0 0 1rem}
.hint{font-size:.875rem}`;

/** The login page's CSP: no script at all; the form posts here, then redirects to the console. */
function loginHeaders(formTargets: string[]): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'self'; form-action 'self' ${formTargets.join(' ')}; frame-ancestors 'none'; base-uri 'none'`.replace(/ +;/g, ';'),
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };
}

function loginPage(uid: string, username: string, error: boolean): string {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sesame — connexion / sign in</title>
<link rel="stylesheet" href="/assets/login.css">
</head>
<body>
<main>
<h1>Sesame — console des opérateurs <span lang="en">/ operator console</span></h1>
<p>Connectez-vous pour continuer. <span lang="en">Sign in to continue.</span></p>
${error ? `<p class="error" role="alert" id="login-error">Identifiant ou mot de passe incorrect. <span lang="en">Wrong username or password.</span></p>\n` : ''}<form method="post" action="${escapeHtml(action)}" autocomplete="on">
<label for="username">Identifiant <span lang="en">/ Username</span></label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(username)}"${error ? ' aria-describedby="login-error" aria-invalid="true"' : ''}>
<label for="password">Mot de passe <span lang="en">/ Password</span></label>
<input id="password" name="password" type="password" autocomplete="current-password" required${error ? ' aria-describedby="login-error" aria-invalid="true"' : ''}>
<button type="submit">Se connecter <span lang="en">/ Sign in</span></button>
</form>
<p class="hint">En local, <code>sesame dev</code> affiche l’identifiant et le mot de passe au démarrage. <span lang="en">Locally, <code>sesame dev</code> prints the username and password when it starts.</span></p>
</main>
</body>
</html>
`;
}

function messagePage(fr: string, en: string): string {
  return `<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Sesame</title><link rel="stylesheet" href="/assets/login.css"></head>
<body><main><h1>Sesame</h1><p>${escapeHtml(fr)}</p><p lang="en">${escapeHtml(en)}</p></main></body>
</html>
`;
}

const MAX_FORM_BYTES = 8 * 1024;

function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

export async function startOAuthServer(options: OAuthServerOptions): Promise<OAuthServer> {
  let count = 0;
  let listener: RequestListener = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && req.url?.startsWith('/token')) count += 1;
    listener(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const scopes = new Set(['openid']);
  for (const c of options.clients) for (const s of c.scope?.split(' ') ?? []) scopes.add(s);

  const op = options.operator;
  const consoleId = op?.clientId ?? CONSOLE_CLIENT_ID;
  const audience = op?.audience ?? ADMIN_AUDIENCE;
  const resource = op?.resource ?? ADMIN_RESOURCE;
  // The subject is the username: one account, stable across restarts.
  const sub = op?.username;
  // The token clients live in the adapter rather than in the static list: the provider
  // never reloads a static client, and a Chaman account gains and loses certificates.
  const Adapter = memoryAdapter();
  const specs = new Map<string, OAuthClientSpec>();
  const register = async (client: OAuthClientSpec) => {
    const metadata = toClientMetadata(client);
    specs.set(client.client_id, client);
    await new Adapter('Client').upsert(client.client_id, metadata as unknown as AdapterPayload);
  };
  for (const c of options.clients) await register(c);
  const keyedClient = (clientId: string) => {
    const spec = specs.get(clientId);
    if (spec?.auth !== 'private_key_jwt') throw new Error(`no private_key_jwt client ${clientId} on this server`);
    return spec;
  };
  const clients: ClientMetadata[] = [];
  if (op) {
    scopes.add('profile').add('email');
    clients.push({
      client_id: consoleId,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: op.redirectUris,
      ...(op.postLogoutRedirectUris ? { post_logout_redirect_uris: op.postLogoutRedirectUris } : {}),
      scope: 'openid profile email',
    });
  }
  const consoleOrigins = () => new Set((op?.redirectUris ?? []).map((u) => new URL(u).origin));
  const isConsole = (ctx: KoaContextWithOIDC) => op !== undefined && ctx.oidc.client?.clientId === consoleId;

  const provider = new Provider(issuer, {
    adapter: Adapter,
    clients,
    clientAuthMethods: ['private_key_jwt', 'client_secret_post', ...(op ? (['none'] as const) : [])],
    enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES384', 'ES512'] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      ...(op
        ? {
            resourceIndicators: {
              enabled: true,
              // The console need not name the admin API: it is the one resource it may ask for.
              defaultResource: (ctx: KoaContextWithOIDC, _client: unknown, oneOf?: readonly string[]) => (isConsole(ctx) ? resource : oneOf) as string | undefined,
              useGrantedResource: (ctx: KoaContextWithOIDC) => isConsole(ctx),
              getResourceServerInfo: (ctx: KoaContextWithOIDC, indicator: string) => {
                if (!isConsole(ctx) || indicator !== resource) throw new oidcErrors.InvalidTarget();
                return { scope: ADMIN_SCOPE, audience, accessTokenFormat: 'jwt' as const, accessTokenTTL: op.accessTokenTtlSeconds ?? 3600, jwt: { sign: { alg: 'RS256' as const } } };
              },
            },
          }
        : {}),
    },
    jwks: { keys: [{ ...signing, use: 'sig', alg: 'RS256', kid: 'local' }] },
    scopes: [...scopes],
    claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email', 'email_verified'] },
    ttl: {
      ClientCredentials: options.tokenTtlSeconds ?? 600,
      AccessToken: op?.accessTokenTtlSeconds ?? 3600,
      IdToken: 3600,
      AuthorizationCode: 60,
      Interaction: 600,
      // A working day: the operator logs in again the next morning.
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    ...(op
      ? {
          pkce: { required: () => true },
          // The provider's own error page (a bad redirect URI, an unknown client…), in our words and under our CSP.
          renderError: (ctx: KoaContextWithOIDC, out: { error?: string; error_description?: string }) => {
            ctx.type = 'html';
            for (const [k, v] of Object.entries(loginHeaders([]))) if (k !== 'content-type') ctx.set(k, v);
            ctx.body = messagePage(
              `La demande de connexion est refusée (${out.error ?? 'erreur'}${out.error_description ? ` : ${out.error_description}` : ''}).`,
              `The sign-in request is refused (${out.error ?? 'error'}${out.error_description ? `: ${out.error_description}` : ''}).`,
            );
          },
          // Only the console's own origin, and only for the console client.
          clientBasedCORS: (_ctx: KoaContextWithOIDC, origin: string, client: { clientId: string }) => client.clientId === consoleId && consoleOrigins().has(origin),
          findAccount: (_ctx: KoaContextWithOIDC, id: string) =>
            id === sub
              ? {
                  accountId: id,
                  claims: () => ({ sub: id, preferred_username: op.username, ...(op.email ? { email: op.email, email_verified: true } : {}) }),
                }
              : undefined,
          // The admin API reads the operator from the access token alone, as with Cognito's `username`.
          extraTokenClaims: (_ctx: KoaContextWithOIDC, token: { kind: string }) =>
            'accountId' in token && token.accountId === sub ? { username: op.username, ...(op.email ? { email: op.email } : {}) } : undefined,
          // The console is first-party: its consent is given once the operator has logged in.
          loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
            const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
            if (grantId) return ctx.oidc.provider.Grant.find(grantId);
            if (!isConsole(ctx) || !ctx.oidc.session?.accountId) return undefined;
            const grant = new ctx.oidc.provider.Grant({ clientId: consoleId, accountId: ctx.oidc.session.accountId });
            grant.addOIDCScope('openid profile email');
            grant.addResourceScope(resource, ADMIN_SCOPE);
            await grant.save();
            return grant;
          },
        }
      : {}),
  });
  // The default listener logs every client error to stderr; the tests and the dev console only need the HTTP answers.
  provider.on('server_error', () => undefined);
  const callback = provider.callback() as RequestListener;

  /** The login interaction; everything else is the provider's. */
  const interactions: RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const send = (status: number, body: string, headers: Record<string, string> = loginHeaders([...consoleOrigins()])) => {
      res.writeHead(status, headers).end(body);
    };
    if (url.pathname === '/assets/login.css') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, '', { allow: 'GET, HEAD' });
      return send(200, LOGIN_CSS, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
    }
    const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(url.pathname);
    if (!m) return callback(req, res);
    const [, uid, login] = m as unknown as [string, string, string | undefined];
    const handle = async () => {
      let details;
      try {
        details = await provider.interactionDetails(req, res);
      } catch {
        return send(400, messagePage('Cette connexion a expiré : rouvrez la console.', 'This sign-in has expired: open the console again.'));
      }
      if (details.uid !== uid) return send(400, messagePage('Cette connexion a expiré : rouvrez la console.', 'This sign-in has expired: open the console again.'));
      const prompt = details.prompt.name;
      if (!login) {
        if (req.method !== 'GET') return send(405, '', { allow: 'GET' });
        if (prompt === 'login') return send(200, loginPage(uid, '', false));
        if (prompt === 'consent' && details.params.client_id === consoleId && details.session?.accountId) {
          // A grant is normally created by loadExistingGrant; this covers a grant that lacks a scope.
          const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ clientId: consoleId, accountId: details.session.accountId });
          if (!grant) return send(400, messagePage('Cette connexion a expiré : rouvrez la console.', 'This sign-in has expired: open the console again.'));
          grant.addOIDCScope('openid profile email');
          grant.addResourceScope(resource, ADMIN_SCOPE);
          const grantId = await grant.save();
          return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        }
        return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'this client needs a consent this server does not ask for' }, { mergeWithLastSubmission: false });
      }
      if (req.method !== 'POST') return send(405, '', { allow: 'POST' });
      if (prompt !== 'login' || !op) return send(400, messagePage('Cette connexion a expiré : rouvrez la console.', 'This sign-in has expired: open the console again.'));
      const form = await readForm(req);
      const username = form?.get('username') ?? '';
      const password = form?.get('password') ?? '';
      // Both compared, always: the time does not tell which one was wrong.
      const userOk = constantTimeEqual(username, op.username);
      const passwordOk = constantTimeEqual(password, op.password);
      if (!(userOk && passwordOk)) return send(200, loginPage(uid, username.slice(0, 200), true));
      return provider.interactionFinished(req, res, { login: { accountId: op.username } }, { mergeWithLastSubmission: false });
    };
    handle().catch(() => {
      if (!res.headersSent) send(500, messagePage('Erreur interne.', 'Internal error.'));
    });
  };
  const routed = op ? interactions : callback;
  listener = options.wrap ? options.wrap(routed) : routed;

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    tokenRequests: () => count,
    register,
    addClientKey: async (clientId, publicKey) => {
      const spec = keyedClient(clientId);
      const keys = keysOf(spec);
      if (keys.some((k) => jwkId(k) === jwkId(publicKey))) return;
      await register({ ...spec, publicKey: [...keys, publicKey] });
    },
    removeClientKey: async (clientId, publicKey) => {
      const spec = keyedClient(clientId);
      const keys = keysOf(spec).filter((k) => jwkId(k) !== jwkId(publicKey));
      if (keys.length === 0) throw new Error(`client ${clientId} keeps at least one key`);
      await register({ ...spec, publicKey: keys });
    },
    ...(op && sub ? { operator: { sub, username: op.username, clientId: consoleId, audience, resource, scope: `openid profile email ${ADMIN_SCOPE}` } } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
