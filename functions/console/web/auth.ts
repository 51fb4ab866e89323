import * as oauth from 'oauth4webapi';

/** What `/console/config.json` says: the operators' OpenID Connect issuer and the console's public client. */
export interface ConsoleConfig {
  issuer: string;
  client_id: string;
  scope: string;
  resource?: string;
}

const TOKEN = 'sesame.console.token';
const PENDING = 'sesame.console.pending';

interface StoredToken {
  access_token: string;
  /** Epoch milliseconds; 0 when the issuer did not say. */
  expires_at: number;
}

interface Pending {
  state: string;
  verifier: string;
  nonce: string;
  /** The console route to come back to. */
  back: string;
}

export const redirectUri = () => `${location.origin}/console/callback`;

let config: ConsoleConfig | undefined;
let server: oauth.AuthorizationServer | undefined;

export async function loadConfig(): Promise<ConsoleConfig> {
  if (config) return config;
  const res = await fetch('/console/config.json', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`/console/config.json: HTTP ${res.status}`);
  config = (await res.json()) as ConsoleConfig;
  return config;
}

/** Plain HTTP only for an issuer on this machine (the local `sesame dev` server). */
function loopback(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function options(issuer: URL): { [oauth.allowInsecureRequests]?: boolean } {
  return loopback(issuer) ? { [oauth.allowInsecureRequests]: true } : {};
}

async function authorizationServer(cfg: ConsoleConfig): Promise<oauth.AuthorizationServer> {
  if (server) return server;
  const issuer = new URL(cfg.issuer);
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...options(issuer) });
  server = await oauth.processDiscoveryResponse(issuer, res);
  return server;
}

export function accessToken(): string | undefined {
  const raw = sessionStorage.getItem(TOKEN);
  if (!raw) return undefined;
  try {
    const t = JSON.parse(raw) as StoredToken;
    if (t.expires_at !== 0 && t.expires_at <= Date.now() + 5_000) {
      sessionStorage.removeItem(TOKEN);
      return undefined;
    }
    return t.access_token;
  } catch {
    sessionStorage.removeItem(TOKEN);
    return undefined;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(PENDING);
}

let signingIn: Promise<never> | undefined;

/**
 * Sends the browser to the issuer's login page (authorization code + PKCE S256). Once:
 * several calls refused at once (401) would each store their own state and verifier,
 * the last overwriting the one the issuer will send back.
 */
export function signIn(back: string): Promise<never> {
  signingIn ??= startSignIn(back).catch((err: unknown) => {
    signingIn = undefined;
    throw err;
  });
  return signingIn;
}

async function startSignIn(back: string): Promise<never> {
  const cfg = await loadConfig();
  const as = await authorizationServer(cfg);
  if (!as.authorization_endpoint) throw new Error('the issuer has no authorization endpoint');
  const pending: Pending = {
    state: oauth.generateRandomState(),
    verifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
    back,
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', cfg.client_id);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', cfg.scope);
  url.searchParams.set('state', pending.state);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(pending.verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  if (cfg.scope.split(' ').includes('openid')) url.searchParams.set('nonce', pending.nonce);
  if (cfg.resource) url.searchParams.set('resource', cfg.resource);
  location.assign(url.href);
  return new Promise<never>(() => {});
}

/** Ends the login on /console/callback: checks state, exchanges the code, keeps the access token. Returns the route to go back to. */
export async function completeSignIn(current: URL): Promise<string> {
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (!raw) throw new Error('no login in progress');
  const pending = JSON.parse(raw) as Pending;
  const cfg = await loadConfig();
  const as = await authorizationServer(cfg);
  const client: oauth.Client = { client_id: cfg.client_id };
  const params = oauth.validateAuthResponse(as, client, current, pending.state);
  const issuer = new URL(cfg.issuer);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), pending.verifier, {
    ...options(issuer),
    ...(cfg.resource ? { additionalParameters: { resource: cfg.resource } } : {}),
  });
  const openid = cfg.scope.split(' ').includes('openid');
  const result = await oauth.processAuthorizationCodeResponse(as, client, res, openid ? { expectedNonce: pending.nonce, requireIdToken: true } : {});
  const stored: StoredToken = {
    access_token: result.access_token,
    expires_at: typeof result.expires_in === 'number' ? Date.now() + result.expires_in * 1000 : 0,
  };
  sessionStorage.setItem(TOKEN, JSON.stringify(stored));
  return pending.back;
}
