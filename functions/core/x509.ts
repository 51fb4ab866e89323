import { X509Certificate } from 'node:crypto';
import { pemBlocks } from './bytes.ts';
import type { Expiry } from './platforms/types.ts';
import type { Text } from './text.ts';

/**
 * Minimal certificate facts through node:crypto, enough for the credential kinds to
 * know what expires. The full rule-by-rule validator lives with certificate intake.
 */
export interface CertificateFacts {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  sha256: string;
  certificate: X509Certificate;
}

export function parseCertificates(pem: string): CertificateFacts[] {
  return pemBlocks(pem)
    .filter((b): b is { label: string; der: Uint8Array } => b.label === 'CERTIFICATE' && b.der !== undefined)
    .map((b) => {
      const certificate = new X509Certificate(b.der);
      return {
        subject: certificate.subject,
        notBefore: new Date(certificate.validFrom),
        notAfter: new Date(certificate.validTo),
        sha256: certificate.fingerprint256.replace(/:/g, '').toLowerCase(),
        certificate,
      };
    });
}

/**
 * What lapses in a PEM chain: the leaf certificate, and separately the earliest end
 * in the rest of the chain when an intermediate or root lapses first.
 */
export function chainExpiries(pem: string | undefined, leafLabel: Text, chainLabel: Text): Expiry[] {
  if (!pem) return [];
  const [leaf, ...rest] = parseCertificates(pem);
  if (!leaf) return [];
  const out: Expiry[] = [{ what: leafLabel, at: leaf.notAfter }];
  const earliest = rest.reduce<Date | undefined>((min, c) => (!min || c.notAfter < min ? c.notAfter : min), undefined);
  if (earliest && earliest < leaf.notAfter) out.push({ what: chainLabel, at: earliest });
  return out;
}
