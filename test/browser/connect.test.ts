import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import type { System } from '../../functions/adapters/system.ts';
import { linkHash } from '../../functions/core/connect.ts';
import { buildConsole } from '../../functions/console/build.ts';
import { demoOperator, seedDemo, type Demo } from '../../functions/local/demo.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import type { MemoryLog } from '../helpers/memory-log.ts';
import { tempSystem } from '../helpers/system.ts';
import { launchChromium } from './chromium.ts';

/**
 * Connect links in Debian's headless Chromium, against the local broker with the demo
 * data and the loopback OpenID provider: an operator creates a link from the console;
 * the client, in a browser with no operator session, opens it, reads who asks and the
 * platform's steps, hands a new CFA key over and sees the confirmation; the link then
 * answers "not valid"; the operator sees the credential turn "ok". The key typed by the
 * client appears in no page the operator sees, no browser console message, no log line.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, sessionStorage: any, localStorage: any;

const SHOTS = process.env.SESAME_CONSOLE_SHOTS; // a folder: screenshots of every page, for a person to look at
const INTEGRATOR = 'Intégrateur Démo';
/** What the client types: a new AKTO CFA key. */
const NEW_KEY = `AKTO-CFA-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;

let system: System;
let log: MemoryLog;
let cleanup: () => Promise<void>;
let server: LocalServer;
let demo: Demo;
let consoleDir: string;
let login: { username: string; password: string };
let chromium: { browser: Browser; close(): Promise<void> };
let operatorContext: BrowserContext;
let operator: Page;
let clientContext: BrowserContext;
let client: Page;
let base: string;
let linkUrl: string;
/** What the operator's browser showed, by where. */
const operatorSeen: { label: string; text: string }[] = [];
const consoleMessages: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function shot(label: string, p: Page): Promise<void> {
  if (SHOTS) await p.screenshot({ path: join(SHOTS, `connect-${label}.png`), fullPage: true });
}

/** Keeps what the operator's page shows now (markup, text, field values), and a screenshot. */
async function keep(label: string): Promise<void> {
  const html = await operator.content();
  const text = await operator.evaluate(() => document.body.innerText);
  const values = await operator.evaluate(() => Array.from(document.querySelectorAll('input, textarea, select') as ArrayLike<{ value: string }>).map((e) => e.value).join('\n'));
  operatorSeen.push({ label, text: `${html}\n${text}\n${values}` });
  await shot(label, operator);
}

function watch(p: Page, who: string): void {
  p.on('console', (m) => consoleMessages.push(`${who} ${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => consoleMessages.push(`${who} pageerror: ${e.message}`));
}

beforeAll(async () => {
  consoleDir = await buildConsole(await mkdtemp(join(tmpdir(), 'sesame-console-')));
  // Links are built on the address the server will listen at.
  const port = await freePort();
  const first = await tempSystem();
  ({ system, log } = await tempSystem({
    store: first.system.store,
    objects: new LocalObjectStore(first.home),
    notifier: new OutboxNotifier(first.home, first.system.clock, first.log),
    state: new LocalStateStore(first.home),
    publicUrl: `http://127.0.0.1:${port}`,
    integrator: { name: INTEGRATOR, editeur: 'Sesame', logiciel: 'Sesame demo', version: '1.0' },
  }));
  cleanup = first.cleanup;
  server = await startLocalServer(system, { consoleDir, port });
  const op = demoOperator(server.url);
  login = { username: op.username, password: op.password };
  demo = await seedDemo(system, { operator: op });
  const auth = demo.oauth.operator as NonNullable<typeof demo.oauth.operator>;
  server.setOperatorAuth({ issuer: demo.oauth.issuer, audience: auth.audience, clientId: auth.clientId, scope: auth.scope });
  base = server.url;
  expect(base).toBe(`http://127.0.0.1:${port}`);
  chromium = await launchChromium();
  operatorContext = await chromium.browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  operator = await operatorContext.newPage();
  watch(operator, 'operator');
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await demo?.oauth.close();
  await cleanup?.();
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});

describe('connect links in Chromium', { timeout: 60_000 }, () => {
  it('lets an operator create a link from the credential page, with the keyboard, and shows it once with its end', async () => {
    await operator.goto(`${base}/console/`);
    await operator.waitForURL((u) => !u.href.startsWith(base));
    await operator.getByLabel(/Username/).fill(login.username);
    await operator.getByLabel(/Password/).fill(login.password);
    await operator.getByRole('button', { name: /Sign in/ }).click();
    await operator.waitForURL(`${base}/console/#/`);
    // Signed in once the overview shows: only then is the hash the operator's to change.
    await operator.getByRole('table').getByText('CFA Démo Lyon').first().waitFor();
    await operator.goto(`${base}/console/#/credentials/demo-cfa-lyon/opco-akto`);
    await operator.getByRole('heading', { name: 'Connect link' }).waitFor();
    expect(await operator.locator('.facts').innerText()).toMatch(/Expiring/);

    // With the keyboard only: the validity select, then the button.
    const valid = operator.getByLabel('Link valid for');
    expect(await valid.inputValue()).toBe('7');
    expect(await valid.locator('option').allInnerTexts()).toEqual(['1 day', '7 days', '14 days', '30 days']);
    await valid.focus();
    await operator.keyboard.press('ArrowDown'); // 14 days
    expect(await valid.inputValue()).toBe('14');
    await operator.keyboard.press('Tab');
    expect(await operator.evaluate(() => document.activeElement?.textContent)).toBe('Create a connect link');
    const before = Date.now();
    await operator.keyboard.press('Enter');

    const once = operator.getByRole('region', { name: 'The connect link for opco-akto' });
    await once.waitFor();
    // Focus moves to the link, for a screen reader to read it out.
    expect(await operator.evaluate(() => document.activeElement?.getAttribute('aria-labelledby'))).toBe('link-once-title');
    linkUrl = await once.getByLabel('Connect link').inputValue();
    expect(linkUrl).toMatch(new RegExp(`^${base}/connect/[A-Za-z0-9_-]{43}$`));
    expect(await once.innerText()).toContain('it will not be shown again');
    expect(await once.innerText()).toMatch(/Valid until .*2\d{3}/);
    await once.getByRole('button', { name: 'Copy' }).waitFor();
    await keep('operator-created');
    // 14 days, as chosen; made by this operator.
    const token = linkUrl.split('/').pop() as string;
    const item = await system.state?.get(`link#${linkHash(token)}`, 'link');
    const lasts = Date.parse(item?.data.expires_at as string) - before;
    expect(Math.abs(lasts - 14 * 86_400_000)).toBeLessThan(60_000);
    expect(item?.data).toMatchObject({ tenant: 'demo-cfa-lyon', credential: 'opco-akto', status: 'open' });
    const me = await operator.evaluate(async () => {
      const t = JSON.parse(sessionStorage.getItem('sesame.console.token') ?? '{}') as { access_token?: string };
      return (await (await fetch('/v1/admin/me', { headers: { authorization: `Bearer ${t.access_token}` } })).json()) as { sub: string };
    });
    expect(item?.data.created_by).toBe(me.sub);

    // Dismissed, it is gone from the page and from the browser's storage.
    await once.getByRole('button', { name: 'I have copied the link' }).click();
    await expect.poll(() => operator.content()).not.toContain(token);
    expect(await operator.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }))).not.toContain(token);
  });

  it('shows the client, with no operator session, who asks, the platform\'s steps and a form for the CFA key', async () => {
    clientContext = await chromium.browser.newContext({ locale: 'fr-FR', viewport: { width: 900, height: 900 } });
    client = await clientContext.newPage();
    watch(client, 'client');
    const res = await client.goto(linkUrl);
    expect(res?.status()).toBe(200);
    const headers = res?.headers() ?? {};
    expect(headers['content-security-policy']).toContain("default-src 'none'");
    expect(headers['content-security-policy']).toContain("form-action 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(await client.evaluate(() => document.documentElement.lang)).toBe('fr');
    await client.getByRole('heading', { level: 1, name: 'Transmettre un identifiant' }).waitFor();
    const text = await client.locator('main').innerText();
    expect(text).toContain('CFA Démo Lyon');
    expect(text).toContain(INTEGRATOR);
    expect(text).toContain('AKTO');
    await client.getByRole('heading', { name: 'Étapes' }).waitFor();
    expect(await client.locator('ol > li').count()).toBeGreaterThan(0);
    // The CFA key, and the end date the portal may show: EDITEUR/LOGICIEL/VERSION are never asked, and nothing stored is shown.
    expect(await client.locator('form input').evaluateAll((els) => els.map((e) => `${(e as { name: string }).name}:${(e as { type: string }).type}`))).toEqual(['cfa_key:password', 'expires_at:date']);
    expect(await client.locator('input[name="cfa_key"]').inputValue()).toBe('');
    await shot('client-page-fr', client);
    // The same page in English.
    await client.getByRole('link', { name: 'English' }).click();
    await client.getByRole('heading', { level: 1, name: 'Hand over a credential' }).waitFor();
    await client.getByRole('heading', { name: 'Steps' }).waitFor();
    await shot('client-page-en', client);
  });

  it('takes the key the client submits and confirms it, repeating no secret', async () => {
    await client.getByLabel('AKTO CFA key').fill(NEW_KEY);
    // The date picker, as Chromium takes it: the day the portal shows, about half a year ahead.
    const end = new Date(Date.now() + 180 * 86_400_000).toISOString().slice(0, 10);
    await client.getByLabel('End of validity of the key').fill(end);
    await client.getByRole('button', { name: 'Store' }).click();
    await client.getByRole('heading', { level: 1, name: 'Thank you, it is stored' }).waitFor();
    const page = await client.content();
    expect(page).toContain('opco-akto');
    expect(page).not.toContain(NEW_KEY);
    expect(await client.locator('input').count()).toBe(0);
    await shot('client-stored', client);
    // Stored as a new version, with the integrator's headers from the stored credential.
    const cred = await system.credentials.get('demo-cfa-lyon', 'opco-akto');
    expect((cred.fields as Record<string, unknown>).cfa_key).toBe(NEW_KEY);
    expect((cred.fields as Record<string, unknown>).editeur).toBe('Sesame');
    // That day, ending in Paris.
    expect((cred.fields as Record<string, unknown>).expires_at).toBe(`${end}T22:00:00.000Z`);
  });

  it('answers "this link is not valid" when the link is opened again, or submitted again', async () => {
    const res = await client.goto(linkUrl);
    expect(res?.status()).toBe(404);
    expect(res?.headers()['referrer-policy']).toBe('no-referrer');
    await client.getByRole('heading', { level: 1, name: 'Ce lien n’est pas valable' }).waitFor();
    await shot('client-gone', client);
    const again = await fetch(linkUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ cfa_key: 'another-key-entirely' }).toString() });
    expect(again.status).toBe(404);
    expect(await again.text()).toContain('Ce lien n’est pas valable');
    expect(((await system.credentials.get('demo-cfa-lyon', 'opco-akto')).fields as Record<string, unknown>).cfa_key).toBe(NEW_KEY);
  });

  it('shows the operator the credential turned "ok" after a reload', async () => {
    await operator.goto(`${base}/console/#/?tenant=demo-cfa-lyon`);
    await operator.reload();
    const row = operator.getByRole('row', { name: /opco-akto/ });
    await row.waitFor();
    await expect.poll(() => row.locator('.badge').textContent()).toBe('✓OK');
    await keep('operator-overview-ok');
    await operator.goto(`${base}/console/#/credentials/demo-cfa-lyon/opco-akto`);
    await operator.getByRole('heading', { name: 'Versions' }).waitFor();
    expect(await operator.locator('.facts').innerText()).toMatch(/OK/);
    expect(await operator.getByRole('cell', { name: 'previous' }).count()).toBe(1);
    await keep('operator-credential-ok');
    // The section in French.
    await operator.getByLabel('Language').selectOption('fr');
    await operator.getByRole('heading', { name: 'Lien de connexion' }).waitFor();
    expect(await operator.getByLabel('Lien valable').locator('option').allInnerTexts()).toEqual(['1 jour', '7 jours', '14 jours', '30 jours']);
    await operator.getByRole('button', { name: 'Créer un lien de connexion' }).waitFor();
    await keep('operator-credential-fr');
    await operator.getByLabel('Langue').selectOption('en');
  });

  it('keeps the key out of every page the operator saw, every browser console message and every log line', () => {
    expect(operatorSeen.length).toBeGreaterThanOrEqual(3);
    for (const { label, text } of operatorSeen) expect(text.includes(NEW_KEY), `the key in ${label}`).toBe(false);
    for (const m of consoleMessages) expect(m.includes(NEW_KEY), 'the key in a console message').toBe(false);
    expect(consoleMessages.filter((m) => /pageerror|Content Security Policy|Refused to/i.test(m))).toEqual([]);
    const token = linkUrl.split('/').pop() as string;
    for (const line of log.lines) {
      expect(line.includes(NEW_KEY), 'the key in a log line').toBe(false);
      expect(line.includes(token), 'the token in a log line').toBe(false);
    }
  });
});
