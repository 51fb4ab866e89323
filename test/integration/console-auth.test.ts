import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import { startLocalServer, type LocalServer, type OperatorAuth } from '../../functions/local/server.ts';
import { ADMIN_AUDIENCE, CONSOLE_CLIENT_ID, startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { ManualClock } from '../helpers/clock.ts';
import { tempSystem } from '../helpers/system.ts';
import { stopChild } from '../helpers/child.ts';

/**
 * The operator's login, offline: the loopback OpenID provider (oidc-provider) with its
 * operator account and the `sesame-console` public client, driven with plain fetch as
 * a browser would (authorization code + PKCE S256, the login form, the redirects), then
 * the admin API behind the local equivalent of API Gateway's JWT authorizer.
 */
const OPERATOR = { username: 'operateur', password: 'correct-horse-battery-staple', email: 'ops@sesame.example' };

let system: System;
let clock: ManualClock;
let cleanup: () => Promise<void>;
let server: LocalServer;
let op: OAuthServer;
/** Same operator and client, another issuer. */
let otherIssuer: OAuthServer;
/** Same issuer model, tokens for another API. */
let otherAudience: OAuthServer;
let otherAudienceServer: LocalServer;

const callbackOf = (s: LocalServer) => `${s.url}/console/callback`;
const authOf = (o: OAuthServer): OperatorAuth => ({ issuer: o.issuer, audience: ADMIN_AUDIENCE, clientId: CONSOLE_CLIENT_ID, scope: o.operator?.scope ?? 'openid' });

/** What a browser keeps between redirects: the provider's cookies, by name. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  keep(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

interface Started {
  as: oauth.AuthorizationServer;
  jar: CookieJar;
  verifier: string;
  state: string;
  nonce: string;
  /** The login page's address and answer. */
  loginUrl: URL;
  login: Response;
  html: string;
}

/** Discovery, then the authorization request with PKCE: the provider sends the browser to its login page. */
/** An OpenID provider as the console sees it: its issuer, and the scope the console asks for. */
interface Issuer {
  issuer: string;
  operator?: { scope: string };
}

async function startLogin(issuer: Issuer, redirectUri: string, extra: Record<string, string> = {}): Promise<Started> {
  const as = await oauth.processDiscoveryResponse(new URL(issuer.issuer), await oauth.discoveryRequest(new URL(issuer.issuer), { algorithm: 'oidc', [oauth.allowInsecureRequests]: true }));
  const jar = new CookieJar();
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint as string);
  url.search = new URLSearchParams({
    client_id: CONSOLE_CLIENT_ID,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: issuer.operator?.scope ?? 'openid',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  const res = await fetch(url, { redirect: 'manual' });
  jar.keep(res);
  expect(res.status).toBe(303);
  const loginUrl = new URL(res.headers.get('location') as string, issuer.issuer);
  const login = await fetch(loginUrl, { headers: { cookie: jar.header() }, redirect: 'manual' });
  jar.keep(login);
  return { as, jar, verifier, state, nonce, loginUrl, login, html: await login.text() };
}

/** Posts the login form as the page's own form would. */
async function postLogin(issuer: Issuer, s: Started, username: string, password: string): Promise<Response> {
  const action = /<form method="post" action="([^"]+)"/.exec(s.html)?.[1];
  expect(action).toBeDefined();
  const res = await fetch(new URL(action as string, issuer.issuer), {
    method: 'POST',
    headers: { cookie: s.jar.header(), 'content-type': 'application/x-www-form-urlencoded', origin: issuer.issuer },
    body: new URLSearchParams({ username, password }),
    redirect: 'manual',
  });
  s.jar.keep(res);
  return res;
}

/** Follows the provider's redirects until the browser would leave it for the console. */
async function followToCallback(issuer: Issuer, s: Started, first: Response, redirectUri: string): Promise<URL> {
  let res = first;
  for (let hops = 0; hops < 5; hops++) {
    expect(res.status).toBe(303);
    const next = new URL(res.headers.get('location') as string, issuer.issuer);
    if (next.href.startsWith(redirectUri)) return next;
    res = await fetch(next, { headers: { cookie: s.jar.header() }, redirect: 'manual' });
    s.jar.keep(res);
  }
  throw new Error('too many redirects');
}

/** The code for tokens at the token endpoint, as the console does it (from its origin). */
async function exchange(_issuer: Issuer, s: Started, callback: URL, redirectUri: string) {
  const client: oauth.Client = { client_id: CONSOLE_CLIENT_ID };
  const params = oauth.validateAuthResponse(s.as, client, callback, s.state);
  const res = await oauth.authorizationCodeGrantRequest(s.as, client, oauth.None(), params, redirectUri, s.verifier, {
    [oauth.allowInsecureRequests]: true,
    headers: { origin: new URL(redirectUri).origin },
  });
  const cors = res.headers.get('access-control-allow-origin');
  const tokens = await oauth.processAuthorizationCodeResponse(s.as, client, res, { expectedNonce: s.nonce, requireIdToken: true });
  return { tokens, cors };
}

/** The whole login: an access token for the admin API. */
async function logIn(issuer: Issuer, redirectUri: string, login: { username: string; password: string } = OPERATOR): Promise<string> {
  const s = await startLogin(issuer, redirectUri);
  const callback = await followToCallback(issuer, s, await postLogin(issuer, s, login.username, login.password), redirectUri);
  return (await exchange(issuer, s, callback, redirectUri)).tokens.access_token;
}

const me = (s: { url: string }, authorization?: string) => fetch(`${s.url}/v1/admin/me`, { headers: authorization ? { authorization } : {} });
/** A JSON answer, read as the test expects it. */
const json = async (res: Response): Promise<any> => res.json();
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  ({ system, cleanup } = await tempSystem({ clock }));
  // The broker first: the console's redirect URI is on its port.
  server = await startLocalServer(system);
  otherAudienceServer = await startLocalServer(system);
  op = await startOAuthServer({ clients: [], operator: { ...OPERATOR, redirectUris: [callbackOf(server)] } });
  otherIssuer = await startOAuthServer({ clients: [], operator: { ...OPERATOR, redirectUris: [callbackOf(server)] } });
  otherAudience = await startOAuthServer({ clients: [], operator: { ...OPERATOR, audience: 'another-api', redirectUris: [callbackOf(otherAudienceServer)] } });
  server.setOperatorAuth(authOf(op));
  otherAudienceServer.setOperatorAuth(authOf(otherAudience));
});

afterAll(async () => {
  for (const s of [server, otherAudienceServer, op, otherIssuer, otherAudience]) await s?.close();
  await cleanup?.();
});

describe('the operator logs in with the authorization code flow and PKCE', () => {
  it('logs in through the login page and calls the admin API with the access token', async () => {
    const redirectUri = callbackOf(server);
    const s = await startLogin(op, redirectUri);
    expect(s.login.status).toBe(200);

    const res = await postLogin(op, s, OPERATOR.username, OPERATOR.password);
    const callback = await followToCallback(op, s, res, redirectUri);
    expect(callback.searchParams.get('state')).toBe(s.state);
    expect(callback.searchParams.get('iss')).toBe(op.issuer);
    expect(callback.searchParams.get('code')).toMatch(/\S{20,}/);
    // The browser lands on the console, which finishes the login itself.
    const page = await fetch(callback);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);

    const { tokens, cors } = await exchange(op, s, callback, redirectUri);
    expect(cors).toBe(new URL(server.url).origin);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const claims = claimsOf(tokens.access_token);
    expect(claims).toMatchObject({ iss: op.issuer, aud: ADMIN_AUDIENCE, sub: OPERATOR.username, username: OPERATOR.username, email: OPERATOR.email, client_id: CONSOLE_CLIENT_ID });
    expect(JSON.parse(Buffer.from(tokens.access_token.split('.')[0] as string, 'base64url').toString('utf8'))).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });

    const answer = await me(server, `Bearer ${tokens.access_token}`);
    expect(answer.status).toBe(200);
    expect(await json(answer)).toEqual({ sub: OPERATOR.username, username: OPERATOR.username, email: OPERATOR.email });
  });

  it('shows a labelled bilingual login form, without script, under a strict CSP', async () => {
    const s = await startLogin(op, callbackOf(server));
    const csp = s.login.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/style-src 'self'/);
    // The form posts here; the redirects after it end on the console's origin.
    expect(csp).toContain(`form-action 'self' ${new URL(server.url).origin}`);
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    expect(s.login.headers.get('cache-control')).toBe('no-store');
    expect(s.html).not.toMatch(/<script|\son\w+=|style=/i);
    for (const id of ['username', 'password']) expect(s.html).toContain(`<label for="${id}">`);
    expect(s.html).toContain('id="username"');
    expect(s.html).toMatch(/Mot de passe/);
    expect(s.html).toMatch(/Password/);
    expect(s.html).toContain('<html lang="fr">');
    const css = await fetch(new URL('/assets/login.css', op.issuer));
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('refuses a wrong password with the form again, the username kept and the password never echoed', async () => {
    const redirectUri = callbackOf(server);
    const s = await startLogin(op, redirectUri);
    for (const [username, password] of [
      [OPERATOR.username, 'not-the-password-<b>'],
      ['someone-else', OPERATOR.password],
      ['', ''],
    ] as const) {
      const res = await postLogin(op, s, username, password);
      expect(res.status, `${username}/${password}`).toBe(200);
      expect(res.headers.get('location')).toBeNull();
      const html = await res.text();
      expect(html).toContain('role="alert"');
      expect(html).toMatch(/Wrong username or password/);
      expect(html).toMatch(/mot de passe incorrect/);
      if (password !== '') expect(html).not.toContain(password);
      expect(html).not.toContain(OPERATOR.password);
      expect(html).not.toContain('<b>');
    }
    // The same interaction still accepts the right password afterwards.
    const callback = await followToCallback(op, s, await postLogin(op, s, OPERATOR.username, OPERATOR.password), redirectUri);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it('requires PKCE: an authorization request without a code challenge is sent back with an error', async () => {
    const url = new URL(`${op.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, redirect_uri: callbackOf(server), response_type: 'code', scope: 'openid', state: 's1' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const back = new URL(res.headers.get('location') as string);
    expect(back.origin + back.pathname).toBe(callbackOf(server));
    expect(back.searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses a code exchanged with another verifier', async () => {
    const redirectUri = callbackOf(server);
    const s = await startLogin(op, redirectUri);
    const callback = await followToCallback(op, s, await postLogin(op, s, OPERATOR.username, OPERATOR.password), redirectUri);
    await expect(exchange(op, { ...s, verifier: oauth.generateRandomCodeVerifier() }, callback, redirectUri)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a redirect URI that is not the console callback', async () => {
    const url = new URL(`${op.issuer}/auth`);
    const verifier = oauth.generateRandomCodeVerifier();
    url.search = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      redirect_uri: 'http://127.0.0.1:1/elsewhere',
      response_type: 'code',
      scope: 'openid',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    // The provider's error page is ours: bilingual, under the same CSP as the login page.
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toMatch(/demande de connexion est refusée/);
    expect(html).toMatch(/sign-in request is refused \(invalid_redirect_uri/);
  });

  it('allows CORS on discovery, JWKS and token endpoints for the console origin only', async () => {
    const origin = new URL(server.url).origin;
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const res = await fetch(`${op.issuer}${path}`, { headers: { origin } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('access-control-allow-origin'), path).toMatch(new RegExp(`^(\\*|${origin.replace(/[.:/]/g, '\\$&')})$`));
    }
    const token = (o: string) =>
      fetch(`${op.issuer}/token`, {
        method: 'OPTIONS',
        headers: { origin: o, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const preflight = await token(origin);
    expect(preflight.status).toBeLessThan(300);
    // The actual POST is where the client is known: an exchange from another origin gets no CORS header.
    const stranger = await fetch(`${op.issuer}/token`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: callbackOf(server), client_id: CONSOLE_CLIENT_ID, code_verifier: 'x'.repeat(43) }),
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the admin API accepts only valid operator access tokens', () => {
  let valid: string;
  let fromOtherIssuer: string;
  let forOtherAudience: string;
  beforeAll(async () => {
    valid = await logIn(op, callbackOf(server));
    fromOtherIssuer = await logIn(otherIssuer, callbackOf(server));
    forOtherAudience = await logIn(otherAudience, callbackOf(otherAudienceServer));
  });

  const flip = (jwt: string, part: 1 | 2) => {
    const parts = jwt.split('.');
    const p = parts[part] as string;
    // A character in the middle: every one of its bits is significant.
    const i = Math.floor(p.length / 2);
    parts[part] = `${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}`;
    return parts.join('.');
  };

  it('answers 401 with a Bearer challenge, in problem+json, to every refused token', async () => {
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await new SignJWT({ username: OPERATOR.username, client_id: CONSOLE_CLIENT_ID })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'local' })
      .setIssuer(op.issuer)
      .setAudience(ADMIN_AUDIENCE)
      .setSubject(OPERATOR.username)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(attacker);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${valid.split('.')[1]}.`;
    const otherSub = valid.split('.');
    otherSub[1] = Buffer.from(JSON.stringify({ ...claimsOf(valid), sub: 'root' })).toString('base64url');
    const cases: [string, string | undefined][] = [
      ['no Authorization header', undefined],
      ['an empty bearer', 'Bearer '],
      ['another scheme', `Basic ${Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString('base64')}`],
      ['not a JWT', 'Bearer sesame_demo-app_notajwt'],
      ['a token from another issuer', `Bearer ${fromOtherIssuer}`],
      ['a token for another audience', `Bearer ${forOtherAudience}`],
      ['a tampered signature', `Bearer ${flip(valid, 2)}`],
      ['a tampered payload', `Bearer ${otherSub.join('.')}`],
      ['a token signed by another key under the same kid', `Bearer ${forged}`],
      ['an unsigned token (alg none)', `Bearer ${unsigned}`],
    ];
    for (const [label, authorization] of cases) {
      const res = await me(server, authorization);
      expect(res.status, label).toBe(401);
      expect(res.headers.get('content-type'), label).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate'), label).toMatch(/^Bearer realm="sesame-admin"/);
      const problem = await json(res);
      expect(problem.code, label).toBe('unauthorized');
      expect(JSON.stringify(problem), label).not.toContain(valid.split('.')[2]);
    }
    // The control: the same request with the valid token passes.
    expect((await me(server, `Bearer ${valid}`)).status).toBe(200);
  });

  it('accepts the other audience token where that audience is expected: the refusal above is the audience alone', async () => {
    expect(claimsOf(forOtherAudience).aud).toBe('another-api');
    expect((await me(otherAudienceServer, `Bearer ${forOtherAudience}`)).status).toBe(401);
    otherAudienceServer.setOperatorAuth({ ...authOf(otherAudience), audience: 'another-api' });
    try {
      expect((await me(otherAudienceServer, `Bearer ${forOtherAudience}`)).status).toBe(200);
    } finally {
      otherAudienceServer.setOperatorAuth(authOf(otherAudience));
    }
  });

  it('refuses a token once the clock passes its expiry, and not a second before', async () => {
    const exp = claimsOf(valid).exp as number;
    const saved = clock.now().toISOString();
    try {
      clock.set(new Date((exp - 1) * 1000).toISOString());
      expect((await me(server, `Bearer ${valid}`)).status).toBe(200);
      clock.set(new Date(exp * 1000).toISOString());
      const res = await me(server, `Bearer ${valid}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    } finally {
      clock.set(saved);
    }
    expect((await me(server, `Bearer ${valid}`)).status).toBe(200);
  });

  it('answers 401 on every admin route before the admin handler runs', async () => {
    for (const [method, path] of [
      ['GET', '/v1/admin/credentials'],
      ['GET', '/v1/admin/timeline'],
      ['GET', '/v1/admin/tenants'],
      ['POST', '/v1/admin/tenants'],
      ['PATCH', '/v1/admin/tenants/demo'],
      ['POST', '/v1/admin/apps'],
      ['GET', '/v1/admin/no-such-route'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(method === 'GET' ? {} : { body: '{}' }) });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it('takes admin bodies up to 256 KB and keeps the token API at 16 KB', async () => {
    const post = (path: string, bytes: number, token?: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ file_name: 'chain.p7b', content_base64: 'A'.repeat(bytes) }),
      });
    const upload = '/v1/admin/tenants/nobody/credentials/chorus-edi/certificate';
    // Through the transport to the admin API, which answers for the tenant, not for the size.
    const under = await post(upload, 200 * 1024, valid);
    expect(under.status).toBeGreaterThanOrEqual(400);
    expect(under.status).toBeLessThan(500);
    expect((await json(under)).code).not.toBe('payload_too_large');
    const over = await post(upload, 257 * 1024, valid);
    expect(over.status).toBe(413);
    expect((await json(over)).code).toBe('payload_too_large');
    const token = await post('/v1/tenants/acme/credentials/opco-atlas/token', 17 * 1024);
    expect(token.status).toBe(413);
  });
});

describe('the console is served by the broker', () => {
  it('tells the console where to log in', async () => {
    const res = await fetch(`${server.url}/console/config.json`);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ issuer: op.issuer, client_id: CONSOLE_CLIENT_ID, scope: op.operator?.scope });
  });

  it('serves the console page under a CSP that lets it reach the issuer', async () => {
    for (const path of ['/console', '/console/']) {
      const res = await fetch(`${server.url}${path}`, { redirect: 'manual' });
      expect([200, 301, 302, 308], path).toContain(res.status);
      if (res.status === 200) expect(res.headers.get('content-security-policy') ?? '', path).toContain(op.issuer);
    }
  });
});

describe('sesame dev', () => {
  const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sesame.js');

  async function dev(args: string[]) {
    const home = await mkdtemp(join(tmpdir(), 'sesame-console-dev-'));
    const child = spawn(process.execPath, [BIN, 'dev', '--port', '0', ...args], { env: { ...process.env, SESAME_HOME: home, POWERTOOLS_LOG_LEVEL: 'WARN' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()));
    const until = (done: (text: string) => boolean) =>
      new Promise<string>((resolve, reject) => {
        const check = () => (done(out) ? resolve(out) : undefined);
        child.stdout.on('data', check);
        child.on('exit', (code) => reject(new Error(`dev exited ${code}: ${out}`)));
        check();
      });
    // The folder goes once the process is gone: until then it may still write its outbox or audit trail.
    const stop = async () => {
      await stopChild(child);
      await rm(home, { recursive: true, force: true });
    };
    return { child, until, stop };
  }

  it('prints the console URL and the demo login with --json, and that login works', async () => {
    const d = await dev(['--json']);
    try {
      const info = JSON.parse((await d.until((t) => t.includes('\n'))).split('\n')[0] as string);
      expect(info.console).toEqual({ url: `${info.url}/console/`, username: 'operateur', password: expect.stringMatching(/^\S{12,}$/) });
      // The browser's way: the console's own configuration names the issuer.
      const config = await json(await fetch(`${info.url}/console/config.json`));
      expect(config).toMatchObject({ issuer: info.oauth_issuer, client_id: CONSOLE_CLIENT_ID });
      const token = await logIn({ issuer: config.issuer, operator: { scope: config.scope } }, `${info.url}/console/callback`, info.console);
      const answer = await me(info, `Bearer ${token}`);
      expect(answer.status).toBe(200);
      expect(await json(answer)).toMatchObject({ sub: 'operateur', username: 'operateur' });
      // The demo shows every state but a refusal: something expiring, something expired, a placeholder.
      const page = await json(await fetch(`${info.url}/v1/admin/credentials?limit=100`, { headers: { authorization: `Bearer ${token}` } }));
      const status = (t: string, c: string) => page.items.find((i: { tenant: string; credential: string }) => i.tenant === t && i.credential === c)?.status;
      expect(status('demo-cfa-lyon', 'opco-akto')).toBe('expiring');
      expect(status('demo-cfa-lyon', 'opco-afdas')).toBe('expired');
      expect(status('demo-cfa-lyon', 'chorus-edi')).toBe('incomplete');
      expect(status('demo-cfa-paris', 'opco-atlas')).toBe('ok');
    } finally {
      await d.stop();
    }
  });

  it('prints the console URL and the login in its human output, also with --no-demo', async () => {
    const d = await dev(['--no-demo']);
    try {
      const out = await d.until((t) => t.includes('Press Ctrl-C'));
      const url = /Operator console: (http:\/\/127\.0\.0\.1:\d+\/console\/)/.exec(out)?.[1];
      const login = /log in as (\S+) with password (\S+)/.exec(out);
      expect(url).toBeDefined();
      expect(login?.[1]).toBe('operateur');
      const page = await fetch(url as string);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    } finally {
      await d.stop();
    }
  });
});
