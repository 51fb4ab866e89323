import { beforeAll, describe, expect, it } from 'vitest';
import { certificateProfile } from '../../functions/core/certificates/profiles.ts';
import { validateCertificate } from '../../functions/core/certificates/validator.ts';
import { chorusChain, issue, p7b, pemOf } from '../helpers/pki.ts';

/** A seeded generator: the same mutations on every run, so a failure can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TAGS = new Set([0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x18, 0x30, 0x31, 0xa0, 0xa3]);

function mutate(input: Uint8Array, tagged: number[], rand: () => number, text: boolean): Uint8Array {
  const out = new Uint8Array(input);
  const at = () => Math.floor(rand() * out.length);
  switch (Math.floor(rand() * 3)) {
    case 0: {
      // bit flips, in base64 characters for PEM so that the DER underneath changes
      for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
        const i = at();
        out[i] = text ? '0123456789+/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.charCodeAt(Math.floor(rand() * 64)) : (out[i] as number) ^ (1 << Math.floor(rand() * 8));
      }
      return out;
    }
    case 1:
      return out.slice(0, at());
    default: {
      // a length byte after a tag: short, long-form, indefinite or huge
      const i = tagged[Math.floor(rand() * tagged.length)] ?? 0;
      const lengths = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x89, 0xff, Math.floor(rand() * 256)];
      out[i + 1] = lengths[Math.floor(rand() * lengths.length)] as number;
      return out;
    }
  }
}

describe('fuzzing the validator', () => {
  const inputs: { label: string; bytes: Uint8Array; text: boolean; tagged: number[] }[] = [];
  beforeAll(async () => {
    const { root, inter, leaf } = await chorusChain();
    const fla = await issue({ subject: 'CN=CFA, O=CFA, C=BE', shape: 'ec384', digest: 'SHA-384' });
    const base = [
      { label: 'DER certificate', bytes: fla.der, text: false },
      { label: 'PEM chain', bytes: pemOf(leaf, inter, root), text: true },
      { label: 'PKCS#7 DER', bytes: p7b([leaf, inter, root]), text: false },
      { label: 'PKCS#7 PEM', bytes: p7b([leaf, inter, root], 'pem'), text: true },
    ];
    // Where a length byte follows a tag, found once per input.
    for (const b of base) inputs.push({ ...b, tagged: [...b.bytes.keys()].filter((i) => TAGS.has(b.bytes[i] as number) && i + 1 < b.bytes.length) });
  });

  it('ends every one of 20,000 mutations in a well-formed report', () => {
    const rand = prng(20261121);
    const profiles = ['fla', 'chorus-client'].map(certificateProfile);
    const verdicts = new Map<string, number>();
    for (let n = 0; n < 20_000; n++) {
      const input = inputs[n % inputs.length]!;
      const bytes = mutate(input.bytes, input.tagged, rand, input.text);
      const profile = profiles[n % 2]!;
      const report = validateCertificate(bytes, profile, { at: new Date('2026-11-21T12:00:00Z') });
      expect(report.profile).toBe(profile.name);
      expect(report.valid).toBe(report.errors.length === 0);
      if (report.valid) expect(report.certificates.length).toBeGreaterThan(0);
      for (const e of report.errors) expect(e.message.fr && e.message.en).toBeTruthy();
      const key = report.errors[0]?.code ?? 'valid';
      verdicts.set(key, (verdicts.get(key) ?? 0) + 1);
    }
    // The mutations reach deep: refusals for unreadable bytes and for broken signatures both occur.
    expect(verdicts.get('parse')).toBeGreaterThan(1_000);
    expect((verdicts.get('chain_signature') ?? 0) + (verdicts.get('chain_incomplete') ?? 0)).toBeGreaterThan(100);
  }, 60_000);
});
