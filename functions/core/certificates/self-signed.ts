import 'reflect-metadata';
import { generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type WebKey = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys']['privateKey'];

export type KeySpec = { type: 'rsa'; bits: 2048 | 3072 | 4096 } | { type: 'ec'; curve: 'P-384' | 'P-521' };

/**
 * A key pair and a self-signed certificate for it, key usage Digital Signature only:
 * what Chaman accepts for a web-service account when no qualified certificate is used.
 */
export async function selfSignedCertificate(spec: KeySpec, subject: { CN: string; O: string; organizationIdentifier?: string; C: string }, validity: { from: Date; days: number }): Promise<{ privateKey: KeyObject; der: Uint8Array; pem: string }> {
  const pair = spec.type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: spec.bits }) : generateKeyPairSync('ec', { namedCurve: spec.curve });
  const alg = spec.type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: spec.curve, hash: spec.curve === 'P-384' ? 'SHA-384' : 'SHA-512' };
  // KeyObject.toCryptoKey needs Node 22.10: go through DER, which Node 20 imports too.
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pair.privateKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', pair.publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
  const name: x509.JsonName = [{ CN: [subject.CN] }, { O: [subject.O] }, ...(subject.organizationIdentifier ? [{ '2.5.4.97': [subject.organizationIdentifier] }] : []), { C: [subject.C] }];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // Positive, 16 random bytes (RFC 5280: at most 20 octets, non-negative).
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    name,
    notBefore: validity.from,
    notAfter: new Date(validity.from.getTime() + validity.days * 86_400_000),
    keys: { privateKey: privateKey as unknown as WebKey, publicKey: publicKey as unknown as WebKey },
    signingAlgorithm: alg,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return { privateKey: pair.privateKey, der: new Uint8Array(cert.rawData), pem: cert.toString('pem') };
}
