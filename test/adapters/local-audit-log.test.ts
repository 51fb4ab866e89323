import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalAuditLog } from '../../functions/adapters/local-audit-log.ts';
import { type AuditRecord, canonicalJson } from '../../functions/core/audit.ts';
import { isSesameError } from '../../functions/core/errors.ts';

const homes: string[] = [];
afterAll(() => Promise.all(homes.map((h) => rm(h, { recursive: true, force: true }))));
async function home(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'sesame-audit-'));
  homes.push(h);
  return h;
}

let counter = 0;
/** A record at `time` (ISO), for tenant and app. */
function rec(time: string, tenant = 'cfa-paris', app = 'billing'): AuditRecord {
  counter += 1;
  return { id: counter.toString(16).padStart(16, '0'), time, type: 'token', actor: { type: 'app', id: app }, tenant, credential: 'opco-atlas', app, outcome: 'ok', cached: counter % 2 === 0 };
}

/** A log with `n` records, `perDay` a day from 2026-06-01, appended in batches of 3. */
async function filled(n: number, perDay = n): Promise<{ log: LocalAuditLog; home: string; key: Buffer; records: AuditRecord[] }> {
  const h = await home();
  const key = randomBytes(32);
  const log = new LocalAuditLog(h, key);
  const records = Array.from({ length: n }, (_, i) => rec(new Date(Date.parse('2026-06-01T08:00:00Z') + Math.floor(i / perDay) * 86_400_000 + (i % perDay) * 60_000).toISOString(), i % 3 === 0 ? 'cfa-lyon' : 'cfa-paris', i % 2 === 0 ? 'billing' : 'payroll'));
  for (let i = 0; i < n; i += 3) await log.append(records.slice(i, i + 3));
  return { log, home: h, key, records };
}

const dir = (h: string) => join(h, 'audit');
async function lines(h: string, file: string): Promise<string[]> {
  return (await readFile(join(dir(h), file), 'utf8')).split('\n').slice(0, -1);
}
async function setLines(h: string, file: string, ls: string[]): Promise<void> {
  await writeFile(join(dir(h), file), ls.map((l) => `${l}\n`).join(''));
}

describe('the local audit log', () => {
  it('keeps one private file a day, and answers queries newest first with tenant, app, since and until', async () => {
    const { log, home: h, records } = await filled(12, 4);
    expect((await readdir(dir(h))).filter((f) => f.endsWith('.jsonl')).sort()).toEqual(['2026-06-01.jsonl', '2026-06-02.jsonl', '2026-06-03.jsonl']);
    expect((await stat(dir(h))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir(h), '2026-06-02.jsonl'))).mode & 0o777).toBe(0o600);
    const all = await log.query({});
    expect(all.records.map((r) => r.id)).toEqual([...records].reverse().map((r) => r.id));
    expect(all.cursor).toBeUndefined();
    const lyon = await log.query({ tenant: 'cfa-lyon' });
    expect(lyon.records.map((r) => r.id)).toEqual(records.filter((r) => r.tenant === 'cfa-lyon').reverse().map((r) => r.id));
    const window = await log.query({ since: new Date('2026-06-02T08:01:00Z'), until: new Date('2026-06-03T08:00:00Z'), app: 'payroll' });
    expect(window.records.map((r) => r.time)).toEqual(['2026-06-02T08:03:00.000Z', '2026-06-02T08:01:00.000Z']);
  });

  it('pages with a cursor, each record once, and refuses a cursor it did not make', async () => {
    const { log, records } = await filled(10, 3);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await log.query({ limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.records.map((r) => r.id));
      cursor = page.cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...records].reverse().map((r) => r.id));
    const err = await log.query({ cursor: 'bm90LWEtY3Vyc29y' }).catch((e: unknown) => e);
    expect(isSesameError(err, 'invalid_request')).toBe(true);
  });

  it('verifies an intact chain across files', async () => {
    const { log } = await filled(9, 4);
    expect(await log.verify()).toEqual({ ok: true, records: 9, files: 3, unsealed: 0, torn: false });
  });

  it('finds an edited record, naming its position, file and line', async () => {
    const { log, home: h } = await filled(6);
    const ls = await lines(h, '2026-06-01.jsonl');
    ls[3] = (ls[3] as string).replace(/"tenant":"[a-z-]+"/, '"tenant":"cfa-lille"');
    expect(ls[3]).toContain('cfa-lille');
    await setLines(h, '2026-06-01.jsonl', ls);
    expect((await log.verify()).broken).toMatchObject({ position: 4, file: '2026-06-01.jsonl', line: 4, reason: 'edited' });
  });

  it('finds a record whose hash was recomputed without the key', async () => {
    const { log, home: h } = await filled(5);
    const ls = await lines(h, '2026-06-01.jsonl');
    const line = JSON.parse(ls[2] as string) as { seq: number; prev: string; hash: string; record: AuditRecord };
    line.record.outcome = 'refused';
    line.record.code = 'forbidden';
    delete line.record.cached;
    const { createHash } = await import('node:crypto');
    line.hash = createHash('sha256').update(`${line.seq}\n${line.prev}\n${canonicalJson(line.record)}`).digest('base64url');
    ls[2] = JSON.stringify(line);
    await setLines(h, '2026-06-01.jsonl', ls);
    expect((await log.verify()).broken).toMatchObject({ position: 3, line: 3, reason: 'edited' });
  });

  it('finds a record deleted from the middle, at the place it is missing from', async () => {
    const { log, home: h } = await filled(6);
    const ls = await lines(h, '2026-06-01.jsonl');
    ls.splice(2, 1);
    await setLines(h, '2026-06-01.jsonl', ls);
    const v = await log.verify();
    expect(v).toMatchObject({ ok: false, records: 2, broken: { position: 3, file: '2026-06-01.jsonl', line: 3, reason: 'removed_or_reordered' } });
    expect(v.broken?.message).toContain('holds #4');
  });

  it('finds the last record deleted, through the head', async () => {
    const { log, home: h } = await filled(6);
    const ls = await lines(h, '2026-06-01.jsonl');
    await setLines(h, '2026-06-01.jsonl', ls.slice(0, -1));
    const v = await log.verify();
    expect(v).toMatchObject({ ok: false, records: 5, broken: { position: 6, reason: 'truncated' } });
    expect(v.broken?.message).toContain('head records 6');
  });

  it('finds a whole last day deleted, and a whole middle day deleted', async () => {
    const last = await filled(9, 3);
    await unlink(join(dir(last.home), '2026-06-03.jsonl'));
    expect((await last.log.verify()).broken).toMatchObject({ position: 7, reason: 'truncated' });
    const middle = await filled(9, 3);
    await unlink(join(dir(middle.home), '2026-06-02.jsonl'));
    expect((await middle.log.verify()).broken).toMatchObject({ position: 4, file: '2026-06-03.jsonl', line: 1, reason: 'removed_or_reordered' });
  });

  it('finds two records swapped, at the first of them', async () => {
    const { log, home: h } = await filled(6);
    const ls = await lines(h, '2026-06-01.jsonl');
    [ls[1], ls[2]] = [ls[2] as string, ls[1] as string];
    await setLines(h, '2026-06-01.jsonl', ls);
    expect((await log.verify()).broken).toMatchObject({ position: 2, line: 2, reason: 'removed_or_reordered' });
  });

  it('finds a deleted or edited head', async () => {
    const deleted = await filled(4);
    await unlink(join(dir(deleted.home), 'head.json'));
    expect((await deleted.log.verify()).broken).toMatchObject({ position: 4, reason: 'head_missing' });
    const edited = await filled(4);
    const head = JSON.parse(await readFile(join(dir(edited.home), 'head.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir(edited.home), 'head.json'), JSON.stringify({ ...head, seq: 3 }));
    expect((await edited.log.verify()).broken).toMatchObject({ position: 0, file: 'head.json', reason: 'head' });
  });

  it('refuses to append to a broken log, so that a new head never hides the break', async () => {
    const { log, home: h } = await filled(6);
    const ls = await lines(h, '2026-06-01.jsonl');
    await setLines(h, '2026-06-01.jsonl', ls.slice(0, -2));
    const err = await log.append([rec('2026-06-01T12:00:00.000Z')]).catch((e: unknown) => e);
    expect(isSesameError(err, 'store_corrupt')).toBe(true);
    expect((err as Error).message).toContain('record #5 is missing');
    expect((await log.verify()).broken).toMatchObject({ position: 5, reason: 'truncated' });
  });

  it('says a wrong key is a wrong key, not tampering', async () => {
    const { home: h } = await filled(3);
    const err = await new LocalAuditLog(h, randomBytes(32)).verify().catch((e: unknown) => e);
    expect(isSesameError(err, 'store_corrupt')).toBe(true);
    expect((err as Error).message).toContain('SESAME_LOCAL_KEY');
  });

  it('recovers what a writer that died left: a half line is cut, records after the head are adopted', async () => {
    const { log, home: h, key } = await filled(3);
    const headBefore = await readFile(join(dir(h), 'head.json'), 'utf8');
    await log.append([rec('2026-06-01T09:00:00.000Z'), rec('2026-06-01T09:01:00.000Z')]);
    // As if the writer died after its append, before its head: the old head, and half a line more.
    await writeFile(join(dir(h), 'head.json'), headBefore);
    await appendFile(join(dir(h), '2026-06-01.jsonl'), '{"seq":6,"prev":"');
    expect(await log.verify()).toEqual({ ok: true, records: 5, files: 1, unsealed: 2, torn: true });
    const fresh = new LocalAuditLog(h, key);
    await fresh.append([rec('2026-06-01T10:00:00.000Z')]);
    expect(await fresh.verify()).toEqual({ ok: true, records: 6, files: 1, unsealed: 0, torn: false });
  });

  it('puts a record whose clock is behind the last file into the last file, keeping files in chain order', async () => {
    const h = await home();
    const log = new LocalAuditLog(h, randomBytes(32));
    await log.append([rec('2026-06-02T00:00:01.000Z')]);
    await log.append([rec('2026-06-01T23:59:59.000Z')]);
    expect((await readdir(dir(h))).filter((f) => f.endsWith('.jsonl'))).toEqual(['2026-06-02.jsonl']);
    expect(await log.verify()).toMatchObject({ ok: true, records: 2 });
    expect((await log.query({ since: new Date('2026-06-01T23:00:00Z'), until: new Date('2026-06-01T23:59:59Z') })).records).toHaveLength(1);
  });

  it('refuses a record the guard refuses, writing nothing', async () => {
    const h = await home();
    const log = new LocalAuditLog(h, randomBytes(32));
    const bad = { ...rec('2026-06-01T08:00:00.000Z'), details: { password: 'x' } } as unknown as AuditRecord;
    const err = await log.append([bad]).catch((e: unknown) => e);
    expect(isSesameError(err, 'invalid_request')).toBe(true);
    expect((err as Error).message).toContain('details.password');
    expect(await log.verify()).toMatchObject({ ok: true, records: 0 });
  });

  it('keeps one valid chain when three processes append at the same time', async () => {
    const h = await home();
    const key = randomBytes(32);
    const module = join(import.meta.dirname, '..', '..', 'functions', 'adapters', 'local-audit-log.ts');
    const code = `
      import { createInterface } from 'node:readline';
      const { LocalAuditLog } = await import(${JSON.stringify(module)});
      const [home, who] = process.argv.slice(1);
      const log = await LocalAuditLog.open(home);
      process.stdout.write('ready\\n');
      await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
      for (let b = 0; b < 8; b++) {
        const batch = [];
        for (let i = 0; i < 5; i++) {
          const n = b * 5 + i;
          batch.push({ id: (${'`${who}`'} + n.toString(16)).padStart(16, '0'), time: new Date(Date.UTC(2026, 5, 1, 8, 0, 0, n)).toISOString(), type: 'app_revoked', actor: { type: 'cli', id: 'cli' }, app: 'p' + who + '-' + n, outcome: 'ok' });
        }
        await log.append(batch);
      }
      process.exit(0);
    `;
    const children = [1, 2, 3].map((who) => {
      const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, h, String(who)], { env: { ...process.env, SESAME_LOCAL_KEY: key.toString('hex') }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const ready = new Promise<void>((resolve) => p.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), stdout.includes('ready') && resolve())));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const done = new Promise<{ code: number | null; stderr: string }>((resolve) => p.on('close', (c) => resolve({ code: c, stderr })));
      return { p, ready, done };
    });
    await Promise.race([Promise.all(children.map((c) => c.ready)), Promise.all(children.map((c) => c.done)).then((r) => Promise.reject(new Error(r.map((x) => x.stderr).join('\n'))))]);
    for (const c of children) c.p.stdin.end('go\n');
    for (const r of await Promise.all(children.map((c) => c.done))) expect(r.code, r.stderr).toBe(0);
    const log = new LocalAuditLog(h, key);
    expect(await log.verify()).toEqual({ ok: true, records: 120, files: 1, unsealed: 0, torn: false });
    const apps = (await log.query({ limit: 1000 })).records.map((r) => r.app as string).reverse();
    expect(apps).toHaveLength(120);
    for (const who of [1, 2, 3]) {
      const mine = apps.filter((a) => a.startsWith(`p${who}-`));
      expect(mine).toEqual(Array.from({ length: 40 }, (_, n) => `p${who}-${n}`));
    }
  }, 60_000);
});
