import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { compactVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../functions/adapters/fetch-http-client.ts';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import type { Principal } from '../../functions/core/apps.ts';
import { Broker } from '../../functions/core/broker.ts';
import type { RetryPolicy } from '../../functions/core/oauth.ts';
import type { HttpClient, HttpRequest } from '../../functions/core/ports.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { cli, type CliResult } from '../helpers/cli.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/**
 * An FLA key rotation end to end, as an operator runs it: `sesame fla keygen --next`,
 * the new certificate added to the same client of the loopback OAuth server (Chaman),
 * `sesame fla activate`, `sesame fla retire`, each in its own `sesame` process over a
 * local store that a broker in this process serves tokens from. The OAuth server checks
 * every assertion against the keys registered on the client; which key signed each one
 * is read from the assertions the broker sent.
 */

const CLIENT = 'self_service_chaman_rotation';
const TENANT = 'cfa-rot';
const CRED = 'fla-employer';
const FAST: RetryPolicy = { timeoutMs: 2_000, attempts: 2, minDelayMs: 1, maxDelayMs: 5 };
const principal: Principal = { app: 'rotation-test', tenants: new Set([TENANT]), kinds: undefined };

let home: string;
let dir: string;
let oauth: OAuthServer;
let system: System;
const log = new MemoryLog();
const outputs: string[] = [];
/** The client assertion of every token request the brokers made, in order. */
const assertions: string[] = [];
const keys: Record<string, KeyObject> = {};

const run = cli(() => home);
async function sesame(args: string[], stdin = ''): Promise<CliResult> {
  const r = await run(args, stdin);
  outputs.push(r.stdout, r.stderr);
  return r;
}

/** The real HTTP client, keeping each assertion it sends (never printed). */
const recording: HttpClient = {
  request(req: HttpRequest) {
    const assertion = new URLSearchParams(req.body ?? '').get('client_assertion');
    if (assertion) assertions.push(assertion);
    return new FetchHttpClient().request(req);
  },
};

/** The names of the keys that signed the assertions sent since `from`. */
async function signersSince(from: number): Promise<string[]> {
  const names: string[] = [];
  for (const jwt of assertions.slice(from)) {
    let name = 'unknown';
    for (const [n, key] of Object.entries(keys)) {
      try {
        await compactVerify(jwt, key);
        name = n;
        break;
      } catch {
        // another key
      }
    }
    names.push(name);
  }
  return names;
}

/** A token from a broker that has never seen this credential (another container): always an upstream call. */
async function freshToken() {
  const broker = new Broker({ credentials: system.credentials, http: recording, clock: system.clock, log }, { secretTtlSeconds: 0, retry: FAST });
  const from = assertions.length;
  const body = await broker.token(principal, TENANT, CRED);
  return { body, signers: await signersSince(from) };
}

/** Tokens asked for over and over while `work` runs: every one of them must come. */
async function tokensThroughout<T>(work: Promise<T>): Promise<{ result: T; served: number; failures: string[] }> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  let served = 0;
  const failures: string[] = [];
  // Bounded by the child process: the loop ends when it exits.
  while (!done) {
    try {
      await freshToken();
      served += 1;
    } catch (err) {
      failures.push((err as Error).message);
    }
    await pause(25);
  }
  return { result: await settled, served, failures };
}

const sha256Of = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
const state = async () => JSON.parse((await sesame(['fla', 'keys', TENANT, CRED, '--json'])).stdout) as { active: { certificate_sha256: string }; next: { certificate_sha256: string } | null; previous: { certificate_sha256: string } | null };

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-rotation-'));
  dir = await mkdtemp(join(tmpdir(), 'sesame-rotation-files-'));
  expect((await sesame(['tenant', 'add', TENANT, '--name', 'CFA Rotation', '--bce', '0123456749'])).code).toBe(0);
  const first = await sesame(['fla', 'keygen', TENANT, CRED, '--quality', 'employer', '--env', 'acceptance', '--alg', 'ES384', '--out', join(dir, 'first.cer')]);
  expect(first.code, first.stderr).toBe(0);
  keys.first = new X509Certificate(await readFile(join(dir, 'first.cer'))).publicKey;
  oauth = await startOAuthServer({ clients: [{ client_id: CLIENT, auth: 'private_key_jwt', publicKey: keys.first }] });
  const merged = await sesame(['credential', 'set', TENANT, CRED, '--merge'], JSON.stringify({ client_id: CLIENT, token_endpoint: oauth.tokenEndpoint }));
  expect(merged.code, merged.stderr).toBe(0);
  // The broker reads the store the CLI writes, at every request (as after its 30 s cache).
  system = buildSystem({ store: await LocalSecretStore.open(home), log, version: 'test', http: recording, broker: { secretTtlSeconds: 0, retry: FAST } });
});

afterAll(async () => {
  await oauth?.close();
  await rm(home, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

describe('an FLA key rotation without downtime', () => {
  let firstSha: string;
  let nextSha: string;

  it('serves tokens signed by the first key before the rotation', async () => {
    const t = await system.broker.token(principal, TENANT, CRED);
    expect(t).toMatchObject({ kind: 'fla', token_type: 'Bearer', cached: false });
    expect(await signersSince(0)).toEqual(['first']);
    firstSha = (await state()).active.certificate_sha256;
    expect(firstSha).toBe(await sha256Of(join(dir, 'first.cer')));
  });

  it('keygen --next stores the next key beside the active one, writes its .cer and says to add it to the same Chaman account', async () => {
    const { result: r, served, failures } = await tokensThroughout(sesame(['fla', 'keygen', '--next', TENANT, CRED, '--out', join(dir, 'next.cer')]));
    expect(r.code, r.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^Next key pair generated \(EC P-384, ES384, certificate sha256 [0-9a-f]{16}…, valid until \d{4}-\d\d-\d\d\) beside the active one \(EC P-384, ES384, certificate sha256 [0-9a-f]{16}…/);
    expect(r.stdout).toContain(`Open the existing REST web-service account (Client ID ${CLIENT}), then "Add a certificate": upload the new .cer file and name it. Do not delete the old certificate`);
    expect(r.stdout).toContain(`\`sesame fla activate ${TENANT} ${CRED}\``);
    expect(r.stdout).toContain('« Ajouter un certificat »');
    keys.next = new X509Certificate(await readFile(join(dir, 'next.cer'))).publicKey;
    nextSha = await sha256Of(join(dir, 'next.cer'));
    expect(await state()).toMatchObject({ active: { certificate_sha256: firstSha }, next: { certificate_sha256: nextSha }, previous: null });

    // Tokens still come from the first key: the next one signs nothing yet.
    const from = assertions.length;
    await system.broker.token(principal, TENANT, CRED);
    expect(await signersSince(from)).toEqual(['first']);
    // A second next key is refused without --replace: its certificate may be in Chaman already.
    const again = await sesame(['fla', 'keygen', '--next', TENANT, CRED, '--out', join(dir, 'again.cer')]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has a next key .*nothing was changed/);
  });

  it('activate refuses while Chaman does not have the next certificate, and nothing changes', async () => {
    const { result: r, failures } = await tokensThroughout(sesame(['fla', 'activate', TENANT, CRED]));
    expect(failures).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^sesame: the token endpoint refused the next key of ${TENANT}/${CRED} \\(401 invalid_client\\): nothing was changed; add its certificate sha256 ${nextSha.slice(0, 16)}… to the Chaman account \\(Client ID ${CLIENT}\\)`));
    expect(await state()).toMatchObject({ active: { certificate_sha256: firstSha }, next: { certificate_sha256: nextSha } });
  });

  it('activate switches once the next certificate is on the same client, and tokens keep coming throughout', async () => {
    await oauth.addClientKey(CLIENT, keys.next as KeyObject);
    const { result: r, served, failures } = await tokensThroughout(sesame(['fla', 'activate', TENANT, CRED, '--json']));
    expect(r.code, r.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tenant: TENANT, credential: CRED, check: { status: 'ok' }, active: { certificate_sha256: nextSha }, previous: { certificate_sha256: firstSha }, dropped: null });
    expect(await state()).toMatchObject({ active: { certificate_sha256: nextSha }, next: null, previous: { certificate_sha256: firstSha } });
    expect((await freshToken()).signers).toEqual(['next']);
  });

  it('falls back on the previous key when the active one is refused, and will not retire it then', async () => {
    // Chaman has not taken the new certificate everywhere yet.
    await oauth.removeClientKey(CLIENT, keys.next as KeyObject);
    try {
      log.lines.length = 0;
      const { body, signers } = await freshToken();
      expect(body.access_token).toBeTruthy();
      expect(signers).toEqual(['next', 'first']);
      const warned = log.lines.filter((l) => l.includes('fallback'));
      expect(warned.map((l) => JSON.parse(l).message)).toEqual(['the token endpoint refused the key, trying the fallback key', 'access token obtained with the fallback key']);
      expect(warned.join('\n')).toMatch(/"tenant":"cfa-rot","credential":"fla-employer","key":"active","fallback_key":"previous","upstream_status":401,"upstream_error":"invalid_client"/);

      const refused = await sesame(['fla', 'retire', TENANT, CRED]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/refused the active key .*nothing was changed; the previous key may be what still obtains tokens/);
      expect((await state()).previous).toMatchObject({ certificate_sha256: firstSha });
    } finally {
      await oauth.addClientKey(CLIENT, keys.next as KeyObject);
    }
  });

  it('retire drops the previous key, says which certificate to delete in Chaman, and tokens keep coming', async () => {
    const { result: r, served, failures } = await tokensThroughout(sesame(['fla', 'retire', TENANT, CRED]));
    expect(r.code, r.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);
    expect(r.stdout).toContain(`delete the old certificate (SHA-256 ${firstSha})`);
    expect(await state()).toMatchObject({ active: { certificate_sha256: nextSha }, next: null, previous: null });
    expect((await freshToken()).signers).toEqual(['next']);
  });

  it('after retirement only the active key works: the first key is no longer tried', async () => {
    await oauth.removeClientKey(CLIENT, keys.first as KeyObject);
    expect((await freshToken()).signers).toEqual(['next']);
    await oauth.addClientKey(CLIENT, keys.first as KeyObject);
    await oauth.removeClientKey(CLIENT, keys.next as KeyObject);
    const from = assertions.length;
    await expect(freshToken()).rejects.toMatchObject({ code: 'upstream_rejected', details: { upstream_error: 'invalid_client' } });
    expect(await signersSince(from)).toEqual(['next']);
  });

  it('keygen --replace of the active key ends a rotation in progress, and says so', async () => {
    expect((await sesame(['fla', 'keygen', '--next', TENANT, CRED, '--quality', 'employer', '--out', join(dir, 'usage.cer')])).code).toBe(2);
    expect((await sesame(['fla', 'keygen', '--next', TENANT, CRED, '--out', join(dir, 'third.cer')])).code).toBe(0);
    expect((await state()).next).not.toBeNull();
    const r = await sesame(['fla', 'keygen', TENANT, CRED, '--replace', '--alg', 'ES384', '--out', join(dir, 'replaced.cer')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('The next key of the rotation in progress was dropped with the replaced key.');
    expect(await state()).toMatchObject({ active: { certificate_sha256: await sha256Of(join(dir, 'replaced.cer')) }, next: null, previous: null });
  });

  it('never printed a private key', () => {
    const printed = [...outputs, ...log.lines].join('\n');
    expect(printed).not.toMatch(/PRIVATE KEY/);
    for (const jwt of assertions) expect(printed).not.toContain(jwt);
  });
});
