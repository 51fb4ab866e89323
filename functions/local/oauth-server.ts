import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';

/**
 * A standards-compliant OAuth2 server (oidc-provider) on loopback, configured for
 * client_credentials with private_key_jwt and client_secret_post: what the FLA and
 * PISTE token endpoints speak. The local broker's demo and the tests use it, so
 * assertions are checked by a real server rather than by our own code.
 */
export type OAuthClientSpec =
  | { client_id: string; auth: 'private_key_jwt'; publicKey: KeyObject; scope?: string }
  | { client_id: string; auth: 'client_secret_post'; client_secret: string; scope?: string };

export interface OAuthServer {
  issuer: string;
  tokenEndpoint: string;
  /** POSTs received on the token endpoint. */
  tokenRequests(): number;
  close(): Promise<void>;
}

export interface OAuthServerOptions {
  clients: OAuthClientSpec[];
  tokenTtlSeconds?: number;
  /** Wraps the provider's listener, e.g. to inject faults in front of it. */
  wrap?: (next: RequestListener) => RequestListener;
}

/** In-memory storage, so that the provider does not warn about its development adapter. */
const stores = new Map<string, Map<string, AdapterPayload>>();
class MemoryAdapter implements Adapter {
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
  async findByUid() {
    return undefined;
  }
  async consume(id: string) {
    const p = this.store.get(id);
    if (p) p.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string) {
    this.store.delete(id);
  }
  async revokeByGrantId() {}
}

function toClientMetadata(spec: OAuthClientSpec): ClientMetadata {
  const base: ClientMetadata = { client_id: spec.client_id, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], ...(spec.scope ? { scope: spec.scope } : {}) };
  if (spec.auth === 'client_secret_post') return { ...base, client_secret: spec.client_secret, token_endpoint_auth_method: 'client_secret_post' };
  const jwk = spec.publicKey.export({ format: 'jwk' });
  return { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } };
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
  const provider = new Provider(issuer, {
    adapter: MemoryAdapter,
    clients: options.clients.map(toClientMetadata),
    clientAuthMethods: ['private_key_jwt', 'client_secret_post'],
    enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES384', 'ES512'] },
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    jwks: { keys: [{ ...signing, use: 'sig', alg: 'RS256', kid: 'local' }] },
    scopes: [...scopes],
    ttl: { ClientCredentials: options.tokenTtlSeconds ?? 600 },
  });
  // The default listener logs every client error to stderr; the tests and the dev console only need the HTTP answers.
  provider.on('server_error', () => undefined);
  const callback = provider.callback() as RequestListener;
  listener = options.wrap ? options.wrap(callback) : callback;

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    tokenRequests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
