import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { linkHash } from '../../functions/core/connect.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { ManualClock } from '../helpers/clock.ts';
import { keyPair } from '../helpers/keys.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { chorusChain, p7b } from '../helpers/pki.ts';

/**
 * Connect links over HTTP against the local broker: a client's administrator opens the
 * link, reads the steps, hands the credential over; FLA and PISTE are checked against a
 * real OAuth2 server on loopback before anything is stored.
 */
const clock = new ManualClock(Date.now());
const oldFla = keyPair('rsa2048');
const secrets = {
  atlas: `atlas-${randomBytes(12).toString('hex')}`,
  ocapiat: `ocapiat-${randomBytes(12).toString('hex')}`,
  cegidOld: `cegid-old-${randomBytes(12).toString('hex')}`,
  cegid: `cegid-${randomBytes(12).toString('hex')}`,
  pisteSecret: `piste-${randomBytes(12).toString('hex')}`,
  password: `pw-${randomBytes(12).toString('hex')}`,
};
const PUBLIC = 'https://sesame.example';

let home: string;
let log: MemoryLog;
let system: System;
let server: LocalServer;
let oauth: OAuthServer;
const bodies: string[] = [];
const tokens: string[] = [];

async function link(credential: string, options: { tenant?: string; fields?: string[]; valid?: string } = {}) {
  const created = await (system.connect as NonNullable<System['connect']>).create({ tenant: options.tenant ?? 'cfa-paris', credential, createdBy: 'operator-sub', ...(options.fields ? { fields: options.fields } : {}), ...(options.valid ? { valid: options.valid } : {}) });
  expect(created.url.startsWith(`${PUBLIC}/connect/`)).toBe(true);
  const path = new URL(created.url).pathname;
  tokens.push(path.slice('/connect/'.length));
  return path;
}

async function http(path: string, init: RequestInit = {}) {
  const res = await fetch(`${server.url}${path}`, { redirect: 'manual', ...init });
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  bodies.push(text);
  return { status: res.status, headers: res.headers, text, buf };
}

const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  http(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });

async function upload(path: string, name: string, bytes: Uint8Array) {
  const form = new FormData();
  form.append('certificate', new Blob([bytes]), name);
  return http(path, { method: 'POST', body: form });
}

const outbox = async () => Promise.all((await readdir(join(home, 'outbox')).catch(() => [] as string[])).sort().map(async (f) => JSON.parse(await readFile(join(home, 'outbox', f), 'utf8')) as { subject: string; message: string; attributes: { severity: string } }));

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-connect-'));
  log = new MemoryLog();
  oauth = await startOAuthServer({
    clients: [
      { client_id: 'self_service_chaman_old', auth: 'private_key_jwt', publicKey: oldFla.publicKey },
      { client_id: 'piste-client', auth: 'client_secret_post', client_secret: secrets.pisteSecret, scope: 'openid' },
    ],
  });
  system = buildSystem({
    store: new LocalSecretStore(home, randomBytes(32), clock),
    state: new LocalStateStore(home, clock),
    objects: new LocalObjectStore(home),
    notifier: new OutboxNotifier(home, clock, log),
    log,
    clock,
    version: 'test',
    broker: { retry: { timeoutMs: 2_000, attempts: 1, minDelayMs: 1, maxDelayMs: 5 } },
    integrator: { name: 'Logiciel Formation SA', editeur: 'LFSA', logiciel: 'Formatio', version: '4.2' },
    publicUrl: PUBLIC,
  });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  await system.tenants.put({ id: 'acme-be', name: 'Acme Belgium' });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'cegid-cfe', fields: { api_key_id: 'old-id', api_key_secret: secrets.cegidOld } });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-piste', environment: 'sandbox', fields: { client_id: 'piste-client', client_secret: secrets.pisteSecret, account_login: 'OLD', account_password: 'old-password', token_endpoint: oauth.tokenEndpoint } });
  await system.credentials.set({ tenant: 'acme-be', credential: 'fla-employer', environment: 'acceptance', fields: { client_id: 'self_service_chaman_old', private_key: oldFla.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint } });
  server = await startLocalServer(system);
});

afterAll(async () => {
  await server?.close();
  await oauth?.close();
  await rm(home, { recursive: true, force: true });
});

describe('an OPCO key handed over on a connect link', () => {
  it('shows the platform steps and a form for the key only, under a strict CSP, in French and English', async () => {
    const path = await link('opco-atlas');
    const fr = await http(path);
    expect(fr.status).toBe(200);
    expect(fr.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(fr.headers.get('referrer-policy')).toBe('no-referrer');
    expect(fr.headers.get('cache-control')).toBe('no-store');
    expect(fr.text).toContain('<html lang="fr">');
    expect(fr.text).toContain('myAtlas prestataire');
    expect(fr.text).toContain('Logiciel Formation SA');
    expect(fr.text).toContain('CFA Paris');
    expect(fr.text).toContain('<label for="f-cfa_key">');
    expect(fr.text).toContain('name="cfa_key" type="password"');
    expect(fr.text).not.toMatch(/name="(editeur|logiciel|version)"/);
    expect(fr.text).not.toContain('<script');
    expect(fr.text).toContain('href="?lang=en"');
    const en = await http(path, { headers: { 'accept-language': 'en-GB,en;q=0.9,fr;q=0.5' } });
    expect(en.text).toContain('<html lang="en">');
    expect(en.text).toContain('Sign in to the myAtlas online services');
    expect((await http(`${path}?lang=fr`, { headers: { 'accept-language': 'en' } })).text).toContain('<html lang="fr">');
    const css = await http('/connect/assets/connect.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toContain('text/css');
  });

  it('stores the key with the integrator headers from the configuration, tells the operator, and refuses a second submission', async () => {
    const path = await link('opco-atlas');
    const done = await post(path, { cfa_key: secrets.atlas, editeur: 'INJECTED' });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Merci, c’est enregistré');
    const cred = await system.credentials.get('cfa-paris', 'opco-atlas');
    expect(cred.fields).toMatchObject({ cfa_key: secrets.atlas, editeur: 'LFSA', logiciel: 'Formatio', version: '4.2' });
    const note = (await outbox()).find((n) => n.subject.includes('cfa-paris/opco-atlas'));
    expect(note?.attributes.severity).toBe('info');
    expect(note?.message).toContain('opco-atlas');
    const again = await post(path, { cfa_key: 'another' });
    expect(again.status).toBe(404);
    expect((await system.credentials.get('cfa-paris', 'opco-atlas')).fields).toMatchObject({ cfa_key: secrets.atlas });
    expect((await http(path)).status).toBe(404);
  });

  it('answers unknown, used and expired links with the very same page and status', async () => {
    const used = await link('opco-afdas');
    expect((await post(used, { cfa_key: 'afdas-key-1' })).status).toBe(200);
    const expiring = await link('opco-akto', { valid: '1h' });
    const unknown = `/connect/${randomBytes(32).toString('base64url')}`;
    const a = await http(unknown);
    const b = await http(used);
    clock.advance(3_601_000);
    const c = await http(expiring);
    const d = await http('/connect/not-a-token');
    for (const r of [a, b, c, d]) {
      expect(r.status).toBe(404);
      expect(r.text).toBe(a.text);
      expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
    expect((await post(expiring, { cfa_key: 'late' })).status).toBe(404);
  });

  it('lets only one of two simultaneous submissions win', async () => {
    const path = await link('opco-opcommerce');
    const [x, y] = await Promise.all([post(path, { cfa_key: 'first-key-aaaa' }), post(path, { cfa_key: 'second-key-bbbb' })]);
    expect([x.status, y.status].sort()).toEqual([200, 404]);
    const stored = await system.store.get('sesame/cfa-paris/opco-opcommerce');
    expect(stored && (await system.store.getPrevious('sesame/cfa-paris/opco-opcommerce'))).toBeUndefined();
    const winner = x.status === 200 ? 'first-key-aaaa' : 'second-key-bbbb';
    expect((await system.credentials.get('cfa-paris', 'opco-opcommerce')).fields).toMatchObject({ cfa_key: winner });
  });

  it('asks Ocapiat for the lifetime chosen (6 months at most) and derives the end of validity', async () => {
    const path = await link('opco-ocapiat');
    const page = await http(path);
    expect(page.text).toContain('Interfaçage OCAPIAT');
    expect(page.text).toContain('name="lifetime_months" type="number"');
    const tooLong = await post(path, { cfa_key: secrets.ocapiat, lifetime_months: '7' });
    expect(tooLong.status).toBe(422);
    expect(tooLong.text).toContain('class="error"');
    const ok = await post(path, { cfa_key: secrets.ocapiat, lifetime_months: '6' });
    expect(ok.status).toBe(200);
    const summary = (await system.credentials.list('cfa-paris')).find((c) => c.credential === 'opco-ocapiat');
    const months = (Date.parse(summary?.expires_at ?? '') - clock.now().getTime()) / 86_400_000;
    expect(months).toBeGreaterThan(180);
    expect(months).toBeLessThan(185);
  });

  it('throttles a link after 10 submissions in an hour', async () => {
    const path = await link('opco-sante');
    for (let i = 0; i < 10; i++) expect((await post(path, { cfa_key: '' })).status).toBe(422);
    const limited = await post(path, { cfa_key: 'right-now' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    clock.advance(3_600_000);
    expect((await post(path, { cfa_key: 'an-hour-later' })).status).toBe(200);
  });
});

describe('Cegid File Exchange on a connect link', () => {
  it('warns that Cegid shows the key once, stores a new version and keeps the previous one', async () => {
    const path = await link('cegid-cfe');
    const page = await http(path, { headers: { 'accept-language': 'en' } });
    expect(page.text).toContain('Cegid shows the key and its secret only once');
    expect(page.text).toContain('name="api_key_id"');
    expect(page.text).toContain('name="api_key_secret" type="password"');
    expect(page.text).not.toContain('old-id');
    expect((await post(path, { api_key_id: 'new-id', api_key_secret: secrets.cegid })).status).toBe(200);
    expect((await system.credentials.get('cfa-paris', 'cegid-cfe')).fields).toMatchObject({ api_key_id: 'new-id', api_key_secret: secrets.cegid });
    const previous = (await system.store.getPrevious('sesame/cfa-paris/cegid-cfe'))?.value as { fields: { api_key_id: string } };
    expect(previous.fields.api_key_id).toBe('old-id');
  });
});

describe('Chorus Pro PISTE on a connect link', () => {
  it('asks the fields the operator chose, obtains a token before storing, and refuses what PISTE refuses', async () => {
    const path = await link('chorus-piste', { fields: ['account_login', 'account_password', 'client_secret'] });
    const page = await http(path);
    expect(page.text).toContain('name="account_login"');
    expect(page.text).toContain('name="account_password" type="password"');
    expect(page.text).not.toContain('name="client_id"');
    const before = await system.store.get('sesame/cfa-paris/chorus-piste');
    const refused = await post(path, { account_login: 'TECH', account_password: secrets.password, client_secret: 'wrong-secret' });
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('Rien n’a été enregistré');
    expect((await system.store.get('sesame/cfa-paris/chorus-piste'))?.version).toBe(before?.version);
    const ok = await post(path, { account_login: 'TECH', account_password: secrets.password, client_secret: secrets.pisteSecret });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('Sesame a obtenu un jeton');
    const fields = (await system.credentials.get('cfa-paris', 'chorus-piste')).fields as Record<string, string>;
    expect(fields).toMatchObject({ account_login: 'TECH', account_password: secrets.password, client_id: 'piste-client', token_endpoint: oauth.tokenEndpoint });
    expect(fields.password_changed_at).toBe(clock.now().toISOString());
  });
});

describe('Chorus Pro EDI on a connect link', () => {
  it('judges the file with the intake, shows the report, changes nothing on a refusal and stays usable', async () => {
    const path = await link('chorus-edi');
    const page = await http(path);
    expect(page.text).toContain('enctype="multipart/form-data"');
    expect(page.text).toContain('name="certificate" type="file"');
    const before = await system.store.get('sesame/cfa-paris/chorus-edi');
    const now = clock.now();
    const person = await chorusChain({ subject: 'CN=Jean Dupont, 2.5.4.42=Jean, 2.5.4.4=Dupont, O=CFA Paris, C=FR', notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 365 * 86_400_000) });
    const refused = await upload(path, 'person.p7b', p7b([person.leaf, person.inter, person.root]));
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('Rapport de vérification');
    expect(refused.text).toContain('Refusé parce que');
    expect((await system.store.get('sesame/cfa-paris/chorus-edi'))?.version).toBe(before?.version);
    const garbage = await upload(path, 'notes.txt', new TextEncoder().encode('not a certificate at all'));
    expect(garbage.status).toBe(422);
    expect((await http(path)).status).toBe(200);
    const good = await chorusChain({ notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 365 * 86_400_000) });
    const ok = await upload(path, 'edi.p7b', p7b([good.leaf, good.inter, good.root]));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('Le certificat respecte les règles');
    const fields = (await system.credentials.get('cfa-paris', 'chorus-edi')).fields as { certificate_sha256: string };
    expect(fields.certificate_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await upload(path, 'edi.p7b', p7b([good.leaf, good.inter, good.root]))).status).toBe(404);
  });
});

describe('FLA on a connect link', () => {
  it('generates the key pair, offers the .cer, and stores the client id once a token is obtained with it', async () => {
    const path = await link('fla-employer', { tenant: 'acme-be' });
    const page = await http(path);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Chaman');
    expect(page.text).toContain(`href="${path}/certificate.cer"`);
    expect(page.text).toContain('name="client_id"');
    expect(page.text).not.toContain('name="quality"');
    expect(page.text).not.toContain('self_service_chaman_old');
    const cer = await http(`${path}/certificate.cer`);
    expect(cer.status).toBe(200);
    expect(cer.headers.get('content-type')).toBe('application/pkix-cert');
    expect(cer.headers.get('content-disposition')).toContain('acme-be-fla-employer.cer');
    const cert = new X509Certificate(cer.buf);
    expect(cert.subject).toContain('Acme Belgium');
    // The same pair on every open: the link stays usable across both steps.
    expect((await http(`${path}/certificate.cer`)).buf.equals(cer.buf)).toBe(true);
    expect(cer.text).not.toContain('PRIVATE');

    // Not registered in Chaman yet: the token endpoint refuses, nothing is stored.
    const early = await post(path, { client_id: 'self_service_chaman_new' });
    expect(early.status).toBe(422);
    expect((await system.credentials.get('acme-be', 'fla-employer')).fields).toMatchObject({ client_id: 'self_service_chaman_old' });

    // "Chaman": the .cer's public key becomes a private_key_jwt client.
    await oauth.register({ client_id: 'self_service_chaman_new', auth: 'private_key_jwt', publicKey: cert.publicKey });
    const ok = await post(path, { client_id: 'self_service_chaman_new' });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('Sesame a obtenu un jeton');
    const cred = await system.credentials.get('acme-be', 'fla-employer');
    const fields = cred.fields as Record<string, string>;
    expect(fields).toMatchObject({ client_id: 'self_service_chaman_new', quality: 'employer', token_endpoint: oauth.tokenEndpoint, alg: 'RS256' });
    expect(fields.private_key).not.toBe(oldFla.pem);
    expect(new X509Certificate(fields.certificate as string).fingerprint256).toBe(cert.fingerprint256);
    expect(cred.environment).toBe('acceptance');
    // The broker now vends tokens with the new key.
    const vended = await system.broker.token({ app: 't', tenants: new Set(['acme-be']), kinds: undefined }, 'acme-be', 'fla-employer');
    expect(vended.access_token).toBeTruthy();
    expect((await http(`${path}/certificate.cer`)).status).toBe(404);
    // The pending copy of the key is emptied.
    // The pending copy is destroyed, every version of it: the credential alone holds the key.
    expect(await system.store.get(`sesame-connect/${linkHash(path.slice(9))}`)).toBeUndefined();
    expect(await system.store.getPrevious(`sesame-connect/${linkHash(path.slice(9))}`)).toBeUndefined();
  });

  it('asks the capacity when no credential tells it', async () => {
    const path = await link('fla-provider', { tenant: 'acme-be' });
    const page = await http(path, { headers: { 'accept-language': 'en' } });
    expect(page.text).toContain('name="quality"');
    expect(page.text).toContain('Training provider');
  });
});

describe('secrets', () => {
  it('never appear in a response, a log line or the state records, nor do link tokens in logs', async () => {
    const all = bodies.join('\n');
    for (const s of Object.values(secrets)) expect(all).not.toContain(s);
    const logs = log.lines.join('\n');
    for (const s of Object.values(secrets)) expect(logs).not.toContain(s);
    for (const t of tokens) expect(logs).not.toContain(t);
    expect(logs).not.toContain('PRIVATE KEY');
    const state = await readdir(join(home, 'state'), { recursive: true });
    const text = (await Promise.all(state.map((f) => readFile(join(home, 'state', f), 'utf8').catch(() => '')))).join('\n');
    for (const t of tokens) expect(text).not.toContain(t);
    for (const s of Object.values(secrets)) expect(text).not.toContain(s);
    expect(text).toContain(linkHash(tokens[0] as string));
  });
});
