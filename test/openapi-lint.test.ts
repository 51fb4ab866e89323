import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFLINE_ENV, ROOT, writeDocument } from '../bin/openapi-types.ts';

/** Redocly's recommended rules on the whole document (token and admin API), with the local CLI, offline. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-redocly-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Problem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}

async function lint(): Promise<{ totals: { errors: number; warnings: number }; problems: Problem[] }> {
  const doc = writeDocument(dir);
  // A config of our own in the temporary folder: nothing is looked up elsewhere.
  await writeFile(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\n');
  const bin = join(ROOT, 'node_modules', '.bin', 'redocly');
  // Any attempt at the network goes to a closed port and fails at once.
  const env = { ...OFFLINE_ENV, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9', NO_PROXY: '' };
  const out = await promisify(execFile)(bin, ['lint', '--format', 'json', '--config', join(dir, 'redocly.yaml'), doc], { cwd: dir, env, timeout: 60_000 }).catch((err: { stdout?: string; stderr?: string }) => {
    // Exit code 1 when there are errors: the JSON is on stdout all the same.
    if (err.stdout) return { stdout: err.stdout, stderr: err.stderr ?? '' };
    throw err;
  });
  return JSON.parse(out.stdout.slice(out.stdout.indexOf('{')));
}

describe('the OpenAPI document under redocly lint (recommended rules)', () => {
  it('has no error', async () => {
    const r = await lint();
    const errors = r.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(errors).toEqual([]);
    expect(r.totals.errors).toBe(0);
    // What is left, knowingly: no licence (the project has none yet) and two operations that cannot fail with a 4xx.
    const warnings = r.problems.filter((p) => p.severity === 'warn').map((p) => `${p.ruleId} ${p.location[0]?.pointer}`);
    expect(warnings.sort()).toEqual(['info-license #/info', 'operation-4xx-response #/paths/~1v1~1health/get/responses', 'operation-4xx-response #/paths/~1v1~1openapi.json/get/responses']);
  }, 90_000);
});
