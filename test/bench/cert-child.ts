import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateProfile } from '../../functions/core/certificates/profiles.ts';
import { validateCertificate } from '../../functions/core/certificates/validator.ts';
import { BENCH_AT, nodeBaseline } from './cert-baseline.ts';

/**
 * One cold chain in a fresh process, for run.ts: `cert-child.ts <dir> ours-first|node-first`.
 * <dir> holds chain.p7b (what ours validates) and leaf.der, inter.der, root.der (the same
 * certificates, for the node:crypto baseline). Modules are imported and files read before
 * any timing; then the very first validateCertificate of the chain and the very first
 * node:crypto parse + verify of it are timed, in the order given. Prints one JSON line.
 */
const [dir, order] = process.argv.slice(2) as [string, 'ours-first' | 'node-first'];
const p7b = new Uint8Array(readFileSync(join(dir, 'chain.p7b')));
const [leaf, inter, root] = ['leaf.der', 'inter.der', 'root.der'].map((f) => new Uint8Array(readFileSync(join(dir, f)))) as [Uint8Array, Uint8Array, Uint8Array];
const profile = certificateProfile('chorus-client');
const at = new Date(BENCH_AT);
const timings = { parsing: 0, signatures: 0, rules: 0 };

function ours(): number {
  const started = performance.now();
  const valid = validateCertificate(p7b, profile, { at, timings }).valid;
  const us = (performance.now() - started) * 1000;
  if (!valid) throw new Error('bench chain refused');
  return us;
}

function node(): number {
  const started = performance.now();
  nodeBaseline(leaf, inter, root);
  return (performance.now() - started) * 1000;
}

let ours_us: number;
let node_us: number;
if (order === 'ours-first') {
  ours_us = ours();
  node_us = node();
} else {
  node_us = node();
  ours_us = ours();
}
const us = (ms: number) => Math.round(ms * 1000);
process.stdout.write(`${JSON.stringify({ order, ours_us, node_us, ours_stages_us: { parsing: us(timings.parsing), signatures: us(timings.signatures), rules: us(timings.rules) } })}\n`);
