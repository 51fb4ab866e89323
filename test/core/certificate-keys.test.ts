import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clearCertificateCache, decodeCertificates } from '../../functions/core/certificates/der.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate made by openssl from a key of the given genpkey/ec arguments. */
function selfSigned(name: string, keyArgs: string[], compressed = false): Buffer {
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['genpkey', ...keyArgs, '-out', key], { stdio: 'ignore' });
  let signingKey = key;
  if (compressed) {
    signingKey = join(dir, `${name}-compressed.key`);
    execFileSync('openssl', ['ec', '-in', key, '-conv_form', 'compressed', '-out', signingKey], { stdio: 'ignore' });
  }
  const cert = join(dir, `${name}.der`);
  execFileSync('openssl', ['req', '-x509', '-new', '-key', signingKey, '-subj', `/CN=${name}`, '-days', '30', '-outform', 'DER', '-out', cert], { stdio: 'ignore' });
  return readFileSync(cert);
}

describe('the public key Sesame loads from a certificate', () => {
  it.each([
    ['RSA 2048', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], false],
    ['RSA 3072 with exponent 3', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072', '-pkeyopt', 'rsa_keygen_pubexp:3'], false],
    ['RSA-PSS', ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'], false],
    ['EC P-256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], false],
    ['EC P-384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], false],
    ['EC P-521', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'], false],
    ['EC P-256 with a compressed point', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], true],
    ['Ed25519', ['-algorithm', 'ED25519'], false],
  ] as const)('is the key node:crypto reads from the DER, for %s, and verifies the self-signature', (name, args, compressed) => {
    clearCertificateCache();
    const der = selfSigned(name.replace(/\W+/g, '-'), [...args], compressed);
    const decoded = decodeCertificates(new Uint8Array(der));
    if (decoded.type !== 'certificates') throw new Error(`not decoded: ${decoded.what}`);
    const [cert] = decoded.certificates;
    const loaded = cert?.publicKey();
    expect(loaded).toBeDefined();
    const reference = new X509Certificate(der).publicKey;
    expect(loaded?.asymmetricKeyType).toBe(reference.asymmetricKeyType);
    expect(loaded?.export({ type: 'spki', format: 'der' }).equals(reference.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(cert?.isIssuedBy(cert)).toBe(true);
  });
});
