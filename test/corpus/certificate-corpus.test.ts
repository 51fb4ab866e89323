import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { certificateProfile } from '../../functions/core/certificates/profiles.ts';
import { validateCertificate, type CertificateSummary } from '../../functions/core/certificates/validator.ts';
import { testdataDir } from '../helpers/testdata.ts';

/**
 * The third-party corpus in ../shared/testdata/x509 (298 files from BoringSSL, cfssl,
 * rustls, rust-openssl, x509-limbo, pyca/cryptography): every file gets a report.
 */
const ROOT = testdataDir('x509');
const AT = new Date('2026-11-21T12:00:00Z');
const lines = readFileSync(join(ROOT, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
const header = (lines[0] as string).split('\t');
const rows = lines.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [header[i], v])) as Record<string, string>);

/** Files OpenSSL reads that Sesame refuses as unreadable, on purpose: each with why. */
const STRICTER: Record<string, string> = {
  'boringssl/pki/testdata/parse_certificate_unittest/failed_signature_algorithm.pem': 'the outer signature AlgorithmIdentifier is malformed DER',
  // OpenSSL reads these and refuses them only when an extension is used; BoringSSL's own tests expect them refused.
  ...Object.fromEntries(
    ['basic_constraints', 'ext_key_usage', 'key_usage', 'name_constraints', 'subject_alt_name'].flatMap((e) => [
      [`boringssl/crypto/x509/test/invalid_extension_leaf_${e}.pem`, `the ${e} extension's value is not DER`],
      [`boringssl/crypto/x509/test/trailing_data_leaf_${e}.pem`, `bytes after the ${e} extension's value`],
    ]),
  ),
  ...Object.fromEntries(['root', 'intermediate'].flatMap((w) => ['key_usage', 'ext_key_usage'].map((e) => [`boringssl/crypto/x509/test/invalid_extension_${w}_${e}.pem`, `the ${w}'s ${e} extension is not DER`]))),
  'boringssl/crypto/x509/test/unusual_tbs_critical_ber.pem': 'a critical flag that is BER, not DER',
  'boringssl/crypto/x509/test/unusual_tbs_critical_false_not_omitted.pem': 'critical=FALSE written out, which DER omits',
  'boringssl/pki/testdata/parse_certificate_unittest/extension_critical_0.pem': 'critical=FALSE written out, which DER omits',
  'boringssl/pki/testdata/parse_certificate_unittest/extension_critical_3.pem': 'a critical flag that is neither TRUE nor FALSE in DER',
  'boringssl/pki/testdata/parse_certificate_unittest/extensions_duplicate_key_usage.pem': 'the same extension twice (RFC 5280 §4.2)',
  'boringssl/pki/testdata/parse_certificate_unittest/bad_validity.pem': 'validity dates that are not UTCTime/GeneralizedTime as RFC 5280 writes them',
  'boringssl/pki/testdata/parse_certificate_unittest/basic_constraints_negative_path.pem': 'a negative pathLenConstraint',
  'boringssl/pki/testdata/parse_certificate_unittest/basic_constraints_unconsumed_data.pem': 'bytes left over inside basicConstraints',
  'boringssl/fuzz/cert_corpus/32585c72f201b556c98be5dd5da1144230c527a3': 'fuzzed: the same extension twice',
  'boringssl/fuzz/cert_corpus/01f0bc1bd4b94f8f8c0867d289ec8a4b3c8905fe': 'fuzzed: a basicConstraints value overrunning its extension',
  'boringssl/fuzz/cert_corpus/0f845604775fb8dac06bc8c80bbedba128f7a96f': 'fuzzed: a name value asn1js cannot decode',
  'boringssl/fuzz/cert_corpus/3377dcd98d7cf9446f13cef5c2c9eb4bfb46a574': 'fuzzed: a name value asn1js cannot decode',
  'boringssl/fuzz/cert_corpus/36ace68d189b6d3cf23f1cc44df698d700986926': 'fuzzed: BER that is not valid DER',
  ...Object.fromEntries(
    ['12a9daa27150bc163815b92f7d8d12a19080342f', '2df27b0263191cb8029ca6f646f543e647c5c6ad', '354ad535f3e1989636660154a3fdf5b03c22e3fa', '047746a08d38a07ce30952f8992e47e6f9c42c02', '07802918a9947a2b9b3db9e93b92acaa04010a65'].map((f) => [
      `boringssl/fuzz/cert_corpus/${f}`,
      'fuzzed: inner and outer signature algorithms differ (RFC 5280 §4.1.1.2)',
    ]),
  ),
};

/** The manifest's key column, in the report's terms; undefined when it names no standard key. */
function expectedKey(k: string): Partial<CertificateSummary['key']> | undefined {
  let m = /^RSA(?:-(\d+))?$/.exec(k);
  if (m) return { type: 'rsa', ...(m[1] ? { size: Number(m[1]) } : {}) };
  m = /^EC(?:-(P-\d+))?$/.exec(k);
  if (m) return { type: 'ec', ...(m[1] ? { curve: m[1] } : {}) };
  m = /^DSA-(\d+)$/.exec(k);
  if (m) return { type: 'dsa', size: Number(m[1]) };
  if (k === 'Ed25519') return { type: 'ed25519' };
  return undefined;
}

/** The manifest's signature column as a digest; undefined when it names no standard algorithm. */
function expectedDigest(sig: string): string | null | undefined {
  const m = /^(?:sha(\d+)WithRSAEncryption|ecdsa-with-SHA(\d+)|rsassaPss\(sha(\d+)\)|dsaWithSHA(\d+))$/.exec(sig);
  if (m) {
    const n = m[1] ?? m[2] ?? m[3] ?? m[4];
    return n === '1' ? 'SHA-1' : `SHA-${n}`;
  }
  if (sig === 'ED25519') return null;
  return undefined;
}

const profiles = ['fla', 'chorus-client', 'chorus-server', 'chorus-signature'].map(certificateProfile);

describe('the third-party certificate corpus', () => {
  it('holds the 298 files the README describes', () => {
    expect(rows).toHaveLength(298);
  });

  it('gives every file a report under every profile, quickly, without an exception', () => {
    for (const row of rows) {
      const bytes = new Uint8Array(readFileSync(join(ROOT, row.file as string)));
      for (const profile of profiles) {
        const started = performance.now();
        const report = validateCertificate(bytes, profile, { at: AT });
        expect(performance.now() - started, `${row.file} took too long`).toBeLessThan(2_000);
        expect(typeof report.valid).toBe('boolean');
        expect(report.valid, row.file).toBe(report.errors.length === 0);
        for (const e of report.errors) expect(e.message.en.length, row.file).toBeGreaterThan(0);
      }
    }
  });

  it('refuses every file that OpenSSL could not parse', () => {
    const unparsable = rows.filter((r) => r.openssl_parse !== 'ok');
    expect(unparsable.length).toBeGreaterThan(30);
    for (const row of unparsable) {
      const bytes = new Uint8Array(readFileSync(join(ROOT, row.file as string)));
      for (const profile of profiles) expect(validateCertificate(bytes, profile, { at: AT }).valid, `${row.file} (${profile.name})`).toBe(false);
    }
  });

  it('agrees with the manifest on key type, size and signature digest for the files OpenSSL parses', () => {
    let compared = 0;
    for (const row of rows.filter((r) => r.openssl_parse === 'ok' && r.format !== 'p12')) {
      const file = row.file as string;
      const report = validateCertificate(new Uint8Array(readFileSync(join(ROOT, file))), profiles[0]!, { at: AT });
      if (STRICTER[file]) {
        expect(report.errors.map((e) => e.code), file).toEqual(['parse']);
        continue;
      }
      expect(report.certificates.length, `${file}: ${report.errors.map((e) => e.message.en).join(' ')}`).toBe(Number(row.n_certs));
      const key = expectedKey(row.key as string);
      const digest = expectedDigest(row.sig as string);
      if (key === undefined || digest === undefined) continue;
      // The manifest describes the first certificate of the file; the report lists the chain first.
      const match = report.certificates.some((c) => Object.entries(key).every(([k, v]) => (c.key as Record<string, unknown>)[k] === v) && c.signature_digest === digest);
      expect(match, `${file}: expected ${JSON.stringify(key)} ${digest}, got ${JSON.stringify(report.certificates.map((c) => [c.key, c.signature_digest]))}`).toBe(true);
      compared += 1;
    }
    expect(compared).toBeGreaterThan(195);
  });

  it('refuses every PKCS#12 file: private key material, or unreadable', () => {
    for (const row of rows.filter((r) => r.format === 'p12')) {
      const report = validateCertificate(new Uint8Array(readFileSync(join(ROOT, row.file as string))), profiles[0]!, { at: AT });
      expect(report.valid).toBe(false);
      expect(['private_key', 'parse', 'format'], row.file).toContain(report.errors[0]?.code);
      if (row.openssl_parse === 'ok') expect(report.errors[0]?.code, row.file).toBe('private_key');
    }
  });
});
