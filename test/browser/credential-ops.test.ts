import { createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import { buildConsole } from '../../functions/console/build.ts';
import type { FlaFields } from '../../functions/core/platforms/fla.ts';
import { flaKeyPair } from '../../functions/core/rotation.ts';
import { demoOperator } from '../../functions/local/demo.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { tempSystem } from '../helpers/system.ts';
import { launchChromium } from './chromium.ts';

/**
 * The credential page's "Check" and "Key rotation" sections in Debian's headless
 * Chromium, against the local broker, the loopback OpenID provider for the operator's
 * login, and a second loopback OAuth server standing in for the FLA token endpoint,
 * where a certificate is "registered in Chaman" by adding its public key to the client.
 * The operator checks an FLA credential, rotates its key from the page (the .cer file
 * downloaded from the page is what gets registered), is refused while the certificate is
 * unknown, and retires the old key; an OPCO credential says it cannot be checked, another
 * answers its end of validity. No page, admin answer or console message may hold a
 * private key, a CFA key or a token the platform issued.
 */
// The page's own globals, as the callbacks given to page.evaluate see them (the Node project has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, getComputedStyle: any;

const SHOTS = process.env.SESAME_CONSOLE_SHOTS; // a folder: screenshots of every page, for a person to look at

const TENANT = 'cfa-rotation';
const FLA = 'fla-employer';
const CLIENT_ID = 'self_service_chaman_rotation';
const OPCO_UNCHECKABLE = 'opco-atlas';
const OPCO_CHECKED = 'opco-akto';
/** What the loopback OPCO answers as the key's end of validity. */
const OPCO_END = '2027-03-31';
const AKTO_KEY = `akto-${randomBytes(16).toString('hex')}`;
const ATLAS_KEY = `atlas-${randomBytes(16).toString('hex')}`;

let system: System;
let cleanup: () => Promise<void>;
let server: LocalServer;
let idp: OAuthServer;
let chaman: OAuthServer;
let opco: Server;
let consoleDir: string;
let login: { username: string; password: string };
let chromium: { browser: Browser; close(): Promise<void> };
let context: BrowserContext;
let page: Page;
let base: string;
/** Every private key held during the test (each PEM line too), the CFA keys, the operator's password. */
const secrets = new Set<string>();
/** Every access token the FLA token endpoint issued. */
const tokens: string[] = [];
const seen: { label: string; text: string }[] = [];
const consoleMessages: string[] = [];
/** The certificate downloaded from the page, and the key it holds. */
let downloaded: X509Certificate;

function addSecretPem(pem: string): void {
  secrets.add(pem);
  for (const line of pem.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) secrets.add(line);
}

/** The keys the store holds now (active, next, previous), as secrets the pages must never show. */
async function collectKeys(): Promise<FlaFields> {
  const f = (await system.credentials.get(TENANT, FLA)).fields as FlaFields;
  for (const k of [f.private_key, f.next?.private_key, f.previous?.private_key]) if (k) addSecretPem(k);
  return f;
}

const sha = (cert: X509Certificate) => cert.fingerprint256.replace(/:/g, '').toLowerCase();

async function keep(label: string): Promise<void> {
  const html = await page.content();
  const text = await page.evaluate(() => document.body.innerText);
  seen.push({ label, text: `${html}\n${text}` });
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `credential-ops-${label}.png`), fullPage: true });
}

const heading = () => page.getByRole('heading', { level: 1 });
const checkSection = () => page.getByRole('region', { name: /^(Check|Vérification)$/ });
const rotation = () => page.getByRole('region', { name: /^(Key rotation|Rotation de clé)$/ });
const keyRow = (role: string) => rotation().locator('tbody tr').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${role}`) }) });
const outcome = () => rotation().locator('.rotation-outcome');
/** What a person reads there, spaces folded. */
const words = async (l: { innerText(): Promise<string> }) => (await l.innerText()).replace(/\s+/g, ' ').trim();

async function openCredential(credential: string): Promise<void> {
  await page.goto(`${base}/console/#/credentials/${TENANT}/${credential}`);
  await page.reload();
  await checkSection().waitFor();
}

async function logIn(p: Page): Promise<void> {
  await p.goto(`${base}/console/`);
  await p.waitForURL((u) => !u.href.startsWith(base));
  await p.getByLabel(/Username/).fill(login.username);
  await p.getByLabel(/Password/).fill(login.password);
  await p.getByRole('button', { name: /Sign in/ }).click();
  await p.waitForURL(`${base}/console/#/`);
}

/** A loopback OPCO key-information endpoint: the key's end of validity for the right key, 401 otherwise. */
async function startOpco(): Promise<Server> {
  const s = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/v2/cfakeyinfo') return void res.writeHead(404).end();
    if (req.headers['x-api-key'] !== AKTO_KEY) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"invalid key"}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ siren: url.searchParams.get('siren'), dateFinValidite: OPCO_END }));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return s;
}

beforeAll(async () => {
  if (SHOTS) await mkdir(SHOTS, { recursive: true });
  consoleDir = await buildConsole(await mkdtemp(join(tmpdir(), 'sesame-console-')));
  ({ system, cleanup } = await tempSystem());
  server = await startLocalServer(system, { consoleDir });
  base = server.url;
  const operator = demoOperator(base);
  login = { username: operator.username, password: operator.password };
  idp = await startOAuthServer({ clients: [], operator });
  const op = idp.operator as NonNullable<typeof idp.operator>;
  server.setOperatorAuth({ issuer: idp.issuer, audience: op.audience, clientId: op.clientId, scope: op.scope });

  await system.tenants.put({ id: TENANT, name: 'CFA Rotation Navigateur', siret: '12345678200010', bce: '0123456749', alert_emails: ['alertes@cfa-rotation.example'] });
  const active = await flaKeyPair(await system.tenants.get(TENANT), { type: 'rsa', bits: 2048 }, new Date(), 365);
  chaman = await startOAuthServer({
    clients: [{ client_id: CLIENT_ID, auth: 'private_key_jwt', publicKey: createPublicKey(active.privateKeyPem) }],
    // Keeps every access token issued, to prove none reaches a page.
    wrap: (next) => (req, res) => {
      const end = res.end.bind(res) as (...a: unknown[]) => typeof res;
      res.end = ((...args: unknown[]) => {
        const body = args[0];
        if (typeof body === 'string' || Buffer.isBuffer(body)) {
          const m = /"access_token":"([^"]+)"/.exec(body.toString());
          if (m?.[1]) tokens.push(m[1]);
        }
        return end(...args);
      }) as typeof res.end;
      next(req, res);
    },
  });
  await system.credentials.set({
    tenant: TENANT,
    credential: FLA,
    environment: 'acceptance',
    fields: { client_id: CLIENT_ID, private_key: active.privateKeyPem, certificate: active.pem, quality: 'employer', token_endpoint: chaman.tokenEndpoint },
  });
  opco = await startOpco();
  const inMonths = (m: number) => new Date(Date.now() + m * 30 * 86_400_000).toISOString().slice(0, 10);
  await system.credentials.set({ tenant: TENANT, credential: OPCO_UNCHECKABLE, fields: { cfa_key: ATLAS_KEY, expires_at: inMonths(5) } });
  await system.credentials.set({
    tenant: TENANT,
    credential: OPCO_CHECKED,
    fields: { cfa_key: AKTO_KEY, expires_at: inMonths(2), base_url: `http://127.0.0.1:${(opco.address() as AddressInfo).port}`, editeur: 'Sesame', logiciel: 'Sesame test', version: '1.0' },
  });
  addSecretPem(active.privateKeyPem);
  for (const s of [AKTO_KEY, ATLAS_KEY, login.password]) secrets.add(s);

  chromium = await launchChromium();
  context = await chromium.browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => consoleMessages.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleMessages.push(`pageerror: ${e.message}`));
  // What the admin API answered the page, kept beside what the page showed.
  page.on('response', async (res) => {
    if (!res.url().includes('/v1/admin/')) return;
    try {
      seen.push({ label: `response ${res.request().method()} ${res.url()}`, text: await res.text() });
    } catch {
      // A response the page navigated away from has no body left.
    }
  });
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await chaman?.close();
  await idp?.close();
  await new Promise((resolve) => (opco ? opco.close(resolve) : resolve(undefined)));
  await cleanup?.();
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});

describe('the credential page’s check and FLA key rotation in Chromium', { timeout: 90_000 }, () => {
  it('shows an FLA credential as never checked, and “Test now” proves it obtains a token', async () => {
    await logIn(page);
    await openCredential(FLA);
    await expect.poll(() => heading().innerText()).toContain(FLA);
    expect(await checkSection().innerText()).toContain('Never checked.');
    const before = chaman.tokenRequests();
    await checkSection().getByRole('button', { name: 'Test now' }).click();
    const result = checkSection().getByRole('region', { name: 'Result of this check' });
    await result.waitFor();
    expect(await result.locator('.verdict').textContent()).toBe('✓Works');
    expect(await result.innerText()).toContain('Sesame obtained a token from the platform with these credentials');
    // One real token request, and the page data reloaded: the last check is this one.
    expect(chaman.tokenRequests()).toBe(before + 1);
    await expect.poll(() => words(checkSection().locator('.last-check'))).toMatch(/^Result ✓ ?Works When .+\d{2}:\d{2} Details Sesame obtained a token/);
    expect(await checkSection().innerText()).not.toContain('Never checked.');
    await keep('fla-checked');
  });

  it('prepares a next key and offers its certificate as a .cer download that parses, with the Chaman steps', async () => {
    const was = await system.rotation.status(TENANT, FLA);
    expect(await keyRow('Next').innerText()).toContain('none');
    expect(await rotation().getByRole('button', { name: 'Activate the next key' }).count()).toBe(0);
    await rotation().getByRole('button', { name: 'Prepare a next key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('The next key is ready. The active key keeps signing');
    // The outcome takes the focus: the button pressed is gone.
    expect(await page.evaluate(() => document.activeElement?.classList.contains('rotation-outcome'))).toBe(true);
    await expect.poll(() => rotation().getByRole('button', { name: 'Prepare a next key' }).count()).toBe(0);

    const state = await system.rotation.status(TENANT, FLA);
    const next = state.next as NonNullable<typeof state.next>;
    expect(next.certificate_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(state.active.certificate_sha256).toBe(was.active.certificate_sha256);
    await collectKeys();
    // Storing the next key made a new version: the last check was of an earlier one, and says so.
    await expect.poll(() => words(checkSection().locator('.last-check'))).toContain('Works (an earlier version: a new version was stored since)');
    // The next key's fingerprint, shortened, with the whole of it in the title.
    const shown = keyRow('Next').locator('code.fingerprint');
    expect(await shown.getAttribute('title')).toBe(next.certificate_sha256);
    expect(await shown.innerText()).toContain(`${next.certificate_sha256?.slice(0, 16)}…`);
    expect(await keyRow('Next').innerText()).toMatch(/RSA 2048\s+RS256/);
    expect(await keyRow('Active').locator('code.fingerprint').getAttribute('title')).toBe(was.active.certificate_sha256);

    const chamanBox = rotation().getByRole('region', { name: 'Add the next certificate in Chaman' });
    expect(await chamanBox.locator('.steps li').count()).toBeGreaterThan(2);
    expect(await chamanBox.innerText()).toContain('"Add a certificate"');
    const link = chamanBox.getByRole('link', { name: 'Download the next certificate (.cer)' });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe(`${TENANT}-${FLA}-next.cer`);
    const bytes = await readFile(await download.path());
    // DER, not PEM: what Chaman takes.
    expect(bytes[0]).toBe(0x30);
    downloaded = new X509Certificate(bytes);
    expect(sha(downloaded)).toBe(next.certificate_sha256);
    expect(downloaded.publicKey.asymmetricKeyType).toBe('rsa');
    await keep('fla-next-prepared');
  });

  it('refuses to activate while Chaman does not know the new certificate, and says nothing changed', async () => {
    const before = await system.rotation.status(TENANT, FLA);
    await rotation().getByRole('button', { name: 'Activate the next key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('Chaman does not accept the new certificate yet');
    const said = await outcome().innerText();
    expect(said).toContain('invalid_client');
    expect(said).toContain('Nothing was changed; the active key still signs.');
    expect(await outcome().getAttribute('class')).toContain('notice-warning');
    // Nothing changed, in the store and on the page.
    expect(await system.rotation.status(TENANT, FLA)).toEqual(before);
    expect(await keyRow('Active').locator('code.fingerprint').getAttribute('title')).toBe(before.active.certificate_sha256);
    expect(await keyRow('Previous').innerText()).toContain('none');
    await rotation().getByRole('button', { name: 'Activate the next key' }).waitFor();
    await keep('fla-activate-refused');
  });

  it('activates once the downloaded certificate is registered, then retires the previous key', async () => {
    const before = await system.rotation.status(TENANT, FLA);
    await chaman.addClientKey(CLIENT_ID, downloaded.publicKey);
    await rotation().getByRole('button', { name: 'Activate the next key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('The next key is now active: the platform gave a token with it.');
    expect(await outcome().getAttribute('class')).toContain('notice-ok');
    // The keys shown changed: the downloaded certificate is active, the former one previous.
    await expect.poll(() => keyRow('Active').locator('code.fingerprint').getAttribute('title')).toBe(sha(downloaded));
    expect(await keyRow('Previous').locator('code.fingerprint').getAttribute('title')).toBe(before.active.certificate_sha256);
    expect(await keyRow('Previous').innerText()).toMatch(/replaced on .+/);
    expect(await keyRow('Next').innerText()).toContain('none');
    expect(await rotation().getByRole('region', { name: 'Add the next certificate in Chaman' }).count()).toBe(0);
    // The page data reloaded too: a new version is listed.
    await expect.poll(() => page.getByRole('region', { name: 'Versions' }).locator('tbody tr').count()).toBe(2);
    await keep('fla-activated');

    await rotation().getByRole('button', { name: 'Retire the previous key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('The previous key is retired: the active key obtained a token on its own');
    expect(await outcome().innerText()).toMatch(/Then, in Chaman:[\s\S]*delete the old certificate/);
    await expect.poll(() => keyRow('Previous').innerText()).toContain('none');
    expect(await rotation().getByRole('button', { name: 'Retire the previous key' }).count()).toBe(0);
    const after = await system.rotation.status(TENANT, FLA);
    expect(after.previous).toBeNull();
    expect(after.active.certificate_sha256).toBe(sha(downloaded));
    await keep('fla-retired');
  });

  it('offers “Retire anyway” when the active key alone is refused, and retires only when asked', async () => {
    // A second rotation, whose new certificate is then deleted from Chaman behind Sesame's back.
    await rotation().getByRole('button', { name: 'Prepare a next key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('The next key is ready');
    const pem = (await system.rotation.status(TENANT, FLA)).next_certificate_pem as string;
    const third = new X509Certificate(pem).publicKey as KeyObject;
    await collectKeys();
    await chaman.addClientKey(CLIENT_ID, third);
    await rotation().getByRole('button', { name: 'Activate the next key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('The next key is now active');
    await chaman.removeClientKey(CLIENT_ID, third);

    // The check says so plainly.
    await checkSection().getByRole('button', { name: 'Test now' }).click();
    const result = checkSection().getByRole('region', { name: 'Result of this check' });
    await expect.poll(() => result.locator('.verdict').textContent()).toBe('✕Failed');
    expect(await result.innerText()).toMatch(/The platform refused these credentials \(\d+ invalid_client\)/);
    await expect.poll(() => words(checkSection().locator('.last-check'))).toMatch(/^Result ✕ ?Failed When .+ Details .*invalid_client/);

    const before = await system.rotation.status(TENANT, FLA);
    await rotation().getByRole('button', { name: 'Retire the previous key' }).click();
    await expect.poll(() => outcome().innerText()).toContain('The platform refused a token with the active key alone');
    expect(await outcome().innerText()).toContain('the previous key may be what still obtains tokens. Nothing was changed.');
    expect(await system.rotation.status(TENANT, FLA)).toEqual(before);
    const anyway = outcome().getByRole('button', { name: 'Retire anyway, without this check' });
    // The button says what it risks, to a screen reader too.
    const hint = await anyway.getAttribute('aria-describedby');
    expect(await page.locator(`#${hint}`).innerText()).toContain('Only if you are sure the active key works');
    await keep('fla-retire-refused');

    await anyway.click();
    await expect.poll(() => outcome().innerText()).toContain('The previous key is retired, without checking the active key');
    expect((await system.rotation.status(TENANT, FLA)).previous).toBeNull();
    await expect.poll(() => keyRow('Previous').innerText()).toContain('none');
    await keep('fla-retired-forced');
    // Registered again, for what follows.
    await chaman.addClientKey(CLIENT_ID, third);
  });

  it('says an OPCO credential without base_url cannot be checked, and shows the end date another OPCO answers', async () => {
    await openCredential(OPCO_UNCHECKABLE);
    expect(await rotation().count()).toBe(0);
    await checkSection().getByRole('button', { name: 'Test now' }).click();
    const result = checkSection().getByRole('region', { name: 'Result of this check' });
    await result.waitFor();
    expect(await result.locator('.verdict').textContent()).toBe('–Cannot be checked');
    expect(await result.innerText()).toContain('No Atlas API address (base_url) is stored for this credential: the key cannot be checked.');
    await expect.poll(() => words(checkSection().locator('.last-check'))).toMatch(/^Result – ?Cannot be checked When .+ Details .*base_url/);
    await keep('opco-not-testable');

    await openCredential(OPCO_CHECKED);
    const was = await page.getByRole('region', { name: 'Facts' }).innerText();
    expect(was).not.toContain('31 Mar 2027');
    await checkSection().getByRole('button', { name: 'Test now' }).click();
    await expect.poll(() => result.locator('.verdict').textContent()).toBe('✓Works');
    expect(await result.innerText()).toMatch(/The platform gives its end of validity: 31 Mar 2027\. Sesame recorded it in place of \d+ \w+ \d{4}\./);
    // The end date learned is the credential's end date now.
    await expect.poll(() => page.getByRole('region', { name: 'Facts' }).innerText()).toContain('31 Mar 2027');
    await keep('opco-end-learned');
  });

  it('speaks French in both sections', async () => {
    await page.goto(`${base}/console/#/`);
    await page.getByLabel('Language').selectOption('fr');
    await openCredential(FLA);
    await page.getByRole('heading', { name: 'Vérification', level: 2 }).waitFor();
    await page.getByRole('heading', { name: 'Rotation de clé', level: 2 }).waitFor();
    expect(await keyRow('Active').innerText()).toContain('signe chaque demande de jeton');
    expect(await keyRow('Précédente').innerText()).toContain('aucune');
    await rotation().getByRole('button', { name: 'Préparer une clé suivante' }).waitFor();
    await checkSection().getByRole('button', { name: 'Tester maintenant' }).click();
    const result = checkSection().getByRole('region', { name: 'Résultat de cette vérification' });
    await expect.poll(() => result.locator('.verdict').textContent()).toBe('✓Fonctionne');
    expect(await result.innerText()).toContain('Sesame a obtenu un jeton de la plateforme avec ces identifiants');
    await expect.poll(() => words(checkSection().locator('.last-check'))).toMatch(/^Résultat ✓ ?Fonctionne Quand .+ Détails Sesame obtained a token/);
    await keep('fla-fr');
    await page.getByLabel('Langue').selectOption('en');
    await page.getByRole('heading', { name: 'Check', level: 2 }).waitFor();
  });

  it('reaches the check and rotation buttons with Tab, with a visible focus, and runs the check with Enter', async () => {
    await openCredential(FLA);
    await rotation().getByRole('button', { name: 'Prepare a next key' }).waitFor();
    await heading().focus();
    const reached: string[] = [];
    let focusRing = 'none';
    for (let n = 0; n < 80 && !reached.includes('Prepare a next key'); n++) {
      await page.keyboard.press('Tab');
      const name = await page.evaluate(() => (document.activeElement?.tagName === 'BUTTON' ? document.activeElement.textContent : null));
      if (name) reached.push(name);
      if (name === 'Test now') focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    }
    expect(reached).toContain('Test now');
    expect(reached).toContain('Prepare a next key');
    expect(focusRing).not.toBe('none');
    // Back to "Test now", and Enter runs it.
    for (let n = 0; n < 80; n++) {
      await page.keyboard.press('Shift+Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Test now') break;
    }
    const requests = chaman.tokenRequests();
    await page.keyboard.press('Enter');
    await expect.poll(() => checkSection().getByRole('region', { name: 'Result of this check' }).locator('.verdict').textContent()).toBe('✓Works');
    expect(chaman.tokenRequests()).toBe(requests + 1);
    await keep('fla-keyboard');
  });

  it('never shows a private key, a CFA key or an issued token in a page, an admin answer or a console message', () => {
    // Three key pairs were held (the first, and one per rotation), and tokens were issued.
    expect([...secrets].filter((s) => s.startsWith('-----BEGIN PRIVATE KEY-----')).length).toBe(3);
    expect(tokens.length).toBeGreaterThan(3);
    expect(seen.filter((s) => s.label.startsWith('response')).length).toBeGreaterThan(10);
    for (const s of [...secrets, ...tokens]) {
      for (const { label, text } of seen) expect(text.includes(s), `a secret in ${label}`).toBe(false);
      for (const m of consoleMessages) expect(m.includes(s), 'a secret in a console message').toBe(false);
    }
    // No private key of any kind in a page either, whatever its origin.
    for (const { label, text } of seen) expect(/PRIVATE KEY/.test(text), `a private key in ${label}`).toBe(false);
    expect(consoleMessages.filter((m) => m.startsWith('pageerror') || /Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });
});
