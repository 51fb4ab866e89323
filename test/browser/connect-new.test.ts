import { ENDPOINT_SETTINGS } from '../../functions/core/platforms/types.ts';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
import { KINDS, platformOf } from '../../functions/core/platforms/index.ts';
import { buildConsole } from '../../functions/console/build.ts';
import { demoOperator, seedDemo, type Demo } from '../../functions/local/demo.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import type { MemoryLog } from '../helpers/memory-log.ts';
import { tempSystem } from '../helpers/system.ts';
import { launchChromium } from './chromium.ts';

/**
 * A connect link for a credential the tenant does not have yet, made from the tenant's
 * page of the console in Debian's headless Chromium, against the local broker with the
 * demo data and the loopback OpenID provider: the operator picks the platform, the
 * environment and the settings they know; the link's page, opened by the client with no
 * operator session, asks exactly what is left to ask.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const SHOTS = process.env.SESAME_CONSOLE_SHOTS; // a folder: screenshots of every page, for a person to look at
const URL_PATTERN = /^http:\/\/127\.0\.0\.1:\d+\/connect\/[A-Za-z0-9_-]{43}$/;

let system: System;
let log: MemoryLog;
let home: string;
let cleanups: (() => Promise<void>)[] = [];
let server: LocalServer;
let demo: Demo;
let consoleDir: string;
let login: { username: string; password: string };
let chromium: { browser: Browser; close(): Promise<void> };
let operatorContext: BrowserContext;
let operator: Page;
let base: string;
/** Every link token the console showed: none may reach a log line. */
const tokens: string[] = [];
const consoleMessages: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function shot(label: string, p: Page = operator): Promise<void> {
  if (!SHOTS) return;
  await p.screenshot({ path: join(SHOTS, `connect-new-${label}.png`), fullPage: true });
}

/** The section alone, as an operator sees it on the tenant's page. */
async function sectionShot(label: string): Promise<void> {
  if (!SHOTS) return;
  await section().screenshot({ path: join(SHOTS, `connect-new-${label}-section.png`) });
}

function watch(p: Page, who: string): void {
  p.on('console', (m) => consoleMessages.push(`${who} ${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => consoleMessages.push(`${who} pageerror: ${e.message}`));
}

const section = () => operator.locator('section[aria-labelledby="newlink-title"]');

async function openTenant(name: string): Promise<void> {
  await operator.getByRole('navigation').getByRole('link', { name: /^(Tenants|Clients)$/ }).click();
  await operator.getByRole('link', { name: new RegExp(`^(Edit|Modifier) ${name}$`) }).click();
  await section().waitFor();
}

const optionValues = (id: string) => operator.locator(`#${id} option`).evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
const settingIds = () => section().locator('fieldset [id^="newlink-setting-"]').evaluateAll((els) => els.map((e) => (e as unknown as { id: string }).id.replace('newlink-setting-', '')));

async function linkData(url: string) {
  const token = url.split('/').pop() as string;
  tokens.push(token);
  const item = await system.state?.get(`link#${linkHash(token)}`, 'link');
  return item?.data;
}

beforeAll(async () => {
  consoleDir = await buildConsole(await mkdtemp(join(tmpdir(), 'sesame-console-')));
  // Links are built on the address the server will listen at.
  const port = await freePort();
  const first = await tempSystem();
  home = first.home;
  const second = await tempSystem({
    store: first.system.store,
    objects: new LocalObjectStore(first.home),
    notifier: new OutboxNotifier(first.home, first.system.clock, first.log),
    state: new LocalStateStore(first.home),
    publicUrl: `http://127.0.0.1:${port}`,
    integrator: { name: 'Intégrateur Démo', editeur: 'Sesame', logiciel: 'Sesame demo', version: '1.0' },
  });
  ({ system, log } = second);
  cleanups = [first.cleanup, second.cleanup];
  server = await startLocalServer(system, { consoleDir, port });
  const op = demoOperator(server.url);
  login = { username: op.username, password: op.password };
  demo = await seedDemo(system, { operator: op });
  const auth = demo.oauth.operator as NonNullable<typeof demo.oauth.operator>;
  server.setOperatorAuth({ issuer: demo.oauth.issuer, audience: auth.audience, clientId: auth.clientId, scope: auth.scope });
  base = server.url;
  chromium = await launchChromium();
  operatorContext = await chromium.browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  operator = await operatorContext.newPage();
  watch(operator, 'operator');
  await operator.goto(`${base}/console/`);
  await operator.waitForURL((u) => !u.href.startsWith(base));
  await operator.getByLabel(/Username/).fill(login.username);
  await operator.getByLabel(/Password/).fill(login.password);
  await operator.getByRole('button', { name: /Sign in/ }).click();
  await operator.waitForURL(`${base}/console/#/`);
  // Signed in once the overview shows: only then is the hash the operator's to change.
  await operator.getByRole('table').getByText('CFA Démo Lyon').first().waitFor();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await demo?.oauth.close();
  for (const c of cleanups) await c();
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});

describe('a connect link for a new credential, from the tenant page in Chromium', { timeout: 90_000 }, () => {
  it('creates an FLA link in acceptance with the employer capacity, shows it once, and the client is asked only the client id', async () => {
    expect((await system.credentials.list()).filter((c) => c.tenant === 'demo-cfa-lyon' && c.kind === 'fla')).toEqual([]);
    await openTenant('CFA Démo Lyon');
    const s = section();
    await s.getByRole('heading', { name: 'Hand over a new credential' }).waitFor();
    // The platforms by the console's titles; the id follows the kind.
    const kind = s.getByLabel('Platform');
    expect(await kind.locator('option').first().innerText()).toBe('Federal Learning Account (FLA)');
    expect(await kind.locator('optgroup').getAttribute('label')).toBe('OPCO (Convergence CFA)');
    await kind.selectOption('fla');
    expect(await s.getByLabel('Credential id').inputValue()).toBe('fla');
    // FLA has production and acceptance only, and its own settings.
    expect(await optionValues('newlink-env')).toEqual(['production', 'acceptance']);
    expect(await settingIds()).toEqual(['quality']);
    expect(await optionValues('newlink-email')).toEqual(['', 'it@cfa-lyon-demo.example']);
    await s.getByLabel('Environment').selectOption('acceptance');
    await s.getByLabel('Capacity in Chaman').selectOption('employer');
    await sectionShot('fla-en');
    await s.getByRole('button', { name: 'Create the link' }).click();

    const once = s.getByRole('region', { name: 'The connect link for fla' });
    await once.waitFor();
    expect(await operator.evaluate(() => document.activeElement?.getAttribute('aria-labelledby'))).toBe('link-once-title');
    const url = await once.getByLabel('Connect link').inputValue();
    expect(url).toMatch(URL_PATTERN);
    expect(url.startsWith(base)).toBe(true);
    expect(await once.innerText()).toContain('it will not be shown again');
    expect(await once.getByRole('link', { name: 'Open the page of fla' }).getAttribute('href')).toBe('#/credentials/demo-cfa-lyon/fla');
    await shot('fla-created-en');
    await sectionShot('fla-created-en');
    // The link makes that credential, in acceptance, with the capacity set; empty settings are not sent.
    expect(await linkData(url)).toMatchObject({ tenant: 'demo-cfa-lyon', credential: 'fla', kind: 'fla', environment: 'acceptance', settings: { quality: 'employer' }, status: 'open' });

    // The client, in a browser with no operator session: the Chaman steps, then the client id alone.
    const clientContext = await chromium.browser.newContext({ locale: 'en-GB', viewport: { width: 900, height: 900 } });
    try {
      const client = await clientContext.newPage();
      watch(client, 'client');
      const res = await client.goto(url);
      expect(res?.status()).toBe(200);
      await client.getByRole('heading', { level: 1, name: 'Hand over a credential' }).waitFor();
      await client.getByRole('heading', { name: 'Steps' }).waitFor();
      const steps = await client.locator('ol > li').allInnerTexts();
      expect(steps.join('\n')).toContain('Chaman');
      expect(await client.locator('main').innerText()).toContain('CFA Démo Lyon');
      await client.getByRole('link', { name: 'Download the certificate (.cer)' }).waitFor();
      const asked = await client.locator('form input, form select').evaluateAll((els) => els.map((e) => (e as unknown as { name: string }).name));
      expect(asked).toEqual(['client_id']);
      expect(await client.getByLabel('Client ID given by Chaman').inputValue()).toBe('');
      await shot('fla-client-en', client);
    } finally {
      await clientContext.close();
    }

    // Dismissed, the URL is gone from the operator's page.
    await once.getByRole('button', { name: 'I have copied the link' }).click();
    const token = url.split('/').pop() as string;
    await expect.poll(() => operator.content()).not.toContain(token);
  });

  it('creates a PISTE link in sandbox with a client id setting, sent to an alert address, and shows the API\'s refusal of another environment than the credential\'s', async () => {
    await openTenant('CFA Démo Lyon');
    const s = section();
    await s.getByLabel('Platform').selectOption('chorus-piste');
    const id = s.getByLabel('Credential id');
    expect(await id.inputValue()).toBe('chorus-piste');
    // PISTE has no acceptance environment: it is not offered.
    expect(await optionValues('newlink-env')).toEqual(['production', 'sandbox']);
    expect(await settingIds()).toEqual(['client_id', 'scope']);

    // An id of another platform is caught before any request, next to the field.
    await id.fill('fla-sandbox');
    await s.getByRole('button', { name: 'Create the link' }).click();
    await expect.poll(() => id.getAttribute('aria-invalid')).toBe('true');
    expect(await s.locator('#newlink-id-error').innerText()).toBe('The credential id must be chorus-piste or start with chorus-piste- (lower-case letters, digits and hyphens).');
    expect(await operator.evaluate(() => document.activeElement?.id)).toBe('newlink-id');
    expect(await s.getByRole('region').count()).toBe(0);
    await sectionShot('id-invalid-en');

    await id.fill('chorus-piste-sandbox');
    expect(await id.getAttribute('aria-invalid')).toBe('false');
    await s.getByLabel('Environment').selectOption('sandbox');
    await s.getByLabel('Client id').fill('piste-client-lyon');
    await s.getByLabel('Also send the link by email').selectOption('it@cfa-lyon-demo.example');
    await sectionShot('piste-en');
    await s.getByRole('button', { name: 'Create the link' }).click();
    const once = s.getByRole('region', { name: 'The connect link for chorus-piste-sandbox' });
    await once.waitFor();
    const url = await once.getByLabel('Connect link').inputValue();
    expect(url).toMatch(URL_PATTERN);
    expect(await once.innerText()).toContain('Also sent by email to it@cfa-lyon-demo.example.');
    expect(await linkData(url)).toMatchObject({ credential: 'chorus-piste-sandbox', kind: 'chorus-piste', environment: 'sandbox', settings: { client_id: 'piste-client-lyon' } });
    // The alert that carries it names the tenant and the address.
    const outbox = join(home, 'outbox');
    const sent = await Promise.all((await readdir(outbox)).map((f) => readFile(join(outbox, f), 'utf8')));
    const mine = sent.filter((m) => m.includes(url));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toContain('it@cfa-lyon-demo.example');
    expect(JSON.parse(mine[0] as string).attributes.tenant).toBe('demo-cfa-lyon');
    await once.getByRole('button', { name: 'I have copied the link' }).click();

    // CFA Démo Paris has chorus-piste in sandbox: the page says so, and a production link is refused.
    await openTenant('CFA Démo Paris');
    const p = section();
    await p.getByLabel('Platform').selectOption('chorus-piste');
    const exists = p.locator('#newlink-exists');
    await expect.poll(() => exists.isVisible()).toBe(true);
    expect(await exists.innerText()).toContain('CFA Démo Paris already has chorus-piste, in Sandbox (qualification)');
    expect(await p.getByLabel('Credential id').getAttribute('aria-describedby')).toContain('newlink-exists');
    await p.getByLabel('Environment').selectOption('production');
    await p.getByRole('button', { name: 'Create the link' }).click();
    const alert = p.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toContain('credential "chorus-piste" is in sandbox: a link hands over a new version in that environment, not in production');
    expect(await p.getByRole('region').count()).toBe(0);
    expect(await system.state?.get('links#demo-cfa-paris/chorus-piste', 'latest')).toBeUndefined();
    await sectionShot('error-en');
  });

  it('works with the keyboard alone, in French: each field in order, then Enter on the button', async () => {
    await operator.getByLabel('Language').selectOption('fr');
    await openTenant('Secrétariat social Démo');
    const s = section();
    await s.getByRole('heading', { name: 'Faire transmettre un nouvel identifiant' }).waitFor();
    await sectionShot('fr');
    const kind = s.getByLabel('Plateforme');
    await kind.focus();
    await operator.keyboard.press('ArrowDown'); // Chorus Pro (API via PISTE)
    expect(await kind.inputValue()).toBe('chorus-piste');
    const order: string[] = [];
    const step = async () => {
      await operator.keyboard.press('Tab');
      const where = (await operator.evaluate(() => document.activeElement?.id || document.activeElement?.textContent)) as string;
      order.push(where);
      return where;
    };
    expect(await step()).toBe('newlink-id');
    await operator.keyboard.press('End');
    await operator.keyboard.type('-qualif');
    expect(await step()).toBe('newlink-env');
    await operator.keyboard.press('ArrowDown'); // sandbox
    expect(await step()).toBe('newlink-valid');
    expect(await step()).toBe('newlink-setting-client_id');
    await operator.keyboard.type('piste-bxl');
    while (!order.includes('Créer le lien') && order.length < 20) await step();
    expect(order).toEqual([
      'newlink-id',
      'newlink-env',
      'newlink-valid',
      'newlink-setting-client_id',
      'newlink-setting-scope',
      'newlink-email',
      'Créer le lien',
    ]);
    // Every control of the section has a label.
    const unlabelled = await s.locator('input, select').evaluateAll((els) =>
      els.filter((e) => !(e as unknown as { labels: { length: number } }).labels.length).map((e) => (e as unknown as { id: string }).id),
    );
    expect(unlabelled).toEqual([]);
    expect(await s.getByLabel('Nom de l’identifiant').inputValue()).toBe('chorus-piste-qualif');
    expect(await s.getByLabel('Environnement').inputValue()).toBe('sandbox');
    expect(await optionValues('newlink-env')).toEqual(['production', 'sandbox']);
    expect(await s.locator('#newlink-env option').allInnerTexts()).toEqual(['Production', 'Bac à sable (qualification)']);
    await sectionShot('piste-fr');
    await operator.keyboard.press('Enter');
    const once = s.getByRole('region', { name: 'Le lien de connexion pour chorus-piste-qualif' });
    await once.waitFor();
    expect(await once.innerText()).toContain('il ne sera plus affiché');
    await once.getByRole('link', { name: 'Ouvrir la page de chorus-piste-qualif' }).waitFor();
    const url = await once.getByLabel('Lien de connexion').inputValue();
    expect(await linkData(url)).toMatchObject({ tenant: 'demo-secretariat-bruxelles', credential: 'chorus-piste-qualif', environment: 'sandbox', settings: { client_id: 'piste-bxl' } });
    await sectionShot('piste-created-fr');
    await shot('piste-created-fr');
    await once.getByRole('button', { name: 'J’ai copié le lien' }).click();
    await operator.getByLabel('Langue').selectOption('en');
  });

  it('offers, for every kind, exactly the environments and settings its platform has', async () => {
    await openTenant('CFA Démo Lyon');
    const kind = section().getByLabel('Platform');
    const offered = await kind.locator('option').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    expect([...offered].sort()).toEqual([...KINDS].sort());
    for (const k of KINDS) {
      await kind.selectOption(k);
      const p = platformOf(k);
      // Where secrets are sent is an administrator's setting (the CLI): never offered to an operator.
      const settings = (p.connect?.settings ?? []).filter((name) => !p.secretFields.includes(name) && !ENDPOINT_SETTINGS.includes(name));
      expect({ kind: k, environments: await optionValues('newlink-env'), settings: await settingIds() }).toEqual({ kind: k, environments: [...p.environments], settings });
      expect(await section().getByLabel('Credential id').inputValue()).toBe(k);
    }
  });

  it('keeps every link token out of the log lines, and the pages free of script and policy errors', () => {
    expect(tokens).toHaveLength(3);
    for (const line of log.lines) for (const token of tokens) expect(line.includes(token), 'a link token in a log line').toBe(false);
    expect(consoleMessages.filter((m) => /pageerror|Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });
});
