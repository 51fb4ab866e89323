import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/** The `@aws-sdk/client-*` packages a minified ESM bundle imports (the SDK stays external: Lambda's runtime has it). */
function sdkClients(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*["']@aws-sdk\/client-([a-z0-9-]+)["']/g)) found.add(m[1] as string);
  return [...found].sort();
}

describe('the function bundles cdk synth produces', () => {
  it.each(FUNCTIONS)('keeps the $name function within its budget and its SDK clients to those it calls', ({ prefix, maxBytes, clients }) => {
    const entry = bundleOf(prefix);
    const code = readFileSync(entry, 'utf8');
    if (maxBytes !== undefined) expect(statSync(entry).size, `${entry} bytes`).toBeLessThanOrEqual(maxBytes);
    expect(sdkClients(code)).toEqual(clients);
    // Nothing a function never runs: the Powertools tracer's X-Ray SDK, the local adapters' file locks.
    expect(code).not.toContain('aws-xray-sdk');
    expect(code).not.toContain('proper-lockfile');
  });

  it('keeps the token and authorizer functions free of the certificate parser, the operator API and the full zod build', () => {
    for (const prefix of ['TokenApiToken', 'TokenApiAuthorizer']) {
      const code = readFileSync(bundleOf(prefix), 'utf8');
      // pkijs' and @peculiar/x509's class names survive minification in their error messages.
      expect(code, prefix).not.toMatch(/SignedData|CertificateChainValidationEngine|X509CertificateGenerator/);
      expect(code, prefix).not.toContain(ADMIN_MARK);
      // zod's locales (about 300 KB) come only with `import { z }`: the namespace import tree-shakes them.
      expect(code, prefix).not.toContain('Nieprawidłowe');
    }
  });

  it('ships source maps with positions only, no copy of the sources', () => {
    for (const { prefix } of FUNCTIONS) {
      const map = JSON.parse(readFileSync(`${bundleOf(prefix)}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      expect(map.sources.length, prefix).toBeGreaterThan(0);
      expect(map.sourcesContent, prefix).toBeUndefined();
    }
  });

  it('finds the certificate parser where it belongs, so that its absence above means something', () => {
    expect(readFileSync(bundleOf('CertificateIntakeFunction'), 'utf8')).toMatch(/SignedData|CertificateChainValidationEngine/);
    expect(readFileSync(bundleOf('ConsoleAdmin'), 'utf8')).toContain(ADMIN_MARK);
  });
});
