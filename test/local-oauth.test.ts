import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_RESOURCE, CONSOLE_CLIENT_ID, constantTimeEqual, startOAuthServer, type OAuthServer } from '../functions/local/oauth-server.ts';

/**
 * The loopback OpenID provider with an operator account: the demo's client_credentials
 * clients work as before beside it, and only the console client gets admin API tokens.
 */
const secret = randomBytes(18).toString('base64url');
let oauth: OAuthServer;

beforeAll(async () => {
  oauth = await startOAuthServer({
    clients: [{ client_id: 'piste-client', auth: 'client_secret_post', client_secret: secret, scope: 'openid' }],
    operator: { username: 'operateur', password: randomBytes(12).toString('base64url'), redirectUris: ['http://127.0.0.1:1/console/callback'] },
  });
});
afterAll(() => oauth?.close());

const json = async (res: Response): Promise<any> => res.json();
const token = (params: Record<string, string>) =>
  fetch(oauth.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });

describe('the loopback OpenID provider with an operator', () => {
  it('still serves client_credentials tokens to the demo clients, opaque as before', async () => {
    const res = await token({ grant_type: 'client_credentials', client_id: 'piste-client', client_secret: secret, scope: 'openid' });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.token_type).toBe('Bearer');
    expect(body.access_token.split('.')).toHaveLength(1);
  });

  it('gives admin API tokens to the console client only', async () => {
    const res = await token({ grant_type: 'client_credentials', client_id: 'piste-client', client_secret: secret, resource: ADMIN_RESOURCE });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid_target');
    const consoleCc = await token({ grant_type: 'client_credentials', client_id: CONSOLE_CLIENT_ID });
    expect(consoleCc.status).toBe(400);
    expect((await json(consoleCc)).error_description).toMatch(/grant type is not allowed/);
  });

  it('publishes what the console needs in its discovery document', async () => {
    const doc = await json(await fetch(`${oauth.issuer}/.well-known/openid-configuration`));
    expect(doc).toMatchObject({ issuer: oauth.issuer, code_challenge_methods_supported: ['S256'], authorization_endpoint: `${oauth.issuer}/auth`, jwks_uri: `${oauth.issuer}/jwks` });
    expect(doc.token_endpoint_auth_methods_supported).toContain('none');
    expect(oauth.operator).toMatchObject({ sub: 'operateur', clientId: CONSOLE_CLIENT_ID, audience: 'sesame-admin', resource: ADMIN_RESOURCE });
  });

  it('answers an interaction without its cookie with a bilingual page, not a login form', async () => {
    for (const [method, path] of [
      ['GET', '/interaction/abc'],
      ['POST', '/interaction/abc/login'],
    ] as const) {
      const res = await fetch(`${oauth.issuer}${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' } : {}) });
      expect(res.status, path).toBe(400);
      const html = await res.text();
      expect(html).toMatch(/expiré/);
      expect(html).toMatch(/expired/);
      expect(html).not.toContain('<form');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
  });
});

describe('constantTimeEqual', () => {
  it.each([
    ['same', 'same', true],
    ['same', 'Same', false],
    ['short', 'a much longer string', false],
    ['', '', true],
    ['', 'x', false],
    ['é', 'é', true],
  ])('%j and %j are equal: %s', (a, b, equal) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
  });
});
