import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TYPES, generateApiTypes, ROOT } from '../bin/openapi-types.ts';

/**
 * The typed client (functions/console/web/generated/api.ts) is generated from the
 * OpenAPI document: it must be the one committed, and the core's own types must fit
 * the document's in both directions, so that neither can drift from the other.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-openapi-types-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const FIXTURE = `
import type { components, paths } from ${JSON.stringify(API_TYPES)};
import type { CredentialDetail, CredentialPage, CredentialStatus, Operator, TenantView, Timeline, UploadVerdict, AppView } from ${JSON.stringify(join(ROOT, 'functions/core/admin.ts'))};

type S = components['schemas'];
type Page = paths['/v1/admin/credentials']['get']['responses']['200']['content']['application/json'];
type Query = NonNullable<paths['/v1/admin/credentials']['get']['parameters']['query']>;

/** A typed fetch of the overview, as a script or the console would write it. */
export async function overview(base: string, token: string, query: Query): Promise<Page> {
  const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await fetch(\`\${base}/v1/admin/credentials?\${params}\`, { headers: { authorization: \`Bearer \${token}\` } });
  return (await res.json()) as Page;
}

export async function use(): Promise<unknown[]> {
  const page = await overview('http://127.0.0.1', 'token', { status: 'expiring', limit: 10, platform: 'opco' });
  const statuses: S['Status'][] = page.items.map((i) => i.status);
  const days: (number | null)[] = page.items.map((i) => i.days_left);
  const next: string | null = page.next_cursor;
  const ok: number = page.counts.ok;
  // @ts-expect-error: not a status
  const bad: S['Status'] = 'fine';
  // @ts-expect-error: not a field of the overview
  const none = page.items[0]?.secret;
  return [statuses, days, next, ok, bad, none];
}

/** The core's answers are what the document says, and the other way round. */
const same = <A, B>(a: A, b: B): [A, B] => [a, b];
declare const core: { page: CredentialPage; status: CredentialStatus; detail: CredentialDetail; timeline: Timeline; tenant: TenantView; verdict: UploadVerdict; app: AppView; me: Operator };
declare const doc: { page: S['CredentialPage']; status: S['CredentialStatus']; detail: S['CredentialDetail']; timeline: S['Timeline']; tenant: S['Tenant']; verdict: S['UploadVerdict']; app: S['App']; me: S['Operator'] };
export const fromCore: { page: S['CredentialPage']; status: S['CredentialStatus']; detail: S['CredentialDetail']; timeline: S['Timeline']; tenant: S['Tenant']; verdict: S['UploadVerdict']; app: S['App']; me: S['Operator'] } = core;
// Finding codes are plain strings in the document (the validator's codes grow): detail and verdict are checked one way.
export const fromDoc: { page: CredentialPage; status: CredentialStatus; timeline: Timeline; tenant: TenantView; app: AppView; me: Operator } = doc;
export const both = same(core, doc);
`;

async function tsc(): Promise<{ code: number; output: string }> {
  await writeFile(join(dir, 'client.mts'), FIXTURE);
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { noEmit: true, typeRoots: [join(ROOT, 'node_modules', '@types')], skipLibCheck: true }, files: ['client.mts'], include: [] }),
  );
  try {
    const r = await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir, timeout: 120_000 });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('the typed client generated from the OpenAPI document', () => {
  it('is the committed one: run `npm run openapi:types` after changing the document', async () => {
    const out = join(dir, 'api.ts');
    generateApiTypes(out);
    expect(await readFile(out, 'utf8')).toBe(await readFile(API_TYPES, 'utf8'));
  }, 60_000);

  it("types a fetch of the overview, and the core's answers fit the document's schemas both ways", async () => {
    const r = await tsc();
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);
});
