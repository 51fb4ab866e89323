import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalAuditLog } from '../../functions/adapters/local-audit-log.ts';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import type { System } from '../../functions/adapters/system.ts';
import { buildConsole } from '../../functions/console/build.ts';
import { demoOperator, seedDemo, type Demo } from '../../functions/local/demo.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { tempSystem } from '../helpers/system.ts';
import { launchChromium } from './chromium.ts';

/**
 * The console's audit page in Debian's headless Chromium, against the local broker
 * with its hash-chained audit log, the demo data and the loopback OpenID provider.
 * The records come from doing things as an operator and an app would (a tenant and an
 * app made in the console, tokens vended with the app's key, the app revoked), then
 * the page must tell them back, newest first, in words, filtered and paged, without
 * ever showing the app key or a token it vended.
 */
// The page's own globals, as the callbacks given to page.evaluate see them (the Node project has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const SHOTS = process.env.SESAME_CONSOLE_SHOTS; // a folder: screenshots of every page, for a person to look at

const TENANT = 'cfa-audit';
const TENANT_NAME = 'CFA Audit Navigateur';
const APP = 'audit-app';
/** More tokens than a page holds (50), so that the app's records need "Load more". */
const BULK = 55;
const CFA_KEY = `atlas-${randomBytes(16).toString('hex')}`;

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
/** The app key, the tokens and keys it was handed, the operator's password. */
const secrets: string[] = [];
const seen: { label: string; text: string }[] = [];
const consoleMessages: string[] = [];

async function keep(label: string): Promise<void> {
  const html = await page.content();
  const text = await page.evaluate(() => document.body.innerText);
  seen.push({ label, text: `${html}\n${text}` });
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `audit-${label}.png`), fullPage: true });
}

const heading = () => page.getByRole('heading', { level: 1 });
const rows = () => page.locator('#audit-rows tr');
/** Each shown row: its event, who, tenant / credential, app and outcome, as a person reads them. */
const rowTexts = () =>
  rows().evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.children as ArrayLike<{ innerText: string }>).slice(1, 6).map((c) => c.innerText.replace(/\s+/g, ' ').trim())),
  );
const eventsShown = async () => (await rowTexts()).map((r) => r[0]);

async function vend(key: string, tenant: string, credential: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/tenants/${tenant}/credentials/${credential}/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status === 200) {
    // The secret material handed to the app: the access token, the API key (the other headers are the integrator's names).
    const headers = body.headers as Record<string, string>;
    for (const [name, v] of Object.entries(headers)) if (/^(authorization|x-api-key)$/i.test(name)) secrets.push(v.replace(/^Bearer /, ''));
    if (typeof body.access_token === 'string') secrets.push(body.access_token);
  }
  return { status: res.status, body };
}

async function openAudit(hash = '#/audit'): Promise<void> {
  await system.audit?.flush();
  await page.goto(`${base}/console/${hash}`);
  await page.reload();
  await page.locator('#audit-rows tr, .empty, .notice-error').first().waitFor();
}

beforeAll(async () => {
  if (SHOTS) await mkdir(SHOTS, { recursive: true });
  consoleDir = await buildConsole(await mkdtemp(join(tmpdir(), 'sesame-console-')));
  const first = await tempSystem();
  ({ system } = await tempSystem({
    store: first.system.store,
    objects: new LocalObjectStore(first.home),
    notifier: new OutboxNotifier(first.home, first.system.clock, first.log),
    // The local trail as `sesame dev` keeps it; the environment's key is not this test's.
    auditLog: await LocalAuditLog.open(first.home, {}),
  }));
  cleanup = first.cleanup;
  server = await startLocalServer(system, { consoleDir });
  const operator = demoOperator(server.url);
  login = { username: operator.username, password: operator.password };
  demo = await seedDemo(system, { operator });
  const op = demo.oauth.operator as NonNullable<typeof demo.oauth.operator>;
  server.setOperatorAuth({ issuer: demo.oauth.issuer, audience: op.audience, clientId: op.clientId, scope: op.scope });
  base = server.url;
  secrets.push(demo.appKey, login.password, CFA_KEY);
  chromium = await launchChromium();
  context = await chromium.browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => consoleMessages.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleMessages.push(`pageerror: ${e.message}`));
  // What the admin API answered the page, kept beside what the page showed.
  page.on('response', async (res) => {
    if (!res.url().includes('/v1/admin/audit')) return;
    try {
      seen.push({ label: `response ${res.url()}`, text: await res.text() });
    } catch {
      // A response the page navigated away from has no body left.
    }
  });
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await demo?.oauth.close();
  await cleanup?.();
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});

describe('the audit page of the operator console', { timeout: 90_000 }, () => {
  it('records what an operator and an app do, and lists it newest first in words', async () => {
    await page.goto(`${base}/console/`);
    await page.waitForURL((u) => !u.href.startsWith(base));
    await page.getByLabel(/Username/).fill(login.username);
    await page.getByLabel(/Password/).fill(login.password);
    await page.getByRole('button', { name: /Sign in/ }).click();
    await page.waitForURL(`${base}/console/#/`);

    // A tenant, made in the console; its credential, stored by the system (not an operator's change).
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page.getByLabel('Identifier').fill(TENANT);
    await page.getByLabel('Name').fill(TENANT_NAME);
    await page.getByRole('button', { name: 'Add a tenant' }).click();
    await page.getByText(`Tenant ${TENANT} added.`).waitFor();
    await system.credentials.set({ tenant: TENANT, credential: 'opco-atlas', fields: { cfa_key: CFA_KEY, expires_at: '2099-01-01' } });

    // An app for it and the demo tenant, made in the console: its key is shown once.
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByLabel('App identifier').fill(APP);
    await page.getByRole('checkbox', { name: new RegExp(TENANT_NAME) }).check();
    await page.getByRole('checkbox', { name: /CFA Démo Paris/ }).check();
    await page.getByRole('button', { name: 'Create the app' }).click();
    const once = page.getByRole('region', { name: `The key of ${APP}` });
    const key = await once.getByLabel('App key').inputValue();
    expect(key).toMatch(new RegExp(`^sesame_${APP}_`));
    secrets.push(key);
    await once.getByRole('button', { name: 'I have copied the key' }).click();

    // Tokens: one of the new tenant, one refused (a tenant the app may not use), an FLA token from the loopback server, then many.
    expect((await vend(key, TENANT, 'opco-atlas')).status).toBe(200);
    expect((await vend(key, 'demo-cfa-lyon', 'opco-ocapiat')).status).toBe(403);
    const fla = await vend(key, 'demo-cfa-paris', 'fla-employer');
    expect(fla.status).toBe(200);
    expect(typeof fla.body.access_token).toBe('string');
    for (let n = 0; n < BULK; n++) expect((await vend(key, 'demo-cfa-paris', 'opco-atlas')).status).toBe(200);

    // And the app revoked, in the console.
    await page.getByRole('button', { name: `Revoke ${APP}` }).click();
    await page.getByRole('dialog', { name: `Revoke ${APP}?` }).getByRole('button', { name: 'Revoke', exact: true }).click();
    await expect.poll(() => page.getByRole('row', { name: new RegExp(APP) }).innerText()).toMatch(/Revoked on/);

    await system.audit?.flush();
    await page.getByRole('link', { name: 'Audit', exact: true }).click();
    await page.waitForURL(/#\/audit$/);
    await expect.poll(() => heading().textContent()).toBe('Audit trail');
    expect(await page.getByRole('link', { name: 'Audit', exact: true }).getAttribute('aria-current')).toBe('page');
    await rows().first().waitFor();
    expect(await rows().count()).toBe(50);

    // Newest first, by the times the rows carry.
    const times = await page.locator('#audit-rows time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime') as string));
    expect(times.length).toBe(50);
    expect([...times].sort().reverse()).toEqual(times);
    // Shown in the browser's locale and time zone (en-GB here), with seconds, not as ISO text.
    const shown = await page.locator('#audit-rows time').first().innerText();
    expect(shown).toMatch(/^\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2}:\d{2}$/);

    const all = await rowTexts();
    // The revocation, by the signed-in operator, comes first; the tokens follow.
    expect(all[0]).toEqual(['App revocation', `Operator you (${login.username})`, '—', APP, '✓ OK']);
    expect(all[1]).toEqual(['Token request', `App ${APP}`, 'demo-cfa-paris / opco-atlas', APP, '✓ OK not from the cache']);
    const first = rows().first();
    expect(await first.locator('.badge-symbol').innerText()).toBe('✓');
    // Details as key=value chips.
    expect(await rows().nth(1).locator('.chip').allInnerTexts()).toContain('kind=opco-atlas');
    // Tenant and credential together link to the credential's page.
    expect(await rows().nth(1).getByRole('link').getAttribute('href')).toBe('#/credentials/demo-cfa-paris/opco-atlas');
    await keep('all-en');
  });

  it('loads older records with "Load more", from the keyboard, until every record of the period is shown', async () => {
    const more = page.getByRole('button', { name: 'Load more' });
    expect(await page.getByRole('status').filter({ hasText: 'records shown' }).innerText()).toMatch(/^50 records shown, newest first\. Older records remain/);
    await more.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => rows().count()).toBeGreaterThan(50);
    // The first new row takes the focus, so that reading goes on where it stopped.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-n'))).toBe('50');
    const events = await eventsShown();
    // The refused token, the FLA token, the first token, the app's and the tenant's creation: older than the bulk.
    const texts = await rowTexts();
    const refused = texts.find((r) => r[2] === 'demo-cfa-lyon / opco-ocapiat');
    expect(refused).toEqual(['Token request', `App ${APP}`, 'demo-cfa-lyon / opco-ocapiat', APP, '⊘ Refused forbidden']);
    const creations = events.filter((e) => e === 'App creation' || e === 'Tenant creation');
    expect(creations).toEqual(['App creation', 'Tenant creation']);
    // No duplicate: the second page starts where the first ended.
    const ids = await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
    expect(new Set(ids).size).toBe(ids.length);
    // Pages until the end: then the button goes and the page says so.
    while ((await more.count()) > 0) {
      const before = await rows().count();
      await more.click();
      await expect.poll(() => rows().count()).toBeGreaterThan(before);
    }
    await page.getByText('That is every record of this period.').waitFor();
    await keep('all-loaded');
  });

  it('filters by tenant, keeps the filter in the URL, and links from the tenant page', async () => {
    await page.getByLabel('Tenant', { exact: true }).selectOption(TENANT);
    await page.waitForURL(/#\/audit\?tenant=cfa-audit$/);
    await expect.poll(() => eventsShown()).toEqual(['Token request', 'Tenant creation']);
    const texts = await rowTexts();
    expect(texts[0]).toEqual(['Token request', `App ${APP}`, `${TENANT} / opco-atlas`, APP, '✓ OK not from the cache']);
    expect(texts[1]).toEqual(['Tenant creation', `Operator you (${login.username})`, TENANT, '—', '✓ OK']);
    expect(await rows().nth(1).locator('.chip').allInnerTexts()).toEqual(['operation=tenants.add']);
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    await keep('tenant');
    // The filter is in the URL: a reload keeps it.
    await page.reload();
    await expect.poll(() => eventsShown()).toEqual(['Token request', 'Tenant creation']);
    expect(await page.getByLabel('Tenant', { exact: true }).inputValue()).toBe(TENANT);

    // From the tenant's page, its audit trail in one link.
    await page.goto(`${base}/console/#/tenants/${TENANT}`);
    await page.getByRole('link', { name: 'Audit trail of this tenant' }).waitFor();
    await keep('tenant-page');
    await page.getByRole('link', { name: 'Audit trail of this tenant' }).click();
    await page.waitForURL(/#\/audit\?tenant=cfa-audit$/);
    await expect.poll(() => eventsShown()).toEqual(['Token request', 'Tenant creation']);
  });

  it('filters by app and by period, and clears the filters', async () => {
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL(/#\/audit$/);
    await page.getByLabel('App', { exact: true }).selectOption(APP);
    await page.waitForURL(/#\/audit\?app=audit-app$/);
    await expect.poll(() => rows().count()).toBe(50);
    // Every record of the app, and only those: its creation and revocation, and each token.
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => rows().count()).toBe(1 + 1 + 1 + 1 + BULK + 1);
    const texts = await rowTexts();
    expect(texts.every((r) => r[3] === APP)).toBe(true);
    expect(texts[0]?.[0]).toBe('App revocation');
    expect(texts[texts.length - 1]?.[0]).toBe('App creation');
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    await keep('app');

    // The period: the last 24 hours hold them all; its choice goes in the URL too.
    await page.getByLabel('Period').selectOption('24h');
    await page.waitForURL(/#\/audit\?app=audit-app&period=24h$/);
    await expect.poll(() => rows().count()).toBe(50);
    expect((await page.getByLabel('Period').locator('option').allInnerTexts())).toEqual(['Last 24 hours', 'Last 7 days', 'Last 30 days', 'Last 400 days']);
  });

  it('says so when no record matches, and shows an API refusal in the error box', async () => {
    await openAudit('#/audit?tenant=no-such-tenant');
    await page.getByText('No record matches these filters in this period.').waitFor();
    expect(await rows().count()).toBe(0);
    expect(await page.getByLabel('Tenant', { exact: true }).inputValue()).toBe('no-such-tenant');
    await keep('empty');

    await openAudit('#/audit?app=Not_An_App');
    const error = page.getByRole('alert');
    expect(await error.innerText()).toMatch(/^Something went wrong: .*app must be an app id/);
    await error.getByRole('button', { name: 'Try again' }).waitFor();
    await keep('error');
  });

  it('has every control labelled and reachable with the keyboard', async () => {
    await openAudit('#/audit');
    for (const label of ['Tenant', 'App', 'Period']) await page.getByLabel(label, { exact: true }).waitFor();
    // From the page's top, Tab reaches the three filters in order, then the table's links.
    await page.getByRole('heading', { level: 1 }).focus();
    const reached: string[] = [];
    for (let n = 0; n < 4; n++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => `${document.activeElement?.tagName}#${document.activeElement?.id}`));
    }
    expect(reached).toEqual(['SELECT#a-tenant', 'SELECT#a-app', 'SELECT#a-period', 'A#']);
    // A filter chosen from the keyboard.
    await page.getByLabel('Period').focus();
    await page.keyboard.press('ArrowDown');
    await page.waitForURL(/period=30d/);
    await expect.poll(() => rows().count()).toBe(50);
  });

  it('speaks French', async () => {
    await openAudit('#/audit?app=audit-app');
    await page.getByLabel('Language').selectOption('fr');
    await expect.poll(() => heading().textContent()).toBe('Journal d’audit');
    expect(await page.getByRole('link', { name: 'Journal d’audit', exact: true }).getAttribute('aria-current')).toBe('page');
    await expect.poll(async () => (await rowTexts())[0]).toEqual(['Révocation d’application', `Opérateur vous (${login.username})`, '—', APP, '✓ Réussi']);
    const texts = await rowTexts();
    expect(texts[1]).toEqual(['Demande de jeton', `Application ${APP}`, 'demo-cfa-paris / opco-atlas', APP, '✓ Réussi hors cache']);
    for (const label of ['Client', 'Application', 'Période']) await page.getByLabel(label, { exact: true }).waitFor();
    expect(await page.getByLabel('Période').locator('option').allInnerTexts()).toEqual(['Dernières 24 heures', '7 derniers jours', '30 derniers jours', '400 derniers jours']);
    expect(await page.getByRole('button', { name: 'Afficher plus' }).count()).toBe(1);
    // French dates: the month in French.
    expect(await page.locator('#audit-rows time').first().innerText()).toMatch(/^\d{1,2} [a-zéû]+\.? \d{4}( à|,)? \d{2}:\d{2}:\d{2}$/);
    await keep('app-fr');
    await page.getByRole('button', { name: 'Afficher plus' }).click();
    await expect.poll(() => rows().count()).toBe(1 + 1 + 1 + 1 + BULK + 1);
    await openAudit('#/audit?tenant=demo-cfa-lyon&app=audit-app');
    await expect.poll(async () => (await rowTexts())[0]).toEqual(['Demande de jeton', `Application ${APP}`, 'demo-cfa-lyon / opco-ocapiat', APP, '⊘ Refusé forbidden']);
    await keep('refused-fr');
    await page.getByLabel('Langue').selectOption('en');
    await expect.poll(() => heading().textContent()).toBe('Audit trail');
  });

  it('never shows the app key, a token it was handed, or another secret, in a page, an answer or a console message', () => {
    // The app key, the operator's password, the OPCO key, and what each vend handed over (at least the FLA token).
    expect(secrets.length).toBeGreaterThan(6);
    expect(seen.filter((s) => s.label.startsWith('response')).length).toBeGreaterThan(5);
    for (const s of secrets) {
      expect(s.length).toBeGreaterThanOrEqual(8);
      for (const { label, text } of seen) expect(text.includes(s), `a secret in ${label}`).toBe(false);
      for (const m of consoleMessages) expect(m.includes(s), 'a secret in a console message').toBe(false);
    }
    expect(consoleMessages.filter((m) => m.startsWith('pageerror'))).toEqual([]);
  });
});
