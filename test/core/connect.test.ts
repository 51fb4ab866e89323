import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { linkPage, pickLang } from '../../functions/connect/page.ts';
import { integratorFromEnv, linkHash, parseValidity } from '../../functions/core/connect.ts';
import { PLATFORMS } from '../../functions/core/platforms/index.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

const clock = new ManualClock();
let home: string;
let system: System;
let state: LocalStateStore;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-connect-core-'));
  state = new LocalStateStore(home, clock);
  system = buildSystem({ store: new LocalSecretStore(home, randomBytes(32), clock), state, log: new MemoryLog(), clock, version: 'test', publicUrl: 'https://sesame.example' });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA <Paris> & "Co"' });
});
afterAll(() => rm(home, { recursive: true, force: true }));

const connect = () => system.connect as NonNullable<System['connect']>;

describe('connect links', () => {
  it('every platform has a connect section whose usual fields are among its own and its schema', () => {
    for (const p of PLATFORMS) {
      const spec = p.connect;
      expect(spec, p.kind).toBeDefined();
      const names = spec!.fields.map((f) => f.name);
      for (const r of spec!.requested) expect(names).toContain(r);
      expect(spec!.steps.fr.length).toBe(spec!.steps.en.length);
    }
  });

  it('keeps only the SHA-256 of a 256-bit token, with scope, expiry, status and creator', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', createdBy: 'op-1' });
    const token = link.url.split('/connect/')[1] as string;
    expect(Buffer.from(token, 'base64url').length).toBe(32);
    const item = await state.get(`link#${linkHash(token)}`, 'link');
    expect(item?.data).toMatchObject({ tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', fields: ['cfa_key'], status: 'open', created_by: 'op-1' });
    expect(JSON.stringify(item)).not.toContain(token);
    expect(Date.parse(link.expires_at) - clock.now().getTime()).toBe(7 * 86_400_000);
    expect(item?.expiresAt).toBe(Math.floor(Date.parse(link.expires_at) / 1000));
  });

  it('refuses fields the platform does not take, an unknown tenant and a validity beyond 30 days', async () => {
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: ['editeur'], createdBy: 'cli' })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(connect().create({ tenant: 'nobody', credential: 'opco-atlas', createdBy: 'cli' })).rejects.toMatchObject({ code: 'unknown_tenant' });
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', valid: '31d', createdBy: 'cli' })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('reads durations in minutes, hours and days', () => {
    expect(parseValidity(undefined)).toBe(604_800);
    expect(parseValidity('30m')).toBe(1_800);
    expect(parseValidity('12h')).toBe(43_200);
    expect(parseValidity('30d')).toBe(2_592_000);
    expect(() => parseValidity('1m')).toThrow(/5 minutes to 30 days/);
    expect(() => parseValidity('soon')).toThrow(/e\.g\. 30m/);
  });

  it('picks the language from the query, then Accept-Language, French by default', () => {
    expect(pickLang('en', 'fr')).toBe('en');
    expect(pickLang(undefined, 'de-DE, en;q=0.8, fr;q=0.5')).toBe('en');
    expect(pickLang(undefined, 'fr-BE;q=0.9, en;q=0.1')).toBe('fr');
    expect(pickLang('xx', 'de')).toBe('fr');
  });

  it('escapes what it prints and never prefills an input', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'cegid-cfe', createdBy: 'cli' });
    const view = await connect().view(link.url.split('/connect/')[1] as string);
    const page = linkPage(view!, 'fr', { path: '/connect/x' });
    expect(page).toContain('CFA &#60;Paris&#62; &#38; &#34;Co&#34;');
    expect(page).not.toMatch(/<input[^>]*value=/);
  });

  it('reads the integrator from the environment', () => {
    expect(integratorFromEnv({ SESAME_INTEGRATOR_NAME: ' Edi ', SESAME_OPCO_EDITEUR: 'E', SESAME_OPCO_VERSION: '' })).toEqual({ name: 'Edi', editeur: 'E' });
  });
});
