import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import type { System } from '../../functions/adapters/system.ts';
import { buildConsole, CONSOLE_FILES } from '../../functions/console/build.ts';
import { demoOperator, seedDemo, type Demo } from '../../functions/local/demo.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { issue } from '../helpers/pki.ts';
import { tempSystem } from '../helpers/system.ts';
import { launchChromium } from './chromium.ts';

/**
 * The operator console in Debian's headless Chromium, against the local broker with
 * the demo data and the loopback OpenID provider: the real login (authorization code +
 * PKCE), the admin API behind the JWT check, nothing mocked. One browser page walks
 * through the console as an operator would; every page it shows and every console
 * message is kept, and none may hold a secret value of the demo.
 */
// The page's own globals, as the callbacks given to page.evaluate see them: the Node
// project has no DOM lib (adding it would change fetch's types for all the Node code).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, sessionStorage: any, localStorage: any, DataTransfer: any, getComputedStyle: any;

const SHOTS = process.env.SESAME_CONSOLE_SHOTS; // a folder: screenshots of every page, for a person to look at

let system: System;
let cleanup: () => Promise<void>;
let server: LocalServer;
let demo: Demo;
let consoleDir: string;
let login: { username: string; password: string };
let chromium: { browser: Browser; close(): Promise<void> };
let context: BrowserContext;
let page: Page;
let base: string;
/** Every secret value the demo holds: credential secret fields, the demo app key, the operator's password. */
const secrets: string[] = [];
/** What the browser showed or said, by where. */
const seen: { label: string; text: string }[] = [];
const consoleMessages: string[] = [];

async function collectSecrets(): Promise<void> {
  for (const c of await system.credentials.list()) {
    let cred;
    try {
      cred = await system.credentials.get(c.tenant, c.credential);
    } catch {
      continue; // a placeholder holds no secret yet
    }
    const fields = cred.fields as Record<string, unknown>;
    for (const name of cred.platform.secretFields) {
      const v = fields[name];
      if (typeof v !== 'string' || v.length < 8) continue;
      secrets.push(v);
      // A PEM key: each line of its body is secret on its own.
      for (const line of v.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) secrets.push(line);
    }
  }
  secrets.push(demo.appKey, login.password);
}

/** Keeps what the page shows now: its markup, its text and the values of its fields. */
async function keep(label: string, p: Page = page): Promise<void> {
  const html = await p.content();
  const text = await p.evaluate(() => document.body.innerText);
  const values = await p.evaluate(() =>
    Array.from(document.querySelectorAll('input, textarea, select') as ArrayLike<{ value: string }>).map((e) => e.value).join('\n'),
  );
  seen.push({ label, text: `${html}\n${text}\n${values}` });
  if (SHOTS) await p.screenshot({ path: join(SHOTS, `${label.replace(/[^a-z0-9-]+/gi, '-')}.png`), fullPage: true });
}

function watch(p: Page): void {
  p.on('console', (m) => consoleMessages.push(`${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => consoleMessages.push(`pageerror: ${e.message}`));
}

const heading = (p: Page = page) => p.getByRole('heading', { level: 1 });

async function logIn(p: Page): Promise<void> {
  await p.goto(`${base}/console/`);
  // The browser lands on the issuer's own login page (another origin): the console never sees the password.
  await p.waitForURL((u) => !u.href.startsWith(base));
  await p.getByLabel(/Username/).fill(login.username);
  await p.getByLabel(/Password/).fill(login.password);
  await p.getByRole('button', { name: /Sign in/ }).click();
  await p.waitForURL(`${base}/console/#/`);
}

beforeAll(async () => {
  consoleDir = await buildConsole(await mkdtemp(join(tmpdir(), 'sesame-console-')));
  const first = await tempSystem();
  ({ system } = await tempSystem({ store: first.system.store, objects: new LocalObjectStore(first.home), notifier: new OutboxNotifier(first.home, first.system.clock, first.log) }));
  cleanup = first.cleanup;
  server = await startLocalServer(system, { consoleDir });
  const operator = demoOperator(server.url);
  login = { username: operator.username, password: operator.password };
  demo = await seedDemo(system, { operator });
  const op = demo.oauth.operator as NonNullable<typeof demo.oauth.operator>;
  server.setOperatorAuth({ issuer: demo.oauth.issuer, audience: op.audience, clientId: op.clientId, scope: op.scope });
  base = server.url;
  await collectSecrets();
  chromium = await launchChromium();
  context = await chromium.browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  watch(page);
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await demo?.oauth.close();
  await cleanup?.();
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});

describe('the operator console in Chromium', { timeout: 60_000 }, () => {
  it('logs the operator in through the OpenID Connect flow and shows the demo tenants', async () => {
    await logIn(page);
    await expect.poll(() => heading().textContent()).toBe('Overview');
    const table = page.getByRole('table');
    await table.getByText('CFA Démo Paris').first().waitFor();
    await table.getByText('Secrétariat social Démo').first().waitFor();
    // The counts come first, and every status shows as a word, not a colour alone.
    await expect.poll(() => page.getByRole('button', { name: /^Show only: All \(\d+\)$/ }).count()).toBe(1);
    expect(await page.locator('tbody .badge').allTextContents()).toContain('✓OK');
    await keep('overview');
  });

  it('filters to the expiring credentials and opens one', async () => {
    await page.getByRole('button', { name: /^Show only: Expiring/ }).click();
    await page.waitForURL(/status=expiring/);
    await expect.poll(() => page.getByRole('button', { name: /^Show only: Expiring/ }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(async () => [...new Set(await page.locator('tbody .badge').allTextContents())]).toEqual(['!Expiring']);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    expect(await rows.first().innerText()).toMatch(/\d+ days? left[\s\S]*alert threshold crossed/);
    await keep('overview-expiring');

    const link = rows.first().getByRole('link');
    const name = (await link.textContent()) as string;
    await link.click();
    await page.waitForURL(/#\/credentials\//);
    await expect.poll(() => heading().innerText()).toContain(name);
    await page.getByRole('heading', { name: 'Fields' }).waitFor();
    await page.getByRole('heading', { name: 'How to renew' }).waitFor();
    expect(await page.locator('.facts').innerText()).toMatch(/Expiring[\s\S]*\d+ days? left/);
    // Secret fields show redacted, and say so.
    expect(await page.locator('.redacted').first().innerText()).toContain('[redacted]');
    await keep('credential-expiring');
  });

  it('uploads a refused certificate with the file picker and reads the reasons, each naming its certificate', async () => {
    await page.goto(`${base}/console/#/credentials/demo-cfa-lyon/chorus-edi`);
    await page.getByRole('heading', { name: 'Upload a certificate' }).waitFor();
    const weak = await issue({ subject: 'CN=CFA Demo Lyon EDI, O=CFA Demo Lyon, C=FR', shape: 'rsa1024' });
    await page.getByLabel('Certificate file').setInputFiles({ name: 'weak.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(weak.pem) });
    const verdict = page.locator('.verdict-box');
    await verdict.waitFor();
    expect(await verdict.locator('.verdict').innerText()).toContain('Refused');
    await verdict.getByRole('heading', { name: 'Why it was refused' }).waitFor();
    const reasons = await verdict.locator('.findings-error li').allInnerTexts();
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.some((r) => r.includes('Certificate 1 (the end-entity certificate)') && r.includes('CN=CFA Demo Lyon EDI'))).toBe(true);
    expect(reasons.join('\n')).toMatch(/key_size/);
    await keep('credential-refused-upload');
    // The report stays on the credential page as its last certificate report.
    await page.reload();
    await page.getByRole('heading', { name: 'Last certificate report' }).waitFor();
    expect(await page.locator('.report').first().innerText()).toContain('weak.pem');
  });

  it('takes a certificate dropped on the drop zone and refuses a private key at once', async () => {
    const leaked = await issue({ subject: 'CN=Leak, O=CFA Demo Lyon, C=FR' });
    const dropped = await page.evaluateHandle((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'with-key.pem', { type: 'application/x-pem-file' }));
      return dt;
    }, `${leaked.pem}\n${leaked.privatePem}`);
    await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: dropped });
    const verdict = page.locator('.verdict-box');
    await expect.poll(() => verdict.innerText()).toMatch(/Refused[\s\S]*private key/i);
    await keep('credential-private-key-upload');
  });

  it('creates an app and shows its key once, with a copy button and a warning', async () => {
    await page.getByRole('link', { name: 'Apps' }).click();
    await expect.poll(() => heading().textContent()).toBe('Apps');
    await page.getByLabel('App identifier').fill('console-test');
    await page.getByRole('checkbox', { name: /CFA Démo Paris/ }).check();
    await page.getByRole('button', { name: 'Create the app' }).click();
    const once = page.getByRole('region', { name: 'The key of console-test' });
    await once.waitFor();
    const key = await once.getByLabel('App key').inputValue();
    expect(key).toMatch(/^sesame_console-test_/);
    expect(await once.innerText()).toContain('it will not be shown again');
    await once.getByRole('button', { name: 'Copy' }).waitFor();
    await keep('apps-key-once');
    // The key works at once…
    const vend = await fetch(`${base}/v1/tenants/demo-cfa-paris/credentials/opco-atlas/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(vend.status).toBe(200);
    await vend.text();
    // …and is gone once dismissed: not in the page, not after a reload.
    await once.getByRole('button', { name: 'I have copied the key' }).click();
    await expect.poll(() => page.content()).not.toContain(key);
    await page.reload();
    await page.getByRole('row', { name: /console-test/ }).waitFor();
    expect(await page.content()).not.toContain(key);
    expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }))).not.toContain(key);
    await keep('apps-after-create');
  });

  it('rotates an app key (shown once) and revokes an app after a confirmation', async () => {
    await page.getByRole('button', { name: 'Rotate the key of console-test' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate the key of console-test?' });
    await dialog.getByLabel('The current key keeps working for').selectOption('0');
    await dialog.getByRole('button', { name: 'Rotate', exact: true }).click();
    const once = page.getByRole('region', { name: 'The key of console-test' });
    await once.waitFor();
    expect(await once.getByLabel('App key').inputValue()).toMatch(/^sesame_console-test_/);
    await once.getByRole('button', { name: 'I have copied the key' }).click();

    await page.getByRole('button', { name: 'Revoke console-test' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke console-test?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => confirm.count()).toBe(0);
    expect(await page.getByRole('row', { name: /console-test/ }).innerText()).toContain('Active');
    await page.getByRole('button', { name: 'Revoke console-test' }).click();
    await page.getByRole('dialog', { name: 'Revoke console-test?' }).getByRole('button', { name: 'Revoke', exact: true }).click();
    await expect.poll(() => page.getByRole('row', { name: /console-test/ }).innerText()).toMatch(/Revoked on/);
    await keep('apps-revoked');
  });

  it('adds a tenant and edits its alert emails', async () => {
    await page.getByRole('link', { name: 'Tenants' }).click();
    await expect.poll(() => heading().textContent()).toBe('Tenants');
    await page.getByLabel('Identifier').fill('cfa-navigateur');
    await page.getByLabel('Name').fill('CFA Navigateur');
    await page.getByLabel('Alert emails').fill('alertes@cfa-navigateur.example');
    await page.getByRole('button', { name: 'Add a tenant' }).click();
    await page.getByText('Tenant cfa-navigateur added.').waitFor();
    await keep('tenants');
    await page.getByRole('link', { name: 'Edit CFA Navigateur' }).click();
    await expect.poll(() => heading().textContent()).toBe('Edit CFA Navigateur');
    await page.getByLabel('Alert emails').fill('alertes@cfa-navigateur.example\nsecours@cfa-navigateur.example');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved. Changed: alert_emails.').waitFor();
    expect((await system.tenants.get('cfa-navigateur')).alert_emails).toEqual(['alertes@cfa-navigateur.example', 'secours@cfa-navigateur.example']);
    await keep('tenant-edit');
  });

  it('reaches the timeline marks with the keyboard, from the skip link, and opens a credential with Enter', async () => {
    await page.goto(`${base}/console/#/timeline`);
    await page.reload();
    await page.locator('a.mark').first().waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    let name: string | null = null;
    for (let n = 0; n < 10 && name === null; n++) {
      await page.keyboard.press('Tab');
      name = await page.evaluate(() => (document.activeElement?.classList.contains('mark') ? document.activeElement.getAttribute('aria-label') : null));
    }
    expect(name).toMatch(/^.+ \/ [a-z0-9-]+: .+, ends .+$/);
    // Every mark has a name a screen reader reads out.
    const names = await page.locator('a.mark').evaluateAll((marks) => marks.map((m) => m.getAttribute('aria-label') ?? ''));
    expect(names.every((n) => n.length > 10)).toBe(true);
    // A visible focus ring on the focused mark.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement?.querySelector('.mark-focus')).stroke)).not.toBe('none');
    await keep('timeline');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/credentials\//);
    await page.getByRole('heading', { name: 'Facts' }).waitFor();
  });

  it('switches to French, remembers it, and starts in French for a French browser', async () => {
    await page.goto(`${base}/console/#/`);
    await page.getByLabel('Language').selectOption('fr');
    await expect.poll(() => heading().textContent()).toBe('Vue d’ensemble');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('fr');
    await page.getByRole('button', { name: /^Afficher seulement : Expire bientôt/ }).waitFor();
    await keep('overview-fr');
    await page.reload();
    await expect.poll(() => heading().textContent()).toBe('Vue d’ensemble');
    // The certificate reasons in French too.
    await page.goto(`${base}/console/#/credentials/demo-cfa-lyon/chorus-edi`);
    await page.getByRole('heading', { name: 'Dernier rapport de certificat' }).waitFor();
    await keep('credential-fr');
    await page.getByLabel('Langue').selectOption('en');
    await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe('en');

    const fr = await chromium.browser.newContext({ locale: 'fr-FR' });
    const p = await fr.newPage();
    watch(p);
    await p.addInitScript(() => sessionStorage.setItem('sesame.console.signed-out', 'true'));
    await p.goto(`${base}/console/`);
    await p.getByRole('button', { name: 'Se connecter' }).waitFor();
    expect(await p.evaluate(() => document.documentElement.lang)).toBe('fr');
    await keep('signed-out-fr', p);
    await fr.close();
  });

  it('sends the operator back to the login when the admin API answers 401', async () => {
    await page.evaluate(() => sessionStorage.setItem('sesame.console.token', JSON.stringify({ access_token: 'not-a-token', expires_at: 0 })));
    const visited: string[] = [];
    page.on('framenavigated', (f) => visited.push(f.url()));
    // A full load (not a hash change, whose 401 would race a reload).
    await page.goto('about:blank');
    await page.goto(`${base}/console/#/apps`);
    // To the issuer: its login page, or straight back when its session is still open.
    const password = page.getByLabel(/Password/);
    const callback = () => visited.some((u) => u.startsWith(`${base}/console/callback?`));
    await expect.poll(async () => callback() || (await password.count()) > 0, { timeout: 15_000 }).toBe(true);
    if (await password.count()) {
      await page.getByLabel(/Username/).fill(login.username);
      await password.fill(login.password);
      await page.getByRole('button', { name: /Sign in/ }).click();
    }
    // Back where the operator was, with a new token.
    await page.waitForURL(`${base}/console/#/apps`);
    await expect.poll(() => heading().textContent()).toBe('Apps');
    // Through the issuer (its redirects commit no page when its session is open) and the callback.
    expect(callback()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('sesame.console.token'))).not.toContain('not-a-token');
    // Signing out forgets the token and does not sign straight back in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('sesame.console.token'))).toBeNull();
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it('serves every console file with the strict CSP and the other security headers', async () => {
    const issuer = new URL(demo.oauth.issuer).origin;
    for (const path of ['/console', '/console/', '/console/callback', '/console/app.js', '/console/app.css', '/console/config.json', '/console/nope']) {
      const res = await fetch(`${base}${path}`);
      await res.text();
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self';");
      expect(csp, path).toContain("style-src 'self';");
      expect(csp, path).toContain(`connect-src 'self' ${issuer}`);
      expect(csp, path).toContain(`form-action 'self' ${issuer}`);
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("base-uri 'none'");
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.status, path).toBe(path === '/console/nope' ? 404 : 200);
    }
    const config = await (await fetch(`${base}/console/config.json`)).json();
    expect(config).toMatchObject({ issuer: demo.oauth.issuer, client_id: 'sesame-console' });
    // The CSP never got in the way: the browser reported no violation.
    expect(consoleMessages.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });

  it('keeps the bundle under 100 KB gzipped, with no inline script or style', async () => {
    const files = await Promise.all(CONSOLE_FILES.map((f) => readFile(join(consoleDir, f))));
    const gzipped = files.reduce((n, f) => n + gzipSync(f, { level: 9 }).length, 0);
    expect(gzipped).toBeLessThan(100 * 1024);
    const html = (await readFile(join(consoleDir, 'index.html'), 'utf8'));
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/<style|style=/);
    expect(html).not.toMatch(/https?:\/\//); // no CDN
  });

  it('never shows a secret value of the demo in a page or a browser console message', () => {
    expect(secrets.length).toBeGreaterThan(5);
    expect(seen.length).toBeGreaterThan(8);
    for (const s of secrets) {
      for (const { label, text } of seen) expect(text.includes(s), `a secret in ${label}`).toBe(false);
      for (const m of consoleMessages) expect(m.includes(s), 'a secret in a console message').toBe(false);
    }
    // Nothing went wrong in the page either.
    expect(consoleMessages.filter((m) => m.startsWith('pageerror'))).toEqual([]);
  });
});
