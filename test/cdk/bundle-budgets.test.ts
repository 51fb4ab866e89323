import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthBundles, type Synth } from '../aws/bundles.ts';

/**
 * Issue 14's budgets, on the bundles `cdk synth` produces (bin/app.ts with esbuild, as
 * `cdk deploy` uploads them): what each function carries decides its cold start, so a
 * change that pulls the certificate parser, the operator API or another SDK client into
 * a function shows here. The time budgets live in `npm run bench` (cold-start section).
 */
const KB = 1024;
/** A message of the operator API's core (functions/core/admin.ts): present only where that core is. */
const ADMIN_MARK = 'cursor is not one this API returned';
/** pkijs' and @peculiar/x509's class names, which survive minification in their messages. */
const PKI = /SignedData|CertificateChainValidationEngine|X509CertificateGenerator/;

/** Each function by its logical id prefix: its size budget and the only AWS SDK clients it may import. */
const FUNCTIONS: { name: string; prefix: string; maxBytes?: number; clients: string[] }[] = [
  { name: 'token', prefix: 'TokenApiToken', maxBytes: 400 * KB, clients: ['dynamodb', 'kms', 'secrets-manager'] },
  { name: 'authorizer', prefix: 'TokenApiAuthorizer', maxBytes: 400 * KB, clients: ['secrets-manager'] },
  { name: 'certificate', prefix: 'CertificateIntakeFunction', clients: ['dynamodb', 's3', 'secrets-manager', 'sns'] },
  { name: 'expiry', prefix: 'ExpiryWatchFunction', clients: ['dynamodb', 'secrets-manager', 'sns'] },
  { name: 'admin', prefix: 'ConsoleAdmin', clients: ['dynamodb', 's3', 'secrets-manager', 'sns'] },
  { name: 'connect', prefix: 'ConnectFunction', clients: ['dynamodb', 's3', 'secrets-manager', 'sns'] },
];

let synth: Synth;
beforeAll(async () => {
  synth = await synthBundles();
}, 240_000);
afterAll(async () => {
  await synth?.cleanup();
});

/** The asset folder's index.mjs of the one function whose logical id is `prefix` + 8 hex digits. */
function bundleOf(prefix: string): string {
  const matches = Object.entries(synth.template.Resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix) && /^[0-9A-F]{8}$/.test(id.slice(prefix.length)));
  expect(matches.map(([id]) => id), `one function named ${prefix}…`).toHaveLength(1);
  const key = ((matches[0]?.[1].Properties?.Code ?? {}) as { S3Key?: string }).S3Key ?? '';
  const entry = join(synth.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
  expect(existsSync(entry), `${prefix}: ${entry}`).toBe(true);
  return entry;
}

/** Every JavaScript file of a function's asset (index.mjs and the chunks it may load), with its bytes. */
function assetFiles(entry: string): { path: string; bytes: number; code: string }[] {
  return (readdirSync(dirname(entry), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => join(dirname(entry), f))
    .map((path) => ({ path, bytes: statSync(path).size, code: readFileSync(path, 'utf8') }));
}

/** index.mjs and every file it imports statically, transitively: what Node loads and evaluates at a cold start. */
function loadedAtStart(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    // Static imports only (`import{…}from"./x.mjs"`, `import"./x.mjs"`), not `import("./x.mjs")`, which loads at first use.
    for (const m of readFileSync(file, 'utf8').matchAll(/\bimport\s*(?:[\w${}\s,*]+?\s*from\s*)?["'](\.{1,2}\/[^"']+)["']/g)) visit(join(dirname(file), m[1] as string));
  };
  visit(entry);
  return [...seen];
}

/** The `@aws-sdk/client-*` packages a minified ESM bundle imports (the SDK stays external: Lambda's runtime has it). */
function sdkClients(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*["']@aws-sdk\/client-([a-z0-9-]+)["']/g)) found.add(m[1] as string);
  return [...found].sort();
}

describe('the function bundles cdk synth produces', () => {
  it.each(FUNCTIONS)('keeps the $name function within its budget and its SDK clients to those it calls', ({ prefix, maxBytes, clients }) => {
    const files = assetFiles(bundleOf(prefix));
    const code = files.map((f) => f.code).join('\n');
    // Everything the function may ever load, not only what it loads at start.
    if (maxBytes !== undefined) expect(files.reduce((n, f) => n + f.bytes, 0), `${prefix} bytes`).toBeLessThanOrEqual(maxBytes);
    expect(sdkClients(code)).toEqual(clients);
    // Nothing a function never runs: the Powertools tracer's X-Ray SDK, the local adapters' file locks.
    expect(code.includes('aws-xray-sdk'), 'the X-Ray SDK').toBe(false);
    expect(code.includes('proper-lockfile'), 'proper-lockfile').toBe(false);
  });

  it('keeps the token and authorizer functions free of the certificate parser, the operator API and the full zod build', () => {
    for (const prefix of ['TokenApiToken', 'TokenApiAuthorizer']) {
      const code = assetFiles(bundleOf(prefix)).map((f) => f.code).join('\n');
      expect(PKI.test(code), `${prefix}: the certificate parser`).toBe(false);
      expect(code.includes(ADMIN_MARK), `${prefix}: the operator API`).toBe(false);
      // zod's locales (about 300 KB) come only with `import { z }`: the namespace import tree-shakes them.
      expect(code.includes('Nieprawidłowe'), `${prefix}: zod's locales`).toBe(false);
    }
  });

  it('ships source maps with positions only, no copy of the sources', () => {
    for (const { prefix } of FUNCTIONS) {
      const map = JSON.parse(readFileSync(`${bundleOf(prefix)}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      expect(map.sources.length, prefix).toBeGreaterThan(0);
      expect(map.sourcesContent, prefix).toBeUndefined();
    }
  });

  it.each(['CertificateIntakeFunction', 'ConsoleAdmin', 'ConnectFunction'])('keeps the certificate parser of the %s function in a chunk of its own, loaded at the first certificate, not at start', (prefix) => {
    const entry = bundleOf(prefix);
    const atStart = loadedAtStart(entry);
    expect(atStart.length, `${prefix}: index.mjs and its static imports`).toBeGreaterThan(1);
    for (const file of atStart) expect(PKI.test(readFileSync(file, 'utf8')), `${prefix}: the parser in ${file}, loaded at start`).toBe(false);
    expect(assetFiles(entry).some((c) => !atStart.includes(c.path) && PKI.test(c.code)), `${prefix}: the parser in a chunk loaded later`).toBe(true);
  });

  it('finds the parser among the files loaded at start when a module imports a value of the validator, so that its absence above means something', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-static-'));
    try {
      mkdirSync(join(dir, 'chunks'));
      writeFileSync(join(dir, 'index.mjs'), 'import{a as b}from"./chunks/chunk-A.mjs";import"./chunks/chunk-B.mjs";const c=()=>import("./chunks/late.mjs");');
      writeFileSync(join(dir, 'chunks', 'chunk-A.mjs'), 'import{x}from"./chunk-C.mjs";export const a=1;');
      writeFileSync(join(dir, 'chunks', 'chunk-B.mjs'), 'export{};');
      writeFileSync(join(dir, 'chunks', 'chunk-C.mjs'), 'export const x="SignedData";');
      writeFileSync(join(dir, 'chunks', 'late.mjs'), 'export const y=2;');
      expect(loadedAtStart(join(dir, 'index.mjs')).map((f) => f.slice(dir.length + 1)).sort()).toEqual(['chunks/chunk-A.mjs', 'chunks/chunk-B.mjs', 'chunks/chunk-C.mjs', 'index.mjs']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the operator API where it belongs, so that its absence above means something', () => {
    expect(readFileSync(bundleOf('ConsoleAdmin'), 'utf8').includes(ADMIN_MARK)).toBe(true);
  });
});
