import { X509Certificate } from 'node:crypto';

/**
 * The node:crypto baseline for one chain, what our validator must at least do: parse the
 * three certificates, then check each signature (leaf by the issuing CA, the issuing CA by
 * the root, the root by itself). Used by run.ts and cert-child.ts, so that both compare
 * against the same code.
 */
export function nodeBaseline(leafDer: Uint8Array, interDer: Uint8Array, rootDer: Uint8Array): void {
  const leaf = new X509Certificate(leafDer);
  const inter = new X509Certificate(interDer);
  const root = new X509Certificate(rootDer);
  if (!(leaf.verify(inter.publicKey) && inter.verify(root.publicKey) && root.verify(root.publicKey))) throw new Error('bench chain refused by node:crypto');
}

/** The validation date of the bench chains (issued for 2026-01-01 to 2028-01-01). */
export const BENCH_AT = '2027-01-01T00:00:00Z';
