import { createHash, createPublicKey, constants, verify as nodeVerify, X509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { pemBlocks, unterminatedPemLabels } from '../bytes.ts';

/**
 * The one boundary with pkijs/asn1js: bytes in, plain certificate facts out. Each
 * certificate is parsed once; signatures are checked natively by node:crypto on the
 * parsed TBS bytes, which is several times faster than a second native parse.
 */

export type KeyInfo = { type: string; size?: number; curve?: string };

/** A name as name constraints compare it (RFC 5280 §4.2.1.10). */
export type GeneralName =
  | { type: 'dns' | 'email' | 'uri'; value: string }
  | { type: 'ip'; value: Uint8Array }
  /** A distinguished name as its RDNs' DER, in order. */
  | { type: 'dn'; value: string[] }
  | { type: 'other'; value: number };

export interface NameConstraints {
  permitted: GeneralName[] | undefined;
  excluded: GeneralName[];
}

export interface ParsedCertificate {
  der: Uint8Array;
  sha256: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  key: KeyInfo;
  /** Loaded on first use (only issuers and key checks need it); undefined for keys node:crypto cannot load. */
  publicKey(): KeyObject | undefined;
  signatureAlgorithm: string;
  /** SHA-1, SHA-256…, or null when the algorithm has no separate digest (Ed25519) or is unknown. */
  signatureDigest: string | null;
  keyUsage: string[] | null;
  extendedKeyUsage: string[] | null;
  policies: string[];
  /** OIDs of the subject's attribute types. */
  subjectAttributeTypes: string[];
  isCa: boolean;
  /** basicConstraints as given; null when the extension is absent. */
  basicConstraints: { ca: boolean; pathLen?: number } | null;
  /** OIDs of the extensions marked critical. */
  criticalExtensions: string[];
  nameConstraints: NameConstraints | null;
  /** subjectAltName entries, and the subject's emailAddress attributes as rfc822 names. */
  altNames: GeneralName[];
  /** The subject as its RDNs' DER, for directoryName constraints. */
  subjectRdns: string[];
  /** SHA-256 of the subjectPublicKeyInfo: a trust anchor is a name and a key. */
  spkiSha256: string;
  selfIssued: boolean;
  /** Whether `issuer` issued this certificate: same name, and its key verifies the signature. */
  isIssuedBy(issuer: ParsedCertificate): boolean;
  nameIssuedBy(issuer: ParsedCertificate): boolean;
}

export type Decoded =
  | { type: 'certificates'; format: 'pem' | 'der' | 'pkcs7'; certificates: ParsedCertificate[] }
  | { type: 'private_key'; what: string }
  | { type: 'format'; what: string }
  | { type: 'parse'; what: string };

const NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU',
  '2.5.4.5': 'SERIALNUMBER', '2.5.4.4': 'SN', '2.5.4.42': 'GN', '2.5.4.65': 'pseudonym', '2.5.4.97': 'organizationIdentifier',
  '2.5.4.12': 'T', '2.5.4.9': 'STREET', '2.5.4.17': 'postalCode', '0.9.2342.19200300.100.1.25': 'DC', '1.2.840.113549.1.9.1': 'emailAddress',
};

const SIGNATURES: Record<string, { name: string; digest: string | null; scheme: 'rsa' | 'pss' | 'ecdsa' | 'eddsa' | 'dsa' }> = {
  '1.2.840.113549.1.1.2': { name: 'md2WithRSAEncryption', digest: 'MD2', scheme: 'rsa' },
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', digest: 'MD5', scheme: 'rsa' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', digest: 'SHA-1', scheme: 'rsa' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', digest: 'SHA-224', scheme: 'rsa' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', digest: 'SHA-256', scheme: 'rsa' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', digest: 'SHA-384', scheme: 'rsa' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', digest: 'SHA-512', scheme: 'rsa' },
  '1.2.840.113549.1.1.10': { name: 'rsassaPss', digest: null, scheme: 'pss' },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', digest: 'SHA-1', scheme: 'ecdsa' },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', digest: 'SHA-224', scheme: 'ecdsa' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', digest: 'SHA-256', scheme: 'ecdsa' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', digest: 'SHA-384', scheme: 'ecdsa' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', digest: 'SHA-512', scheme: 'ecdsa' },
  '1.3.101.112': { name: 'Ed25519', digest: null, scheme: 'eddsa' },
  '1.3.101.113': { name: 'Ed448', digest: null, scheme: 'eddsa' },
  '1.2.840.10040.4.3': { name: 'dsaWithSHA1', digest: 'SHA-1', scheme: 'dsa' },
  '2.16.840.1.101.3.4.3.2': { name: 'dsaWithSHA256', digest: 'SHA-256', scheme: 'dsa' },
};

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.4': 'SHA-224',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

export const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp256k1: 'secp256k1' };
const KEY_OIDS: Record<string, string> = { '1.2.840.113549.1.1.1': 'rsa', '1.2.840.113549.1.1.10': 'rsa-pss', '1.2.840.10045.2.1': 'ec', '1.3.101.112': 'ed25519', '1.3.101.113': 'ed448', '1.2.840.10040.4.1': 'dsa' };

const toArrayBuffer = (u: Uint8Array): ArrayBuffer => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

function dn(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const label = NAMES[tv.type] ?? tv.type;
      const v = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      return `${label}=${typeof v === 'string' ? v : '#'}`;
    })
    .join(', ');
}

function keyUsageOf(ext: pkijs.Extension): string[] {
  const bits = ext.parsedValue as asn1js.BitString;
  const bytes = bits.valueBlock.valueHexView;
  const out: string[] = [];
  KEY_USAGE_BITS.forEach((name, i) => {
    const byte = bytes[i >> 3];
    if (byte !== undefined && byte & (0x80 >> (i & 7))) out.push(name);
  });
  return out;
}

const CURVE_OIDS: Record<string, string> = { '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521', '1.3.132.0.10': 'secp256k1' };

/** Key facts from the parsed SPKI; node:crypto only for the rare key types pkijs does not size. */
function keyInfo(spki: pkijs.PublicKeyInfo, load: () => KeyObject | undefined): KeyInfo {
  const type = KEY_OIDS[spki.algorithm.algorithmId];
  if (type === 'ec') {
    const params = spki.algorithm.algorithmParams as asn1js.ObjectIdentifier | undefined;
    const oid = params instanceof asn1js.ObjectIdentifier ? params.valueBlock.toString() : undefined;
    return oid ? { type, curve: CURVE_OIDS[oid] ?? oid } : { type };
  }
  if (type === 'rsa' || type === 'rsa-pss') {
    // asn1js has already decoded the RSAPublicKey inside the bit string: read the modulus
    // there rather than let pkijs decode it a second time.
    const inner = spki.subjectPublicKey.valueBlock.value[0];
    const first = inner instanceof asn1js.Sequence ? inner.valueBlock.value[0] : undefined;
    const modulus = first instanceof asn1js.Integer ? first.valueBlock.valueHexView : (spki.parsedKey as pkijs.RSAPublicKey | undefined)?.modulus.valueBlock.valueHexView;
    if (!modulus) return { type };
    let i = 0;
    while (i < modulus.length && modulus[i] === 0) i++;
    const size = i < modulus.length ? (modulus.length - i) * 8 - Math.clz32(modulus[i] as number) + 24 : 0;
    return { type, size };
  }
  const key = load();
  if (key) {
    const d = key.asymmetricKeyDetails ?? {};
    if (d.namedCurve) return { type: key.asymmetricKeyType ?? 'unknown', curve: CURVES[d.namedCurve] ?? d.namedCurve };
    if (d.modulusLength) return { type: key.asymmetricKeyType ?? 'unknown', size: d.modulusLength };
    return { type: key.asymmetricKeyType ?? 'unknown' };
  }
  return { type: type ?? spki.algorithm.algorithmId };
}

function signatureScheme(cert: pkijs.Certificate): { name: string; digest: string | null; verifyOptions?: { padding: number; saltLength: number } } {
  const oid = cert.signatureAlgorithm.algorithmId;
  const known = SIGNATURES[oid];
  if (!known) return { name: oid, digest: null };
  if (known.scheme !== 'pss') return known;
  // RSASSA-PSS carries its hash in parameters; the default (absent) is SHA-1, salt 20.
  let digest = 'SHA-1';
  let saltLength = 20;
  const params = cert.signatureAlgorithm.algorithmParams;
  if (params) {
    const pss = new pkijs.RSASSAPSSParams({ schema: params });
    digest = HASHES[pss.hashAlgorithm.algorithmId] ?? pss.hashAlgorithm.algorithmId;
    saltLength = pss.saltLength;
  }
  return { name: 'rsassaPss', digest, verifyOptions: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength } };
}

/**
 * The original DER of the subjectPublicKeyInfo, from the tree pkijs has validated:
 * TBSCertificate = [version], serial, signature, issuer, validity, subject, SPKI, …
 */
function rawSpki(asn1: asn1js.AsnType, cert: pkijs.Certificate): Uint8Array {
  const tbs = asn1 instanceof asn1js.Sequence ? asn1.valueBlock.value[0] : undefined;
  const fields = tbs instanceof asn1js.Sequence ? tbs.valueBlock.value : [];
  const hasVersion = fields[0]?.idBlock.tagClass === 3 && fields[0]?.idBlock.tagNumber === 0;
  const block = fields[hasVersion ? 6 : 5];
  return block ? new Uint8Array(block.valueBeforeDecodeView) : new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
}

const rdnsOf = (name: pkijs.RelativeDistinguishedNames): string[] => {
  const seq = name.valueBeforeDecode.byteLength > 0 ? asn1js.fromBER(name.valueBeforeDecode).result : name.toSchema();
  return seq instanceof asn1js.Sequence ? seq.valueBlock.value.map((rdn) => hex(new Uint8Array(rdn.toBER(false)))) : [];
};

function generalName(g: pkijs.GeneralName): GeneralName {
  switch (g.type) {
    case 1:
      return { type: 'email', value: String(g.value) };
    case 2:
      return { type: 'dns', value: String(g.value) };
    case 4:
      return { type: 'dn', value: rdnsOf(g.value as pkijs.RelativeDistinguishedNames) };
    case 6:
      return { type: 'uri', value: String(g.value) };
    case 7:
      return { type: 'ip', value: new Uint8Array((g.value as asn1js.OctetString).valueBlock.valueHexView) };
    default:
      return { type: 'other', value: g.type };
  }
}

const EMAIL_ATTRIBUTE = '1.2.840.113549.1.9.1';

function parseOne(der: Uint8Array, cert: pkijs.Certificate, asn1: asn1js.AsnType, hash: string): ParsedCertificate {
  if (Number.isNaN(cert.notBefore.value.getTime()) || Number.isNaN(cert.notAfter.value.getTime())) throw new Error('validity dates cannot be read');
  // RFC 5280 §4.1.1.2: the signed and the outer signature algorithms must be the same, parameters included.
  const algorithmDer = (a: pkijs.AlgorithmIdentifier) => hex(new Uint8Array(a.toSchema().toBER(false)));
  if (algorithmDer(cert.signature) !== algorithmDer(cert.signatureAlgorithm)) throw new Error('inner and outer signature algorithms differ');
  let loaded: { key: KeyObject | undefined } | undefined;
  const publicKey = () => {
    if (!loaded) {
      try {
        loaded = { key: createPublicKey({ key: Buffer.from(rawSpki(asn1, cert)), format: 'der', type: 'spki' }) };
      } catch {
        loaded = { key: undefined };
      }
    }
    return loaded.key;
  };
  const sig = signatureScheme(cert);
  let keyUsage: string[] | null = null;
  let extendedKeyUsage: string[] | null = null;
  let policies: string[] = [];
  let isCa = false;
  let basicConstraints: ParsedCertificate['basicConstraints'] = null;
  let nameConstraints: NameConstraints | null = null;
  const altNames: GeneralName[] = [];
  const criticalExtensions: string[] = [];
  for (const ext of cert.extensions ?? []) {
    if (ext.critical) criticalExtensions.push(ext.extnID);
    if (ext.extnID === '2.5.29.19' && ext.parsedValue) {
      const bc = ext.parsedValue as pkijs.BasicConstraints;
      // Absent: no limit. An integer too large for a number (isHexOnly) limits nothing either.
      const raw = bc.pathLenConstraint;
      const pathLen = typeof raw === 'number' ? raw : raw instanceof asn1js.Integer ? Number.MAX_SAFE_INTEGER : undefined;
      basicConstraints = { ca: Boolean(bc.cA), ...(pathLen !== undefined ? { pathLen } : {}) };
    } else if (ext.extnID === '2.5.29.30' && ext.parsedValue) {
      const nc = ext.parsedValue as pkijs.NameConstraints;
      nameConstraints = { permitted: nc.permittedSubtrees?.map((t) => generalName(t.base)), excluded: (nc.excludedSubtrees ?? []).map((t) => generalName(t.base)) };
    } else if (ext.extnID === '2.5.29.17' && ext.parsedValue) {
      altNames.push(...(ext.parsedValue as pkijs.AltName).altNames.map(generalName));
    }
  }
  for (const tv of cert.subject.typesAndValues) {
    const v = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
    if (tv.type === EMAIL_ATTRIBUTE && typeof v === 'string') altNames.push({ type: 'email', value: v });
  }
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID === '2.5.29.15' && ext.parsedValue) keyUsage = keyUsageOf(ext);
    else if (ext.extnID === '2.5.29.37' && ext.parsedValue) extendedKeyUsage = (ext.parsedValue as pkijs.ExtKeyUsage).keyPurposes.map((o) => EKU_NAMES[o] ?? o);
    else if (ext.extnID === '2.5.29.32' && ext.parsedValue) policies = (ext.parsedValue as pkijs.CertificatePolicies).certificatePolicies.map((p) => p.policyIdentifier);
    else if (ext.extnID === '2.5.29.19' && ext.parsedValue) isCa = Boolean((ext.parsedValue as pkijs.BasicConstraints).cA);
  }
  const tbs = cert.tbsView;
  const signature = cert.signatureValue.valueBlock.valueHexView;
  const nodeDigest = sig.digest && sig.digest !== 'MD2' ? sig.digest.replace('-', '').toLowerCase() : null;
  const verifiedBy = new WeakMap<ParsedCertificate, boolean>();
  const parsed: ParsedCertificate = {
    der,
    sha256: hash,
    subject: dn(cert.subject),
    issuer: dn(cert.issuer),
    serial: hex(cert.serialNumber.valueBlock.valueHexView),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    key: keyInfo(cert.subjectPublicKeyInfo, publicKey),
    publicKey,
    signatureAlgorithm: sig.name,
    signatureDigest: sig.digest,
    keyUsage,
    extendedKeyUsage,
    policies,
    subjectAttributeTypes: cert.subject.typesAndValues.map((tv) => tv.type),
    isCa,
    basicConstraints,
    criticalExtensions,
    nameConstraints,
    altNames,
    subjectRdns: rdnsOf(cert.subject),
    spkiSha256: createHash('sha256').update(rawSpki(asn1, cert)).digest('hex'),
    selfIssued: cert.subject.isEqual(cert.issuer),
    nameIssuedBy: (issuer) => cert.issuer.isEqual(issuerNames.get(issuer) as pkijs.RelativeDistinguishedNames),
    isIssuedBy(issuer) {
      const cached = verifiedBy.get(issuer);
      if (cached !== undefined) return cached;
      let ok = false;
      const issuerKey = parsed.nameIssuedBy(issuer) ? issuer.publicKey() : undefined;
      if (issuerKey) {
        try {
          const key = sig.verifyOptions ? { key: issuerKey, ...sig.verifyOptions } : issuerKey;
          ok = nodeVerify(nodeDigest, tbs, key, signature);
        } catch {
          ok = false;
        }
      }
      verifiedBy.set(issuer, ok);
      return ok;
    },
  };
  issuerNames.set(parsed, cert.subject);
  return parsed;
}

/** The subject name of each parsed certificate, to compare names as RFC 5280 does. */
const issuerNames = new WeakMap<ParsedCertificate, pkijs.RelativeDistinguishedNames>();

/**
 * Why these bytes are not strict DER, or undefined: every length definite and minimal,
 * every constructed element exactly filled by its children. asn1js reads BER and lets a
 * child overrun its parent; a certificate that is not DER could arrive again with other
 * bytes (another SHA-256) for the same content, so it is refused.
 */
export function derProblem(b: Uint8Array): string | undefined {
  const walk = (start: number, end: number, depth: number): string | undefined => {
    let i = start;
    while (i < end) {
      if (depth > 32) return 'nested too deep';
      const tag = b[i++] as number;
      if ((tag & 0x1f) === 0x1f) {
        do {
          if (i >= end) return 'a truncated tag';
        } while ((b[i++] as number) & 0x80);
      }
      if (i >= end) return 'a truncated length';
      let len = b[i++] as number;
      if (len === 0x80) return 'an indefinite length';
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n > 4 || i + n > end) return 'a length that cannot be read';
        if (b[i] === 0) return 'a non-minimal length';
        len = 0;
        for (let k = 0; k < n; k++) len = len * 256 + (b[i++] as number);
        if (len < 0x80) return 'a non-minimal length';
      }
      if (i + len > end) return 'a length overrunning its parent';
      if (tag & 0x20) {
        const inner = walk(i, i + len, depth + 1);
        if (inner) return inner;
      }
      i += len;
    }
    return undefined;
  };
  return walk(0, b.length, 0);
}

/** OpenSSL's own parser, for what it refuses beyond DER (an element too many, a field of the wrong type). */
function opensslRefuses(der: Uint8Array): boolean {
  try {
    new X509Certificate(der);
    return false;
  } catch {
    return true;
  }
}

function fromBerExact(der: Uint8Array): asn1js.AsnType | undefined {
  const asn1 = asn1js.fromBER(toArrayBuffer(der));
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) return undefined;
  return asn1.result;
}

/**
 * Parsed certificates by the SHA-256 of their exact DER. The same CA certificates come
 * with upload after upload: identical bytes give identical facts, so they are parsed
 * once, and a signature verified between two cached certificates stays verified.
 */
const CACHE_LIMIT = 512;
const cache = new Map<string, ParsedCertificate>();
const sha256Hex = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');

function cached(hash: string): ParsedCertificate | undefined {
  const hit = cache.get(hash);
  if (hit) {
    cache.delete(hash);
    cache.set(hash, hit); // most recently used last
  }
  return hit;
}

function remember(parsed: ParsedCertificate): ParsedCertificate {
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(parsed.sha256, parsed);
  return parsed;
}

/** For measurements of cold parsing. */
export function clearCertificateCache(): void {
  cache.clear();
}

/** Undefined when the DER is not shaped as a certificate; a reason when it is one we cannot accept. */
function certificateFrom(asn1: asn1js.AsnType, der: Uint8Array, hash = sha256Hex(der)): ParsedCertificate | string | undefined {
  const hit = cached(hash);
  if (hit) return hit;
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema: asn1 });
  } catch {
    return undefined;
  }
  const notDer = derProblem(der);
  if (notDer) return `a certificate that is not strict DER (${notDer})`;
  if (opensslRefuses(der)) return 'a certificate OpenSSL cannot parse';
  try {
    return remember(parseOne(der, cert, asn1, hash));
  } catch (err) {
    return `a certificate whose ${err instanceof Error && /differ|dates/.test(err.message) ? err.message : 'fields cannot be read'}`;
  }
}

function isOneOf(asn1: asn1js.AsnType, ...classes: { new (p: { schema: unknown }): unknown }[]): boolean {
  for (const C of classes) {
    try {
      new C({ schema: asn1 });
      return true;
    } catch {
      // not this structure
    }
  }
  return false;
}

/** One DER structure: a certificate, a PKCS#7 bundle, or something refused for a reason. */
function decodeDer(der: Uint8Array): Decoded {
  const hash = sha256Hex(der);
  const hit = cached(hash);
  if (hit) return { type: 'certificates', format: 'der', certificates: [hit] };
  const asn1 = fromBerExact(der);
  if (!asn1) return { type: 'parse', what: 'not valid DER (truncated, or bytes after the end)' };
  const single = certificateFrom(asn1, der, hash);
  if (typeof single === 'string') return { type: 'parse', what: single };
  if (single) return { type: 'certificates', format: 'der', certificates: [single] };
  let info: pkijs.ContentInfo | undefined;
  try {
    info = new pkijs.ContentInfo({ schema: asn1 });
  } catch {
    info = undefined;
  }
  if (info) {
    if (info.contentType !== pkijs.id_ContentType_SignedData) return { type: 'format', what: `a PKCS#7 structure of type ${info.contentType}, not a certificate bundle` };
    // The certificates are taken from the parsed tree with their original bytes, each
    // parsed once: pkijs's SignedData would parse them, then re-encoding would cost as much again.
    const parts = info.content instanceof asn1js.Sequence ? info.content.valueBlock.value : [];
    const signerInfos = parts[parts.length - 1];
    if (parts.length < 4 || !(parts[0] instanceof asn1js.Integer) || !(signerInfos instanceof asn1js.Set)) {
      return { type: 'parse', what: 'a PKCS#7 bundle that cannot be read' };
    }
    if (signerInfos.valueBlock.value.length > 0) return { type: 'format', what: 'a signed PKCS#7 message (.p7s), not a certificates-only bundle (.p7b)' };
    const set = parts.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0) as asn1js.Constructed | undefined;
    const certificates: ParsedCertificate[] = [];
    for (const block of set?.valueBlock.value ?? []) {
      const parsed = certificateFrom(block, new Uint8Array(block.valueBeforeDecodeView));
      if (typeof parsed === 'string') return { type: 'parse', what: parsed };
      if (parsed) certificates.push(parsed); // other certificate choices (attribute certificates) are ignored
    }
    if (certificates.length === 0) return { type: 'format', what: 'a PKCS#7 bundle holding no certificate' };
    return { type: 'certificates', format: 'pkcs7', certificates };
  }
  if (isOneOf(asn1, pkijs.PFX)) return { type: 'private_key', what: 'a PKCS#12 (.p12/.pfx) file, which holds a private key' };
  if (isOneOf(asn1, pkijs.PrivateKeyInfo, pkijs.RSAPrivateKey, pkijs.ECPrivateKey)) return { type: 'private_key', what: 'a private key' };
  if (isOneOf(asn1, pkijs.PKCS8ShroudedKeyBag)) return { type: 'private_key', what: 'an encrypted private key' };
  // Read leniently, a broken certificate can look like no known structure: say what is broken.
  const notDer = derProblem(der);
  if (notDer) return { type: 'parse', what: `not strict DER (${notDer})` };
  return { type: 'format', what: 'DER that is neither a certificate nor a PKCS#7 bundle' };
}

const PRIVATE_LABEL = /PRIVATE KEY/;
const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'PKCS7', 'CMS']);

function decodePem(text: string): Decoded {
  const blocks = pemBlocks(text);
  if (blocks.some((b) => PRIVATE_LABEL.test(b.label))) return { type: 'private_key', what: 'a PEM private key block' };
  const open = unterminatedPemLabels(text);
  if (open.some((l) => CERT_LABELS.has(l) || PRIVATE_LABEL.test(l))) {
    return open.some((l) => PRIVATE_LABEL.test(l)) ? { type: 'private_key', what: 'a PEM private key block' } : { type: 'parse', what: `a truncated PEM block (${open[0]} has no END line)` };
  }
  const certificates: ParsedCertificate[] = [];
  let format: 'pem' | 'pkcs7' = 'pem';
  for (const b of blocks) {
    if (!CERT_LABELS.has(b.label)) continue; // other sections (comments, CRLs, requests) are not ours to judge
    if (!b.der) return { type: 'parse', what: `a ${b.label} PEM block whose body is not base64` };
    const d = decodeDer(b.der);
    if (d.type !== 'certificates') return d;
    if (d.format === 'pkcs7') format = 'pkcs7';
    certificates.push(...d.certificates);
  }
  if (certificates.length === 0) return { type: 'format', what: `PEM without a certificate (found: ${[...new Set(blocks.map((b) => b.label))].join(', ') || 'nothing readable'})` };
  return { type: 'certificates', format, certificates };
}

/**
 * Every accepted input: PEM (one or several certificates, or a PKCS#7 block), a DER
 * certificate, a DER PKCS#7 certs-only bundle, or base64 of one of these. Never
 * throws: a parser failure on hostile input is a `parse` verdict.
 */
export function decodeCertificates(input: Uint8Array): Decoded {
  try {
    const text = Buffer.from(input).toString('latin1');
    if (text.includes('-----BEGIN ')) return decodePem(text);
    const trimmed = text.trim();
    if (trimmed.length > 0 && /^[A-Za-z0-9+/=\r\n]+$/.test(trimmed)) {
      const der = new Uint8Array(Buffer.from(trimmed, 'base64'));
      if (der.length > 0 && der[0] === 0x30) return decodeDer(der);
    }
    if (input.length === 0) return { type: 'parse', what: 'an empty file' };
    return decodeDer(input);
  } catch {
    return { type: 'parse', what: 'a structure the certificate parser could not read' };
  }
}
