import { beforeEach, describe, expect, it } from 'vitest';
import { Apps, MAX_OVERLAP_MS, parseOverlap } from '../../functions/core/apps.ts';
import { isSesameError } from '../../functions/core/errors.ts';
import { Tenants } from '../../functions/core/tenants.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';

/** `app rotate`: a new key at once, the old one until the overlap ends, on the injected clock. */
let store: MemorySecretStore;
let clock: ManualClock;
let apps: Apps;
const H = 3_600_000;

const accepted = (key: string) =>
  apps.verify(key).then(
    () => true,
    (err) => {
      if (!isSesameError(err, 'unauthorized')) throw err;
      return false;
    },
  );
const stored = () => JSON.stringify(store.secrets.get('sesame-apps/billing')?.versions[0]?.value);

beforeEach(async () => {
  store = new MemorySecretStore();
  clock = new ManualClock();
  const tenants = new Tenants(store, clock);
  await tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  apps = new Apps(store, tenants, clock);
});

describe('parseOverlap', () => {
  it.each([
    ['30m', 30 * 60_000],
    ['24h', 24 * H],
    ['7d', 7 * 24 * H],
    ['90s', 90_000],
    ['0', 0],
    ['0h', 0],
    ['30d', MAX_OVERLAP_MS],
  ])('reads %s', (text, ms) => {
    expect(parseOverlap(text)).toBe(ms);
  });

  it.each(['', '10', '45x', '1.5h', '-1h', '24 hours', '31d', '721h', 'h'])('refuses %j with a clear invalid_request', (text) => {
    let caught: unknown;
    try {
      parseOverlap(text);
    } catch (err) {
      caught = err;
    }
    expect(isSesameError(caught, 'invalid_request')).toBe(true);
    expect((caught as Error).message).toMatch(/^--overlap (must be a duration such as 30m, 24h or 7d|is at most 30d)/);
  });
});

describe('Apps.rotate', () => {
  it('gives a new key that works at once, keeps the old one for 24h by default, then refuses it', async () => {
    const { key: old } = await apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const r = await apps.rotate('billing');
    expect(Object.keys(r)).toEqual(['app', 'key', 'previous_key_expires_at']);
    expect(r.key).toMatch(/^sesame_billing_[A-Za-z0-9_-]{43}$/);
    expect(r.key).not.toBe(old);
    expect(r.previous_key_expires_at).toBe('2026-06-02T08:00:00.000Z');
    expect(await accepted(r.key)).toBe(true);
    expect(await accepted(old)).toBe(true);
    clock.advance(24 * H - 1);
    expect(await accepted(old)).toBe(true);
    clock.advance(1);
    expect(await accepted(old)).toBe(false);
    expect(await accepted(r.key)).toBe(true);
  });

  it('keeps only hashes, and the new key has the app scope of the old one', async () => {
    const { key: old } = await apps.add({ app: 'billing', tenants: ['cfa-paris'], kinds: ['fla'] });
    const { key } = await apps.rotate('billing', { overlap: '30m' });
    for (const k of [old, key]) {
      expect(stored()).not.toContain(k);
      expect(stored()).not.toContain(k.slice('sesame_billing_'.length));
    }
    const principal = await apps.verify(key);
    expect(principal).toEqual({ app: 'billing', tenants: new Set(['cfa-paris']), kinds: new Set(['fla']) });
    expect(await apps.verify(old)).toEqual(principal);
  });

  it('lists both keys with their end dates while the overlap lasts, then the new one only', async () => {
    await apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    clock.advance(H);
    await apps.rotate('billing', { overlap: '30m' });
    expect(await apps.list()).toEqual([
      {
        app: 'billing',
        tenants: ['cfa-paris'],
        created_at: '2026-06-01T08:00:00.000Z',
        key_created_at: '2026-06-01T09:00:00.000Z',
        previous_key_created_at: '2026-06-01T08:00:00.000Z',
        previous_key_expires_at: '2026-06-01T09:30:00.000Z',
      },
    ]);
    clock.advance(30 * 60_000);
    expect(await apps.list()).toEqual([{ app: 'billing', tenants: ['cfa-paris'], created_at: '2026-06-01T08:00:00.000Z', key_created_at: '2026-06-01T09:00:00.000Z' }]);
  });

  it('with --overlap 0 the old key stops at once', async () => {
    const { key: old } = await apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const r = await apps.rotate('billing', { overlap: '0' });
    expect(r.previous_key_expires_at).toBe(clock.now().toISOString());
    expect(await accepted(old)).toBe(false);
    expect(await accepted(r.key)).toBe(true);
    expect((await apps.list())[0]).not.toHaveProperty('previous_key_expires_at');
  });

  it('rotating again during an overlap replaces the previous key: the oldest stops at once', async () => {
    const { key: first } = await apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const { key: second } = await apps.rotate('billing', { overlap: '7d' });
    clock.advance(H);
    const third = await apps.rotate('billing', { overlap: '24h' });
    expect(await accepted(first)).toBe(false);
    expect(await accepted(second)).toBe(true);
    expect(await accepted(third.key)).toBe(true);
    expect(third.previous_key_expires_at).toBe('2026-06-02T09:00:00.000Z');
    expect((await apps.list())[0]).toMatchObject({ previous_key_created_at: '2026-06-01T08:00:00.000Z', previous_key_expires_at: '2026-06-02T09:00:00.000Z' });
    clock.set('2026-06-02T09:00:00.000Z');
    expect(await accepted(second)).toBe(false);
  });

  it('refuses to rotate a revoked app, or one that does not exist, and writes nothing', async () => {
    await apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    await apps.revoke('billing');
    const puts = store.calls.put;
    await expect(apps.rotate('billing')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/revoked/) });
    await expect(apps.rotate('nobody')).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/nobody/) });
    await expect(apps.rotate('billing', { overlap: '31d' })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(store.calls.put).toBe(puts);
  });

  it('revoking during an overlap stops both keys', async () => {
    const { key: old } = await apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const { key } = await apps.rotate('billing');
    await apps.revoke('billing');
    expect(await accepted(old)).toBe(false);
    expect(await accepted(key)).toBe(false);
    expect((await apps.list())[0]).not.toHaveProperty('previous_key_expires_at');
  });
});
