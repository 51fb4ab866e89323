import 'reflect-metadata';
import { createHash } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateProfile } from '../../functions/core/certificates/profiles.ts';
import { loadTrustAnchors, validateCertificate, type CertificateReport } from '../../functions/core/certificates/validator.ts';
import { opensslVerify, opensslVersion, type OpensslVerdict } from '../helpers/openssl.ts';
import { EKU, issue, KU, pemOf, type IssueOptions, type Issued } from '../helpers/pki.ts';

/**
 * RFC 5280 §6 path validation, one generated chain per rule, each compared with
 * `openssl verify -x509_strict` on the same certificates at the same date. Every CA
 * and leaf carries subjectKeyIdentifier/authorityKeyIdentifier and every CA a critical
 * basicConstraints and a keyUsage, so that OpenSSL's strict checks that we do not make
 * are never the difference between the two verdicts.
 */

const AT = new Date('2026-11-21T12:00:00Z');
const enc = (s: string) => new TextEncoder().encode(s);
const codes = (r: CertificateReport) => r.errors.map((e) => e.code).sort();
const warningCodes = (r: CertificateReport) => r.warnings.map((w) => w.code).sort();

// ---------------------------------------------------------------- generation

/** A CA: critical cA=TRUE, keyCertSign + cRLSign, key identifiers. */
const ca = (subject: string, issuer: Issued | undefined, o: Partial<IssueOptions> = {}) =>
  issue({ subject, ...(issuer ? { issuer } : {}), ca: true, shape: issuer ? 'ec384' : 'rsa2048', keyIdentifiers: true, ...o });

/** An end entity a Chorus client profile would also take: EC P-256, digitalSignature, clientAuth. */
const endEntity = (issuer: Issued, o: Partial<IssueOptions> = {}) =>
  issue({ subject: 'C=FR, O=Sesame, CN=edi.sesame.example', issuer, shape: 'ec256', keyUsage: KU.digitalSignature, eku: [EKU.clientAuth], keyIdentifiers: true, ...o });

/** Minimal DER, enough for the extensions @peculiar/x509 has no class for. */
function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return [0x80 | bytes.length, ...bytes];
}
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const content = Buffer.concat(parts);
  return new Uint8Array([tag, ...derLength(content.length), ...content]);
}

type Gn = { dns: string } | { email: string } | { ip: string } | { dn: string };
const ipBytes = (ip: string) => new Uint8Array(ip.split('.').map(Number));
function generalName(g: Gn, subtree: boolean): Uint8Array {
  if ('dns' in g) return tlv(0x82, enc(g.dns));
  if ('email' in g) return tlv(0x81, enc(g.email));
  if ('dn' in g) return tlv(0xa4, new Uint8Array(new x509.Name(g.dn).toArrayBuffer()));
  // iPAddress: the address, and in a subtree its mask (RFC 5280 §4.2.1.10).
  const [address, bits] = g.ip.split('/') as [string, string | undefined];
  if (!subtree) return tlv(0x87, ipBytes(address));
  const prefix = Number(bits ?? 32);
  const mask = [0, 1, 2, 3].map((i) => (0xff << (8 - Math.min(8, Math.max(0, prefix - 8 * i)))) & 0xff);
  return tlv(0x87, ipBytes(address), new Uint8Array(mask));
}

/** nameConstraints, critical as RFC 5280 requires. */
function nameConstraints(permitted: Gn[], excluded: Gn[] = []): x509.Extension {
  const subtrees = (tag: number, names: Gn[]) => (names.length ? [tlv(tag, ...names.map((n) => tlv(0x30, generalName(n, true))))] : []);
  return new x509.Extension('2.5.29.30', true, tlv(0x30, ...subtrees(0xa0, permitted), ...subtrees(0xa1, excluded)));
}
const subjectAltName = (...names: Gn[]) => new x509.Extension('2.5.29.17', false, tlv(0x30, ...names.map((n) => generalName(n, false))));
/** A private OID no validator knows, marked critical, with a NULL value. */
const unknownCritical = () => new x509.Extension('1.3.6.1.4.1.99999.7.1', true, new Uint8Array([0x05, 0x00]));

const ANY_POLICY = '2.5.29.32.0';
const RGS_2 = '1.2.250.1.137.2.2.1.2';
const OTHER_POLICY = '1.2.250.1.999.1';

// ---------------------------------------------------------------- scenarios

interface Scenario {
  /** The uploaded file, in this order (PEM). */
  file: Issued[];
  leaf: Issued;
  /** Trust anchors given to the validator, and then OpenSSL's -CAfile. */
  anchors?: Issued[];
  policyAllowList?: string[];
  /** OpenSSL's -CAfile when there are no anchors and no self-signed root in the file: an unrelated root. */
  opensslTrusted?: Issued[];
  /** Where we expect an error to point: code → the certificate (position 1 = the leaf). */
  at?: Partial<Record<string, Issued>>;
  /** The path from the leaf up, to find those positions (default: the file's order). */
  path?: Issued[];
  /**
   * Where OpenSSL's verdict is known to differ by design: the reason it gives, and an
   * order of its -untrusted certificates under which it agrees with us.
   */
  divergence?: { why: string; untrustedOrderItAccepts: Issued[] };
}

interface Case {
  name: string;
  /** Our error codes, sorted; none for a valid path. */
  expected: string[];
  /** OpenSSL's refusal, so that it refuses for the same rule (not, say, a missing AKI); absent: it accepts. */
  openssl?: RegExp;
  build: () => Promise<Scenario>;
}

let unrelatedRoot: Issued;
const rootName = 'C=FR, O=Sesame, CN=Sesame Root CA';
const interName = 'C=FR, O=Sesame, CN=Sesame Issuing CA';

/** root → intermediate → leaf, each option set overridable. */
async function chain3(o: { root?: Partial<IssueOptions>; inter?: Partial<IssueOptions>; leaf?: Partial<IssueOptions> } = {}) {
  const root = await ca(rootName, undefined, o.root);
  const inter = await ca(interName, root, o.inter);
  const leaf = await endEntity(inter, o.leaf);
  return { root, inter, leaf, file: [leaf, inter, root] };
}

/** Chains under name constraints set on the intermediate; a violation is the leaf's. */
async function constrained(constraints: x509.Extension, leaf: Partial<IssueOptions>, violated = true): Promise<Scenario> {
  const c = await chain3({ inter: { extensions: [constraints] }, leaf });
  return { file: c.file, leaf: c.leaf, ...(violated ? { at: { name_constraints: c.leaf }, path: [c.leaf, c.inter, c.root] } : {}) };
}

const CASES: Case[] = [
  {
    name: 'a valid three-certificate chain is accepted',
    expected: [],
    build: async () => chain3(),
  },
  {
    name: 'an intermediate with basicConstraints cA=FALSE is not a CA',
    expected: ['not_ca'],
    openssl: /invalid CA certificate/,
    build: async () => {
      const c = await chain3({ inter: { basicConstraints: { ca: false } } });
      return { ...c, at: { not_ca: c.inter }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'an intermediate without basicConstraints is not a CA',
    expected: ['not_ca'],
    openssl: /invalid CA certificate/,
    build: async () => {
      const c = await chain3({ inter: { basicConstraints: null } });
      return { ...c, at: { not_ca: c.inter }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'an issuer whose keyUsage lacks keyCertSign cannot sign certificates',
    expected: ['key_cert_sign'],
    openssl: /invalid CA certificate/,
    build: async () => {
      const c = await chain3({ inter: { keyUsage: KU.cRLSign | KU.digitalSignature } });
      return { ...c, at: { key_cert_sign: c.inter }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'pathLenConstraint 0 on the last intermediate is respected',
    expected: [],
    build: async () => chain3({ inter: { basicConstraints: { ca: true, pathLength: 0 } } }),
  },
  {
    name: 'a second intermediate under a pathLenConstraint 0 exceeds the path length',
    expected: ['path_length'],
    openssl: /path length constraint exceeded/,
    build: async () => {
      const root = await ca(rootName, undefined);
      const i1 = await ca(interName, root, { basicConstraints: { ca: true, pathLength: 0 } });
      const i2 = await ca('C=FR, O=Sesame, CN=Sesame Sub CA', i1, { shape: 'ec521' });
      const leaf = await endEntity(i2);
      return { file: [leaf, i2, i1, root], leaf };
    },
  },
  {
    name: 'names inside every kind of permitted subtree and outside the excluded one are accepted',
    expected: [],
    build: () =>
      constrained(
        nameConstraints([{ dns: 'sesame.example' }, { email: 'sesame.example' }, { ip: '10.0.0.0/8' }, { dn: 'C=FR, O=Sesame' }], [{ dns: 'blocked.sesame.example' }]),
        { extensions: [subjectAltName({ dns: 'edi.sesame.example' }, { email: 'ops@sesame.example' }, { ip: '10.1.2.3' })] },
        false,
      ),
  },
  {
    name: 'a leaf dNSName outside the permitted DNS subtree violates the name constraints',
    expected: ['name_constraints'],
    openssl: /permitted subtree violation/,
    build: () => constrained(nameConstraints([{ dns: 'sesame.example' }]), { extensions: [subjectAltName({ dns: 'edi.elsewhere.example' })] }),
  },
  {
    name: 'a leaf dNSName inside an excluded DNS subtree violates the name constraints',
    expected: ['name_constraints'],
    openssl: /excluded subtree violation/,
    build: () => constrained(nameConstraints([], [{ dns: 'blocked.sesame.example' }]), { extensions: [subjectAltName({ dns: 'edi.blocked.sesame.example' })] }),
  },
  {
    name: 'a leaf subject outside the permitted directoryName subtree violates the name constraints',
    expected: ['name_constraints'],
    openssl: /permitted subtree violation/,
    build: () => constrained(nameConstraints([{ dn: 'C=FR, O=Sesame' }]), { subject: 'C=FR, O=Elsewhere, CN=edi.elsewhere.example' }),
  },
  {
    name: 'a leaf iPAddress outside the permitted IP range violates the name constraints',
    expected: ['name_constraints'],
    openssl: /permitted subtree violation/,
    build: () => constrained(nameConstraints([{ ip: '10.0.0.0/8' }]), { extensions: [subjectAltName({ ip: '192.168.1.10' })] }),
  },
  {
    name: 'a leaf rfc822Name outside the permitted mail domain violates the name constraints',
    expected: ['name_constraints'],
    openssl: /permitted subtree violation/,
    build: () => constrained(nameConstraints([{ email: 'sesame.example' }]), { extensions: [subjectAltName({ email: 'ops@elsewhere.example' })] }),
  },
  {
    name: 'an unknown critical extension on the leaf is refused',
    expected: ['critical_extension'],
    openssl: /at 0 depth lookup: unhandled critical extension/,
    build: async () => {
      const c = await chain3({ leaf: { extensions: [unknownCritical()] } });
      return { ...c, at: { critical_extension: c.leaf }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'an unknown critical extension on the intermediate is refused',
    expected: ['critical_extension'],
    openssl: /at 1 depth lookup: unhandled critical extension/,
    build: async () => {
      const c = await chain3({ inter: { extensions: [unknownCritical()] } });
      return { ...c, at: { critical_extension: c.inter }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'A issued by B issued by A, with no root, is a loop',
    expected: ['path_loop'],
    openssl: /unable to get local issuer certificate/,
    build: async () => {
      // B is signed with A's key under A's name before A exists: keys are per shape.
      const aKey = await issue({ subject: 'C=FR, O=Loop, CN=Loop A', shape: 'ec384', ca: true, keyIdentifiers: true });
      const b = await ca('C=FR, O=Loop, CN=Loop B', aKey, { shape: 'ec521' });
      const a = await ca('C=FR, O=Loop, CN=Loop A', b, { shape: 'ec384' });
      const leaf = await endEntity(a);
      return { file: [leaf, a, b], leaf, opensslTrusted: [unrelatedRoot] };
    },
  },
  {
    name: 'a chain of 12 certificates without a root is too long, not truncated',
    expected: ['path_too_long'],
    openssl: /unable to get local issuer certificate/,
    build: async () => {
      let issuer = await ca('C=FR, O=Deep, CN=Deep Root (not in the file)', undefined);
      const cas: Issued[] = [];
      for (let n = 11; n >= 1; n--) {
        issuer = await ca(`C=FR, O=Deep, CN=Deep CA ${n}`, issuer, { shape: n % 2 ? 'ec384' : 'ec521' });
        cas.unshift(issuer);
      }
      const leaf = await endEntity(issuer);
      return { file: [leaf, ...cas], leaf, opensslTrusted: [unrelatedRoot] };
    },
  },
  {
    name: 'an expired intermediate is refused',
    expected: ['expired'],
    openssl: /at 1 depth lookup: certificate has expired/,
    build: async () => {
      const c = await chain3({ inter: { notAfter: new Date('2026-10-01T00:00:00Z') } });
      return { ...c, at: { expired: c.inter }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'a leaf not yet valid is refused',
    expected: ['not_yet_valid'],
    openssl: /at 0 depth lookup: certificate is not yet valid/,
    build: async () => {
      const c = await chain3({ leaf: { notBefore: new Date('2027-01-01T00:00:00Z') } });
      return { ...c, at: { not_yet_valid: c.leaf }, path: [c.leaf, c.inter, c.root] };
    },
  },
  {
    name: 'a leaf signed by another key than its issuer’s is forged',
    expected: ['chain_signature'],
    openssl: /certificate signature failure/,
    build: async () => {
      const forger = await issue({ subject: 'C=FR, O=Forger, CN=Forger', shape: 'ec521' });
      return chain3({ leaf: { signWith: forger } });
    },
  },
  {
    name: 'of two issuers with the same name, the one whose key verifies is found though listed second',
    expected: [],
    build: async () => {
      const c = await chain3();
      const decoy = await ca(interName, c.root, { shape: 'ec521' });
      return { file: [c.leaf, decoy, c.inter, c.root], leaf: c.leaf };
    },
  },
  {
    name: 'a path ending at an anchor that is not in the file is accepted',
    expected: [],
    build: async () => {
      const c = await chain3();
      const other = await ca('C=FR, O=Other, CN=Other Root', undefined, { shape: 'ec521' });
      return { file: [c.leaf, c.inter], leaf: c.leaf, anchors: [other, c.root] };
    },
  },
  {
    name: 'a path ending at an anchor also in the file is accepted',
    expected: [],
    build: async () => {
      const c = await chain3();
      return { ...c, anchors: [c.root] };
    },
  },
  {
    name: 'a path ending at another self-signed root than the anchors is untrusted',
    expected: ['untrusted_root'],
    openssl: /self-signed certificate in certificate chain/,
    build: async () => {
      const c = await chain3();
      const anchor = await ca('C=FR, O=Other, CN=Other Root', undefined, { shape: 'ec521' });
      return { ...c, anchors: [anchor] };
    },
  },
  {
    name: 'of two issuers with the same name and key, the one under the anchor is found though listed second',
    expected: [],
    openssl: /self-signed certificate in certificate chain/,
    build: async () => {
      const anchor = await ca(rootName, undefined);
      const stranger = await ca('C=FR, O=Other, CN=Other Root', undefined, { shape: 'ec521' });
      const viaStranger = await ca(interName, stranger);
      const viaAnchor = await ca(interName, anchor);
      const leaf = await endEntity(viaAnchor);
      return {
        file: [leaf, viaStranger, stranger, viaAnchor],
        leaf,
        anchors: [anchor],
        // OpenSSL 3.0 takes the first untrusted issuer matching by name and key identifier
        // and does not go back to try the next one: it ends at the stranger root.
        divergence: { why: 'OpenSSL does not backtrack among untrusted issuers', untrustedOrderItAccepts: [viaAnchor, viaStranger, stranger] },
      };
    },
  },
  {
    name: 'an allowed leaf policy under an intermediate restricted to another policy is refused',
    expected: ['policy'],
    openssl: /no explicit policy/,
    build: async () => {
      const c = await chain3({ root: { policies: [ANY_POLICY] }, inter: { policies: [OTHER_POLICY] }, leaf: { policies: [RGS_2] } });
      return { ...c, policyAllowList: [RGS_2] };
    },
  },
  {
    name: 'an allowed leaf policy under anyPolicy at the intermediate is accepted',
    expected: [],
    build: async () => {
      const c = await chain3({ root: { policies: [ANY_POLICY] }, inter: { policies: [ANY_POLICY] }, leaf: { policies: [RGS_2] } });
      return { ...c, policyAllowList: [RGS_2] };
    },
  },
  {
    name: 'an allowed leaf policy that the intermediate also asserts is accepted',
    expected: [],
    build: async () => {
      const c = await chain3({ root: { policies: [ANY_POLICY] }, inter: { policies: [RGS_2, OTHER_POLICY] }, leaf: { policies: [RGS_2] } });
      return { ...c, policyAllowList: [RGS_2] };
    },
  },
];

// ---------------------------------------------------------------- running both

const selfSigned = (c: Issued) => c.cert.subject === c.cert.issuer;

function ours(s: Scenario, profile: string): CertificateReport {
  return validateCertificate(pemOf(...s.file), certificateProfile(profile), {
    at: AT,
    ...(s.anchors ? { trustAnchors: loadTrustAnchors(pemOf(...s.anchors)) } : {}),
    ...(s.policyAllowList ? { policyAllowList: s.policyAllowList } : {}),
  });
}

/** -CAfile: the anchors; else the self-signed roots in the file; else an unrelated root. -untrusted: the rest. */
function theirs(s: Scenario): Promise<OpensslVerdict> {
  const trusted = s.anchors ?? (s.file.some(selfSigned) ? s.file.filter(selfSigned) : (s.opensslTrusted ?? [unrelatedRoot]));
  const untrusted = s.file.filter((c) => c !== s.leaf && (s.anchors !== undefined || !trusted.includes(c)));
  return opensslVerify({
    leaf: s.leaf.pem,
    trusted: trusted.map((c) => c.pem),
    untrusted: untrusted.map((c) => c.pem),
    at: AT,
    options: s.policyAllowList ? ['-explicit_policy', ...s.policyAllowList.flatMap((p) => ['-policy', p])] : [],
  });
}

const describeOurs = (r: CertificateReport) => (r.valid ? 'valid' : `refused [${codes(r).join(', ')}]`);
const side = (r: CertificateReport, o: OpensslVerdict) => `ours: ${describeOurs(r)} | openssl -x509_strict: ${o.ok ? 'OK' : `refused (${o.reason})`}`;
const table: string[] = [];

beforeAll(async () => {
  expect(await opensslVersion(), 'the openssl binary is needed to compare verdicts').toMatch(/^OpenSSL 3\./);
  unrelatedRoot = await ca('C=FR, O=Unrelated, CN=Unrelated Root', undefined, { shape: 'ec521' });
});

afterAll(() => {
  if (table.length) console.info(`path validation, ours vs openssl verify -x509_strict:\n${table.join('\n')}`);
});

describe('RFC 5280 path validation, compared with openssl verify -x509_strict', () => {
  it.each(CASES.map((c) => [c.name, c.expected, c] as const))('%s: %j', async (_name, expected, c) => {
    const s = await c.build();
    const r = ours(s, 'chain');
    const o = await theirs(s);
    table.push(`  ${c.name}\n    ${side(r, o)}`);
    expect(codes(r), side(r, o)).toEqual([...expected].sort());
    expect(r.valid, side(r, o)).toBe(expected.length === 0);
    expect(o.reason, `openssl refuses for this rule: ${side(r, o)}`).toMatch(c.openssl ?? /^OK$/);
    if (s.divergence) {
      const { why, untrustedOrderItAccepts } = s.divergence;
      expect(o.ok, `${why}: ${side(r, o)}`).toBe(!r.valid);
      const reordered = await theirs({ ...s, file: [s.leaf, ...untrustedOrderItAccepts] });
      expect(reordered.ok, `openssl with the other -untrusted order: ${reordered.reason}`).toBe(r.valid);
    } else {
      expect(r.valid, `the verdicts differ: ${side(r, o)}`).toBe(o.ok);
    }
    if (expected.length === 0) expect(s.at, 'a case without errors names no certificate').toBeUndefined();
    for (const [code, cert] of Object.entries(s.at ?? {})) {
      const e = r.errors.find((x) => x.code === code);
      expect(e?.certificate, `${code} names the certificate`).toEqual({ position: (s.path ?? s.file).indexOf(cert as Issued) + 1, subject: (cert as Issued).name });
    }
    for (const e of r.errors) expect(e.message.fr.length > 10 && e.message.en.length > 10, e.code).toBe(true);
  });

  it.each(CASES.map((c) => [c.name, c.expected, c] as const))('chorus-client applies the same path validation: %s: %j', async (_name, expected, c) => {
    const s = await c.build();
    const r = ours(s, 'chorus-client');
    expect(codes(r), describeOurs(r)).toEqual([...expected].sort());
  });
});

describe('trust anchors', () => {
  it('warns that the root was not checked when no anchors are given, and not when they are', async () => {
    const c = await chain3();
    const without = ours(c, 'chain');
    expect(codes(without)).toEqual([]);
    expect(warningCodes(without)).toContain('root_not_checked');
    const withAnchor = ours({ ...c, anchors: [c.root] }, 'chain');
    expect(codes(withAnchor)).toEqual([]);
    expect(warningCodes(withAnchor)).not.toContain('root_not_checked');
  });

  it('reads anchors from a PEM bundle or a DER certificate', async () => {
    const c = await chain3();
    const other = await ca('C=FR, O=Other, CN=Other Root', undefined, { shape: 'ec521' });
    for (const bytes of [pemOf(other, c.root), c.root.der]) {
      const r = validateCertificate(pemOf(c.leaf, c.inter), certificateProfile('chain'), { at: AT, trustAnchors: loadTrustAnchors(bytes) });
      expect(codes(r)).toEqual([]);
    }
  });

  it.each([
    ['an empty file', new Uint8Array()],
    ['text that is not a certificate', enc('not a certificate bundle\n')],
    ['a PEM block whose body is not base64', enc('-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n')],
  ])('refuses %s as an anchor bundle with invalid_request', (_label, bytes) => {
    expect(() => loadTrustAnchors(bytes)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});

// ---------------------------------------------------------------- strict DER

interface Tlv {
  start: number;
  /** Bytes of the length field. */
  lengthBytes: number;
  content: number;
  end: number;
}
function readTlv(b: Uint8Array, at: number): Tlv {
  let i = at + 1;
  const first = b[i++] as number;
  let len = first;
  let lengthBytes = 1;
  if (first & 0x80) {
    const n = first & 0x7f;
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + (b[i++] as number);
    lengthBytes += n;
  }
  return { start: at, lengthBytes, content: i, end: i + len };
}
function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let i = parent.content; i < parent.end; ) {
    const t = readTlv(b, i);
    out.push(t);
    i = t.end;
  }
  return out;
}
/** A SEQUENCE (0x30) around the content, with a minimal length. */
const sequence = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const ECDSA_SHA256 = Buffer.from('2a8648ce3d040302', 'hex');

describe('strict DER', () => {
  let leaf: Issued;
  beforeAll(async () => {
    leaf = (await chain3()).leaf;
  });

  const surgery: [string, (der: Uint8Array) => Uint8Array][] = [
    [
      'a non-minimal length on the TBSCertificate',
      (der) => {
        const outer = readTlv(der, 0);
        const [tbs] = children(der, outer) as [Tlv];
        const len = tbs.end - tbs.content;
        const digits = derLength(len).slice(1);
        // one leading zero byte more than needed: BER, not DER
        const header = new Uint8Array([0x30, 0x80 | (digits.length + 1), 0, ...digits]);
        return sequence(header, der.subarray(tbs.content, outer.end));
      },
    ],
    [
      'a child length overrunning its parent (the extensions past the TBSCertificate’s end)',
      (der) => {
        const outer = readTlv(der, 0);
        const [tbs] = children(der, outer) as [Tlv];
        const extensions = children(der, tbs).at(-1) as Tlv;
        expect(der[extensions.start]).toBe(0xa3);
        const out = new Uint8Array(der);
        const lastLengthByte = extensions.content - 1;
        expect(out[lastLengthByte]! + 2).toBeLessThan(extensions.lengthBytes === 1 ? 0x80 : 0x100);
        out[lastLengthByte] = out[lastLengthByte]! + 2;
        return out;
      },
    ],
    [
      'two extra bytes inside the outer SEQUENCE, its length adjusted',
      (der) => {
        const outer = readTlv(der, 0);
        return sequence(der.subarray(outer.content, outer.end), new Uint8Array([0x05, 0x00]));
      },
    ],
    [
      'an outer signatureAlgorithm other than the signed one',
      (der) => {
        const outer = readTlv(der, 0);
        const [, algorithm] = children(der, outer) as [Tlv, Tlv];
        const [oid] = children(der, algorithm) as [Tlv];
        expect(Buffer.from(der.subarray(oid.content, oid.end)).equals(ECDSA_SHA256)).toBe(true);
        const out = new Uint8Array(der);
        out[oid.end - 1] = 0x03; // ecdsa-with-SHA384, while the TBS says ecdsa-with-SHA256
        return out;
      },
    ],
  ];

  it.each(surgery)('refuses %s with parse, without throwing', (_label, cut) => {
    const bytes = cut(leaf.der);
    expect(Buffer.from(bytes).equals(Buffer.from(leaf.der))).toBe(false);
    for (const input of [bytes, enc(`-----BEGIN CERTIFICATE-----\n${Buffer.from(bytes).toString('base64')}\n-----END CERTIFICATE-----\n`)]) {
      let r: CertificateReport | undefined;
      expect(() => {
        r = validateCertificate(input, certificateProfile('chain'), { at: AT });
      }).not.toThrow();
      expect(r?.valid).toBe(false);
      expect(codes(r as CertificateReport)).toEqual(['parse']);
    }
  });

  it('leaves the genuine certificate readable (the surgery is the only difference)', () => {
    const r = validateCertificate(leaf.der, certificateProfile('chain'), { at: AT });
    expect(codes(r)).not.toContain('parse');
  });

  it('gives the same sha256 for the same certificate as PEM and as DER', async () => {
    const root = await ca(rootName, undefined);
    const fromDer = validateCertificate(root.der, certificateProfile('chain'), { at: AT });
    const fromPem = validateCertificate(enc(root.pem), certificateProfile('chain'), { at: AT });
    const expected = createHash('sha256').update(root.der).digest('hex');
    expect(fromDer.certificates[0]?.sha256).toBe(expected);
    expect(fromPem.certificates[0]?.sha256).toBe(expected);
    expect(fromPem).toEqual(fromDer);
  });
});
