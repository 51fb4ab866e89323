import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateProfile } from '../../functions/core/certificates/profiles.ts';
import type { ValidationOptions } from '../../functions/core/certificates/profile.ts';
import { validateCertificate, type CertificateReport } from '../../functions/core/certificates/validator.ts';
import { chorusChain, EKU, issue, KU, p7b, pemOf, type Issued } from '../helpers/pki.ts';

const AT = new Date('2026-11-21T12:00:00Z');
const run = (bytes: Uint8Array, profile: string, options: ValidationOptions = {}): CertificateReport =>
  validateCertificate(bytes, certificateProfile(profile), { at: AT, ...options });
const codes = (r: CertificateReport) => r.errors.map((e) => e.code).sort();
const warningCodes = (r: CertificateReport) => r.warnings.map((w) => w.code).sort();
const enc = (s: string) => new TextEncoder().encode(s);

const fla = (o: Partial<Parameters<typeof issue>[0]> = {}) => issue({ subject: 'CN=CFA Bruxelles, O=CFA Bruxelles, C=BE', ...o });

describe('the fla profile', () => {
  it.each([
    ['RSA 2048, SHA-256', {}, []],
    ['RSA 3072', { shape: 'rsa3072' }, []],
    ['RSA 4096, SHA-512', { shape: 'rsa4096', digest: 'SHA-512' }, []],
    ['EC P-384, SHA-384', { shape: 'ec384', digest: 'SHA-384' }, []],
    ['EC P-521', { shape: 'ec521', digest: 'SHA-512' }, []],
    ['RSA 1024', { shape: 'rsa1024' }, ['key_size']],
    ['EC P-256', { shape: 'ec256' }, ['curve']],
    ['Ed25519', { shape: 'ed25519' }, ['digest', 'key_algorithm']],
    ['SHA-1', { digest: 'SHA-1' }, ['digest']],
    ['key usage without digitalSignature', { keyUsage: KU.keyEncipherment }, ['key_usage']],
    ['no key usage', { keyUsage: null }, ['key_usage']],
    ['expired', { notAfter: new Date('2026-06-01T00:00:00Z') }, ['expired']],
    ['not yet valid', { notBefore: new Date('2027-01-01T00:00:00Z') }, ['not_yet_valid']],
  ] as const)('%s gives %j', async (_label, options, expected) => {
    const cert = await fla(options as Parameters<typeof issue>[0]);
    const r = run(cert.der, 'fla');
    expect(codes(r)).toEqual([...expected].sort());
    expect(r.valid).toBe(expected.length === 0);
  });

  it('reports the certificate facts', async () => {
    const cert = await fla({ shape: 'ec384', digest: 'SHA-384' });
    const r = run(cert.der, 'fla');
    expect(r.certificates).toEqual([
      expect.objectContaining({
        subject: 'CN=CFA Bruxelles, O=CFA Bruxelles, C=BE',
        key: { type: 'ec', curve: 'P-384' },
        signature_digest: 'SHA-384',
        key_usage: ['digitalSignature'],
        not_after: '2028-01-01T00:00:00.000Z',
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
    expect(r.errors).toEqual([]);
  });

  it('checks the certificate against the credential’s private key', async () => {
    const cert = await fla();
    const other = await fla({ shape: 'ec384' });
    expect(codes(run(cert.der, 'fla', { privateKeyPem: cert.privatePem }))).toEqual([]);
    expect(codes(run(cert.der, 'fla', { privateKeyPem: other.privatePem }))).toEqual(['key_mismatch']);
  });

  it('leaves node:crypto usable after comparing keys of different types', async () => {
    const rsa = await fla();
    const ec = await fla({ shape: 'ec384' });
    expect(codes(run(rsa.der, 'fla', { privateKeyPem: ec.privatePem }))).toEqual(['key_mismatch']);
    // KeyObject.equals() across key types left an OpenSSL error behind that broke this import.
    await expect(webcrypto.subtle.importKey('pkcs8', rsa.privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign'])).resolves.toBeDefined();
  });

  it('accepts a CA-issued certificate without its chain, with a warning', async () => {
    const { leaf } = await chorusChain();
    const r = run(leaf.der, 'fla');
    expect(codes(r)).toEqual([]);
    expect(warningCodes(r)).toEqual(['chain_not_included']);
  });

  it('writes each message in French and English', async () => {
    const r = run((await fla({ digest: 'SHA-1' })).der, 'fla');
    expect(r.errors[0]?.message.fr).toMatch(/exige SHA-256/);
    expect(r.errors[0]?.message.en).toMatch(/requires SHA-256/);
  });
});

describe('formats', () => {
  let cert: Issued;
  beforeAll(async () => {
    cert = await fla();
  });

  it.each([
    ['DER', () => cert.der],
    ['PEM', () => enc(cert.pem)],
    ['PEM with CRLF and text around it', () => enc(`Bag Attributes\r\n${cert.pem.replace(/\n/g, '\r\n')}\r\ntrailing notes\r\n`)],
    ['base64 without PEM lines', () => enc(Buffer.from(cert.der).toString('base64'))],
    ['PKCS#7 DER', () => p7b([cert])],
    ['PKCS#7 PEM', () => p7b([cert], 'pem')],
  ])('reads %s', (_label, bytes) => {
    expect(run(bytes(), 'fla')).toMatchObject({ valid: true, certificates: [{ sha256: expect.any(String) }] });
  });

  it.each([
    ['an empty file', () => new Uint8Array(), 'parse'],
    ['random bytes', () => new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256)), 'parse'],
    ['a truncated DER certificate', () => cert.der.slice(0, cert.der.length - 10), 'parse'],
    ['DER with bytes after the end', () => new Uint8Array([...cert.der, 0, 0]), 'parse'],
    ['a PEM block cut before its END line', () => enc(cert.pem.slice(0, 200)), 'parse'],
    ['a PEM certificate whose body is not base64', () => enc('-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n'), 'parse'],
    ['a certificate request', () => enc('-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n'), 'format'],
    ['a PKCS#8 private key in PEM', () => enc(`${cert.pem}\n${cert.privatePem}`), 'private_key'],
    ['a PKCS#8 private key in DER', () => new Uint8Array(cert.privateKey.export({ type: 'pkcs8', format: 'der' })), 'private_key'],
    ['an RSA private key in PEM', () => enc(cert.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), 'private_key'],
    ['an encrypted private key', () => enc(cert.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString()), 'private_key'],
    ['a 65 KiB file', () => new Uint8Array(65 * 1024).fill(0x41), 'too_large'],
  ])('refuses %s with %s', (_label, bytes, code) => {
    const r = run(bytes(), 'fla');
    expect(r.valid).toBe(false);
    expect(codes(r)).toEqual([code]);
    expect(r.errors[0]?.message.en.length).toBeGreaterThan(20);
  });
});

describe('the chorus profiles', () => {
  let good: Awaited<ReturnType<typeof chorusChain>>;
  beforeAll(async () => {
    good = await chorusChain();
  });

  it('accepts a complete chain, saying that the policy was not checked', () => {
    const r = run(p7b([good.leaf, good.inter, good.root]), 'chorus-client');
    expect(codes(r)).toEqual([]);
    expect(warningCodes(r)).toEqual(['policy_not_checked', 'root_not_checked']);
    expect(r.certificates.map((c) => c.subject)).toEqual([good.leaf.name, good.inter.name, good.root.name]);
  });

  it.each([
    ['root, leaf, intermediate', () => [good.root, good.leaf, good.inter]],
    ['root, intermediate, leaf', () => [good.root, good.inter, good.leaf]],
    ['intermediate, root, leaf', () => [good.inter, good.root, good.leaf]],
  ])('builds the chain whatever the order: %s', (_label, order) => {
    const r = run(pemOf(...order()), 'chorus-client');
    expect(codes(r)).toEqual([]);
    expect(r.certificates[0]?.subject).toBe(good.leaf.name);
  });

  it('refuses a chain without its intermediate', () => {
    expect(codes(run(p7b([good.leaf, good.root]), 'chorus-client'))).toEqual(['chain_incomplete']);
    expect(codes(run(good.leaf.der, 'chorus-client'))).toEqual(['chain_incomplete']);
  });

  it('refuses a forged intermediate: the right name, another key', async () => {
    const forged = await issue({ subject: good.inter.name, issuer: good.root, ca: true, shape: 'ec521' });
    const r = run(p7b([good.leaf, forged, good.root]), 'chorus-client');
    expect(codes(r)).toEqual(['chain_signature']);
    expect(r.errors[0]?.message.en).toMatch(/forged/);
  });

  it('refuses an intermediate not signed by the root it names', async () => {
    const otherRoot = await issue({ subject: good.root.name, ca: true, shape: 'ec384', digest: 'SHA-384' });
    expect(codes(run(p7b([good.leaf, good.inter, otherRoot]), 'chorus-client'))).toEqual(['chain_signature']);
  });

  it.each([
    ['client', 'clientAuth', { eku: [EKU.clientAuth] }, []],
    ['client', 'both', { eku: [EKU.clientAuth, EKU.serverAuth] }, ['extended_key_usage']],
    ['client', 'serverAuth', { eku: [EKU.serverAuth] }, ['extended_key_usage']],
    ['client', 'none', { eku: null }, ['extended_key_usage']],
    ['server', 'serverAuth, KU DS+KE', { eku: [EKU.serverAuth] }, []],
    ['server', 'serverAuth, KU DS only', { eku: [EKU.serverAuth], keyUsage: KU.digitalSignature }, ['key_usage']],
    ['server', 'clientAuth', { eku: [EKU.clientAuth] }, ['extended_key_usage']],
    ['signature', 'nonRepudiation only', { eku: null, keyUsage: KU.nonRepudiation }, []],
    ['signature', 'keyEncipherment only', { eku: null, keyUsage: KU.keyEncipherment }, ['key_usage']],
  ] as const)('chorus-%s with %s gives %j', async (usage, _label, leaf, expected) => {
    const c = await chorusChain(leaf as Parameters<typeof chorusChain>[0]);
    expect(codes(run(p7b([c.leaf, c.inter, c.root]), `chorus-${usage}`))).toEqual([...expected]);
  });

  it('refuses person certificates', async () => {
    const c = await chorusChain({ subject: 'CN=Jeanne Martin, 2.5.4.42=Jeanne, 2.5.4.4=Martin, O=CFA Paris, C=FR' });
    expect(codes(run(p7b([c.leaf, c.inter, c.root]), 'chorus-client'))).toEqual(['person_certificate']);
  });

  it('accepts a test certificate for a sandbox credential only, with a warning', async () => {
    const c = await chorusChain({}, { root: 'CN=AC TEST Racine, O=Sesame, C=FR', inter: 'CN=AC TEST Serveurs, O=Sesame, C=FR' });
    const bytes = p7b([c.leaf, c.inter, c.root]);
    expect(codes(run(bytes, 'chorus-client', { environment: 'production' }))).toEqual(['policy']);
    const sandbox = run(bytes, 'chorus-client', { environment: 'sandbox' });
    expect(codes(sandbox)).toEqual([]);
    expect(warningCodes(sandbox)).toEqual(['policy_not_checked', 'root_not_checked', 'test_certificate']);
    const byOid = await chorusChain({ policies: ['1.2.3.4.5.9'] });
    expect(codes(run(p7b([byOid.leaf, byOid.inter, byOid.root]), 'chorus-client', { testPolicyOids: ['1.2.3.4.5.9'] }))).toEqual(['policy']);
  });

  it('checks the policy against the allow-list along the whole path when one is configured', async () => {
    const rgs = '1.2.250.1.137.2.2.1.2';
    const root = await issue({ subject: 'CN=RGS Root, C=FR', ca: true });
    const chainUnder = async (interPolicies: string[] | undefined) => {
      const inter = await issue({ subject: 'CN=RGS CA, C=FR', issuer: root, ca: true, ...(interPolicies ? { policies: interPolicies } : {}) });
      const leaf = await issue({ subject: 'CN=edi.example, O=X, C=FR', issuer: inter, eku: [EKU.clientAuth], policies: [rgs] });
      return p7b([leaf, inter, root]);
    };
    for (const covering of [[rgs], ['2.5.29.32.0']]) {
      const ok = run(await chainUnder(covering), 'chorus-client', { policyAllowList: [rgs] });
      expect(codes(ok), `intermediate policies ${covering}`).toEqual([]);
      expect(warningCodes(ok)).toEqual(['root_not_checked']);
    }
    // The leaf names the policy, but its CA does not cover it: the policy is not valid on the path.
    expect(codes(run(await chainUnder(['1.2.250.1.137.2.2.1.9']), 'chorus-client', { policyAllowList: [rgs] }))).toEqual(['policy']);
    expect(codes(run(await chainUnder(undefined), 'chorus-client', { policyAllowList: [rgs] }))).toEqual(['policy']);
    expect(codes(run(await chainUnder([rgs]), 'chorus-client', { policyAllowList: ['1.2.250.1.999'] }))).toEqual(['policy']);
  });

  it('refuses a chain whose intermediate has expired', async () => {
    const root = await issue({ subject: 'CN=R, C=FR', ca: true });
    const inter = await issue({ subject: 'CN=I, C=FR', issuer: root, ca: true, notAfter: new Date('2026-10-01T00:00:00Z') });
    const leaf = await issue({ subject: 'CN=L, O=X, C=FR', issuer: inter, eku: [EKU.clientAuth] });
    const r = run(p7b([leaf, inter, root]), 'chorus-client');
    expect(codes(r)).toEqual(['expired']);
    expect(r.errors[0]?.message.en).toBe('the intermediate certificate "CN=I, C=FR" (number 2 in the chain) expired on 2026-10-01: ask the certification authority for a current one.');
    expect(r.errors[0]?.certificate).toEqual({ position: 2, subject: 'CN=I, C=FR' });
  });

  it('gives the same report from a cold parse and from the parse cache, and still catches a forgery', async () => {
    const { clearCertificateCache } = await import('../../functions/core/certificates/der.ts');
    const bytes = p7b([good.leaf, good.inter, good.root]);
    clearCertificateCache();
    const cold = run(bytes, 'chorus-client');
    const warm = run(bytes, 'chorus-client');
    expect(warm).toEqual(cold);
    // The genuine intermediate is cached by its bytes; a forged one has other bytes.
    const forged = await issue({ subject: good.inter.name, issuer: good.root, ca: true, shape: 'ec521' });
    expect(codes(run(p7b([good.leaf, forged, good.root]), 'chorus-client'))).toEqual(['chain_signature']);
  });

  it('refuses two end-entity certificates in one file', async () => {
    const other = await issue({ subject: 'CN=other.example, C=FR', issuer: good.inter, eku: [EKU.clientAuth] });
    expect(codes(run(p7b([good.leaf, other, good.inter, good.root]), 'chorus-client'))).toEqual(['format']);
  });

  it('accepts an old SHA-1 self-signature on the root', async () => {
    const root = await issue({ subject: 'CN=Old Root, C=FR', ca: true, digest: 'SHA-1' });
    const inter = await issue({ subject: 'CN=New CA, C=FR', issuer: root, ca: true });
    const leaf = await issue({ subject: 'CN=x.example, O=X, C=FR', issuer: inter, eku: [EKU.clientAuth] });
    expect(codes(run(p7b([leaf, inter, root]), 'chorus-client'))).toEqual([]);
  });
});

