import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateProfile } from '../../functions/core/certificates/profiles.ts';
import { validateCertificate } from '../../functions/core/certificates/validator.ts';
import { BENCH_AT, nodeBaseline } from './cert-baseline.ts';

/**
 * One cold chain in a fresh process, for run.ts: `cert-child.ts <dir> ours-first|node-first`.
 * <dir> holds chain.p7b (what ours validates) and leaf.der, inter.der, root.der (the same
 * certificates, for the node:crypto baseline), and the same for a second chain, of other
 * CAs, under <dir>/second. Modules are imported and files read before any timing; then the
 * very first validateCertificate of the chain and the very first node:crypto parse + verify
 * of it are timed, in the order given; then both again on the second chain, none of whose
 * certificates either side has seen: what is left of the gap once the code has run once
 * (V8 compiles a function at its first call). Prints one JSON line.
 */
const [dir, order] = process.argv.slice(2) as [string, 'ours-first' | 'node-first'];
const read = (d: string) => ({
  p7b: new Uint8Array(readFileSync(join(d, 'chain.p7b'))),
  certs: ['leaf.der', 'inter.der', 'root.der'].map((f) => new Uint8Array(readFileSync(join(d, f)))) as [Uint8Array, Uint8Array, Uint8Array],
});
const first = read(dir);
const second = read(join(dir, 'second'));
const profile = certificateProfile('chorus-client');
const at = new Date(BENCH_AT);
const timings = { parsing: 0, signatures: 0, rules: 0 };

function ours(chain = first, t: typeof timings | null = timings): number {
  const started = performance.now();
  const valid = validateCertificate(chain.p7b, profile, { at, ...(t ? { timings: t } : {}) }).valid;
  const us = (performance.now() - started) * 1000;
  if (!valid) throw new Error('bench chain refused');
  return us;
}

function node(chain = first): number {
  const started = performance.now();
  nodeBaseline(...chain.certs);
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
const second_ours_us = ours(second, null);
const second_node_us = node(second);
const us = (ms: number) => Math.round(ms * 1000);
process.stdout.write(`${JSON.stringify({ order, ours_us, node_us, second_ours_us, second_node_us, ours_stages_us: { parsing: us(timings.parsing), signatures: us(timings.signatures), rules: us(timings.rules) } })}\n`);
