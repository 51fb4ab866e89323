import 'reflect-metadata';
import { webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A self-signed certificate for a node:crypto key pair, issued at test time. */
export async function selfSigned(
  kp: { privateKey: KeyObject; publicKey: KeyObject },
  options: { notBefore?: Date; notAfter?: Date; name?: string } = {},
): Promise<string> {
  const rsa = kp.privateKey.asymmetricKeyType === 'rsa';
  const curve = kp.privateKey.asymmetricKeyDetails?.namedCurve === 'secp521r1' ? 'P-521' : 'P-384';
  const alg = rsa ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: curve, hash: 'SHA-384' };
  // KeyObject.toCryptoKey needs Node 22.10: go through DER, which Node 20 imports too.
  const privateKey = await webcrypto.subtle.importKey('pkcs8', kp.privateKey.export({ type: 'pkcs8', format: 'der' }), alg, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', kp.publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: options.name ?? 'CN=Test Company, O=Test Company, C=BE',
    notBefore: options.notBefore ?? new Date('2026-01-01T00:00:00Z'),
    notAfter: options.notAfter ?? new Date('2028-01-01T00:00:00Z'),
    keys: { privateKey, publicKey } as unknown as CryptoKeyPair,
    signingAlgorithm: alg,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return cert.toString('pem');
}
