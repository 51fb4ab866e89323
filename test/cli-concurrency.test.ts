import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';

/** The issue's own scenario, with real processes: parallel `credential set --merge` on one credential. */
let home: string;

const sesame = cli(() => home);

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-parallel-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('parallel credential set --merge from several processes', () => {
  it('keeps every field each process added', async () => {
    expect((await sesame(['tenant', 'add', 'acme'])).code).toBe(0);
    expect((await sesame(['credential', 'set', 'acme', 'opco-atlas'], '{"cfa_key":"k-1"}')).code).toBe(0);
    const added: Record<string, string> = { editeur: 'Editeur SAS', logiciel: 'Logiciel', version: '1.2.3', base_url: 'https://api.example', expires_at: '2031-06-30' };
    const runs = await Promise.all(Object.entries(added).map(([k, v]) => sesame(['credential', 'set', 'acme', 'opco-atlas', '--merge'], JSON.stringify({ [k]: v }))));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const shown = JSON.parse((await sesame(['credential', 'show', 'acme', 'opco-atlas', '--json'])).stdout);
    expect(shown.fields).toMatchObject({ cfa_key: '[redacted]', ...added });
  });
});
