import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import { credentialSecretName, TAG } from '../../functions/core/credentials.ts';
import { CERTIFICATE_TAG } from '../../functions/core/intake.ts';
import { tenantSecretName } from '../../functions/core/tenants.ts';
import { ManualClock } from '../helpers/clock.ts';
import { tempSystem } from '../helpers/system.ts';

/**
 * The overview on a few hundred credentials: 120 tenants × 5, written straight into the
 * store with the tags `credential set` writes (what is measured is reading, not writing).
 */
const TENANTS = 120;
const KINDS = ['opco-atlas', 'chorus-piste', 'fla', 'chorus-edi', 'cegid-cfe'] as const;
const clock = new ManualClock(Date.parse('2026-06-01T08:00:00Z'));
let system: System;
let cleanup: () => Promise<void>;
const expected = { total: 0, ok: 0, expiring: 0, expired: 0, incomplete: 0, refused: 0 };
const operator = { sub: 'op' };
const get = async (query: Record<string, string>) => JSON.parse((await system.admin.handle({ method: 'GET', path: '/v1/admin/credentials', query, body: undefined, operator })).body);

beforeAll(async () => {
  ({ system, cleanup } = await tempSystem({ clock }));
  for (let i = 0; i < TENANTS; i++) {
    const id = `tenant-${String(i).padStart(3, '0')}`;
    await system.store.put(tenantSecretName(id), { id, name: `Client numéro ${i}`, alert_emails: [] }, { 'sesame:tenant': id, 'sesame:type': 'tenant' });
    for (const [k, kind] of KINDS.entries()) {
      // Day offsets from -5 to 395: some expired, some within a threshold, most fine.
      const days = ((i * 7 + k * 13) % 400) - 5;
      const expires = new Date(clock.now().getTime() + days * 86_400_000 + 3_600_000).toISOString();
      const refused = kind === 'chorus-edi' && i % 10 === 0 && days > 0;
      const placeholder = kind === 'cegid-cfe' && i % 4 === 0;
      const tags: Record<string, string> = { [TAG.tenant]: id, [TAG.credential]: kind, [TAG.kind]: kind, [TAG.environment]: 'production' };
      if (!placeholder) Object.assign(tags, { [TAG.expiresAt]: expires, [TAG.expiresWhat]: 'none' });
      if (refused) Object.assign(tags, { [CERTIFICATE_TAG.verdict]: 'rejected', [CERTIFICATE_TAG.at]: clock.now().toISOString(), [CERTIFICATE_TAG.for]: expires });
      await system.store.put(credentialSecretName(id, kind), { placeholder: true }, tags);
      expected.total += 1;
      const daysLeft = Math.ceil((Date.parse(expires) - clock.now().getTime()) / 86_400_000);
      if (placeholder) expected.incomplete += 1;
      else if (daysLeft <= 0) expected.expired += 1;
      else if (refused) expected.refused += 1;
      else if (daysLeft <= 60) expected.expiring += 1;
      else expected.ok += 1;
    }
  }
}, 120_000);
afterAll(() => cleanup());

describe('the overview on a few hundred credentials', () => {
  it('counts every status from tags alone, quickly', async () => {
    const started = performance.now();
    const page = await get({});
    const ms = performance.now() - started;
    expect(page.counts).toEqual(expected);
    expect(page.items).toHaveLength(50);
    // Generous for a loaded CI machine; `npm run bench` measures it.
    expect(ms).toBeLessThan(2_000);
  });

  it('pages through every credential exactly once, at the largest page size too', async () => {
    for (const limit of ['50', '500']) {
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: { items: { tenant: string; credential: string }[]; next_cursor: string | null } = await get({ limit, ...(cursor ? { cursor } : {}) });
        for (const i of page.items) seen.add(`${i.tenant}/${i.credential}`);
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen.size).toBe(TENANTS * KINDS.length);
    }
  });

  it('filters by status with the counts unchanged, and finds a tenant by its name', async () => {
    const refused = await get({ status: 'refused', limit: '500' });
    expect(refused.matching).toBe(expected.refused);
    expect(refused.counts).toEqual(expected);
    const one = await get({ q: 'numero 42' });
    expect(new Set(one.items.map((i: { tenant: string }) => i.tenant))).toEqual(new Set(['tenant-042']));
  });
});
