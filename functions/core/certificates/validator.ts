import { createPublicKey, type KeyObject } from 'node:crypto';
import { SesameError } from '../errors.ts';
import type { Text } from '../text.ts';
import { decodeCertificates, type ParsedCertificate } from './der.ts';
import { validatePath, type PathErrorCode } from './path.ts';
import { MAX_CERTIFICATE_BYTES, type CertificateProfile, type ProfileName, type TrustAnchors, type ValidationOptions } from './profile.ts';

export { MAX_CERTIFICATE_BYTES };

export type CertificateErrorCode =
  | 'parse' | 'format' | 'private_key' | 'too_large' | 'key_algorithm' | 'key_size' | 'curve' | 'digest'
  | 'key_usage' | 'extended_key_usage' | 'person_certificate' | 'key_mismatch' | PathErrorCode;

export type CertificateWarningCode = 'policy_not_checked' | 'test_certificate' | 'chain_not_included' | 'extra_certificates' | 'root_not_checked';

export interface Finding<C extends string> {
  code: C;
  message: Text;
  /** The certificate it concerns, when it concerns one: position 1 is the end-entity certificate. */
  certificate?: { position: number; subject: string };
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  key: { type: string; size?: number; curve?: string };
  signature_algorithm: string;
  signature_digest: string | null;
  key_usage: string[] | null;
  extended_key_usage: string[] | null;
  policies: string[];
  sha256: string;
}

export interface CertificateReport {
  valid: boolean;
  profile: ProfileName;
  validated_at: string;
  errors: Finding<CertificateErrorCode>[];
  warnings: Finding<CertificateWarningCode>[];
  /** The chain from the leaf up, then any certificate outside it. */
  certificates: CertificateSummary[];
}

const t = (fr: string, en: string): Text => ({ fr, en });

const PERSON_ATTRIBUTES: Record<string, string> = { '2.5.4.42': 'givenName', '2.5.4.4': 'surname', '2.5.4.65': 'pseudonym' };

function summary(c: ParsedCertificate): CertificateSummary {
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serial,
    not_before: c.notBefore.toISOString(),
    not_after: c.notAfter.toISOString(),
    key: c.key,
    signature_algorithm: c.signatureAlgorithm,
    signature_digest: c.signatureDigest,
    key_usage: c.keyUsage,
    extended_key_usage: c.extendedKeyUsage,
    policies: c.policies,
    sha256: c.sha256,
  };
}

const REFUSAL_TEXT: Record<'parse' | 'format' | 'private_key', (what: string) => Text> = {
  parse: (what) => t(`Le fichier n'a pas pu être lu : ${what}.`, `The file could not be read: ${what}.`),
  format: (what) => t(`Le fichier n'est pas un certificat attendu : ${what}. Déposer un certificat (.cer/.crt, PEM ou DER) ou un PKCS#7 (.p7b) avec sa chaîne.`, `The file is not an expected certificate: ${what}. Upload a certificate (.cer/.crt, PEM or DER) or a PKCS#7 bundle (.p7b) with its chain.`),
  private_key: (what) => t(`Le fichier contient du matériel de clé privée (${what}). Il a été refusé : ne déposer que la partie publique. Considérer cette clé comme exposée.`, `The file holds private key material (${what}). It was refused: upload the public part only. Treat this key as exposed.`),
};

/**
 * The end-entity certificate: the one that issues nothing in the file. A self-signed
 * certificate is one only when it is alone (FLA).
 */
function endEntity(certs: ParsedCertificate[], errors: Finding<CertificateErrorCode>[]): ParsedCertificate | undefined {
  const issuesNothing = certs.filter((c) => !certs.some((o) => o !== c && o.nameIssuedBy(c)));
  const nonRoots = issuesNothing.filter((c) => !c.selfIssued);
  const leaves = nonRoots.length > 0 || certs.length > 1 ? nonRoots : issuesNothing;
  if (leaves.length === 1) return leaves[0];
  errors.push(
    leaves.length === 0
      ? { code: 'path_loop', message: t('Aucun certificat final : les certificats du fichier s’émettent en boucle. Fournir la chaîne officielle de l’autorité.', 'No end-entity certificate: the certificates in the file issue one another in a loop. Provide the authority’s official chain.') }
      : { code: 'format', message: t(`Le fichier contient ${leaves.length} certificats finaux (${leaves.map((l) => l.subject).join(' ; ')}) : n’en déposer qu’un, avec sa chaîne.`, `The file holds ${leaves.length} end-entity certificates (${leaves.map((l) => l.subject).join('; ')}): upload one, with its chain.`) },
  );
  return undefined;
}

/** RFC 5280 path validation from the end-entity certificate, with the profile's expectations of the chain. */
function buildChain(certs: ParsedCertificate[], profile: CertificateProfile, options: ValidationOptions, at: Date, errors: Finding<CertificateErrorCode>[], warnings: Finding<CertificateWarningCode>[]): ParsedCertificate[] | undefined {
  const leaf = endEntity(certs, errors);
  if (!leaf) return undefined;
  const anchors = profile.trustAnchors ? options.trustAnchors?.certificates : undefined;
  const result = validatePath(leaf, certs, {
    at,
    ...(anchors ? { anchors } : {}),
    requireRoot: profile.requireChain,
    // The platform's allow-list, or for the bare chain profile the initial policy set asked for (RFC 5280 §6.1.1 c).
    ...(profile.policyAllowList || profile.name === 'chain' ? { policyAllowList: options.policyAllowList ?? [] } : {}),
  });
  errors.push(...result.errors);
  const chain = result.path;
  const top = chain[chain.length - 1] as ParsedCertificate;
  if (result.end === 'incomplete' && result.errors.length === 0) {
    warnings.push({ code: 'chain_not_included', message: t(`L’émetteur « ${top.issuer} » n’est pas dans le fichier : sa signature n’a pas été vérifiée.`, `The issuer "${top.issuer}" is not in the file: its signature was not checked.`) });
  }
  if (result.end === 'root' && profile.trustAnchors && !anchors && result.errors.length === 0) {
    warnings.push({ code: 'root_not_checked', message: t(`Aucune liste d’autorités de confiance n’est configurée : la racine « ${top.subject} » n’a pas été comparée aux autorités reconnues.`, `No trusted authorities are configured: the root "${top.subject}" was not checked against recognised authorities.`) });
  }
  const extra = certs.filter((c) => !chain.includes(c));
  if (extra.length > 0) {
    warnings.push({ code: 'extra_certificates', message: t(`${extra.length} certificat(s) du fichier ne font pas partie de la chaîne et ont été ignorés.`, `${extra.length} certificate(s) in the file are not part of the chain and were ignored.`) });
  }
  return chain;
}

/**
 * A bundle of trusted CA certificates (PEM or DER), for the profiles that check their
 * chain against trust anchors. Refused with a reason when it holds anything else.
 */
export function loadTrustAnchors(input: Uint8Array, source = 'the trust anchor bundle'): TrustAnchors {
  const decoded = decodeCertificates(input);
  if (decoded.type !== 'certificates') throw new SesameError('invalid_request', `${source} is not usable: ${decoded.type === 'private_key' ? 'it holds a private key' : decoded.what}`);
  const notCa = decoded.certificates.find((c) => !c.basicConstraints?.ca);
  if (notCa) throw new SesameError('invalid_request', `${source} holds "${notCa.subject}", which is not a CA certificate`);
  return { certificates: decoded.certificates };
}

function checkKey(leaf: ParsedCertificate, profile: CertificateProfile, errors: Finding<CertificateErrorCode>[]) {
  if (!profile.keys) return;
  const { type, size, curve } = leaf.key;
  const rsa = profile.keys.rsa;
  const rsaText = Array.isArray(rsa) ? rsa.join(', ') : `${(rsa as { min: number }).min}+`;
  const expected = `RSA ${rsaText}${profile.keys.ec.length ? ` / EC ${profile.keys.ec.join(', ')}` : ''}`;
  if (type === 'rsa') {
    const ok = size !== undefined && (Array.isArray(rsa) ? rsa.includes(size) : size >= (rsa as { min: number }).min);
    if (!ok) errors.push({ code: 'key_size', message: t(`Clé RSA de ${size ?? '?'} bits : ${profile.name} exige ${expected}.`, `RSA key of ${size ?? '?'} bits: ${profile.name} requires ${expected}.`) });
  } else if (type === 'ec') {
    if (!curve || !profile.keys.ec.includes(curve)) errors.push({ code: 'curve', message: t(`Courbe ${curve ?? 'inconnue'} : ${profile.name} exige ${expected}.`, `Curve ${curve ?? 'unknown'}: ${profile.name} requires ${expected}.`) });
  } else {
    errors.push({ code: 'key_algorithm', message: t(`Clé ${type} : ${profile.name} exige ${expected}.`, `${type} key: ${profile.name} requires ${expected}.`) });
  }
}

/** The rules some platforms add: no person certificates, test certificates, the policy allow-list. */
function checkPlatformRules(chain: ParsedCertificate[], profile: CertificateProfile, options: ValidationOptions, errors: Finding<CertificateErrorCode>[], warnings: Finding<CertificateWarningCode>[]) {
  const leaf = chain[0] as ParsedCertificate;
  if (profile.refusePersons) {
    const person = leaf.subjectAttributeTypes.map((o) => PERSON_ATTRIBUTES[o]).filter(Boolean);
    if (person.length > 0) {
      errors.push({ code: 'person_certificate', message: t(`Certificat de personne (le sujet contient ${person.join(', ')}) : ${profile.platform} n’accepte que des certificats d’organisation ou de serveur.`, `A person certificate (the subject holds ${person.join(', ')}): ${profile.platform} accepts organisation or server certificates only.`) });
    }
  }
  if (profile.testCertificates) {
    const pattern = profile.testCertificates.namePattern;
    const testOids = leaf.policies.filter((p) => options.testPolicyOids?.includes(p));
    const testName = chain.some((c) => pattern.test(c.subject) || pattern.test(c.issuer));
    if (testOids.length > 0 || testName) {
      const sandbox = options.environment === 'sandbox' || options.environment === 'acceptance';
      const why = testOids.length > 0 ? `policy ${testOids.join(', ')}` : 'TEST in a name';
      if (sandbox) warnings.push({ code: 'test_certificate', message: t(`Certificat de test (${why}) : accepté pour la qualification uniquement.`, `A test certificate (${why}): accepted for qualification only.`) });
      else errors.push({ code: 'policy', message: t(`Certificat de test (${why}) : refusé pour la production, accepté seulement pour un identifiant de qualification (sandbox).`, `A test certificate (${why}): refused for production, accepted for a qualification (sandbox) credential only.`) });
    }
  }
  if (profile.policyAllowList) {
    const levels = profile.policyAllowList.levels;
    const allow = options.policyAllowList ?? [];
    if (allow.length === 0) {
      warnings.push({ code: 'policy_not_checked', message: t(`Aucune liste de politiques ${levels} n’est configurée : la politique de certification n’a pas été vérifiée.`, `No ${levels} policy allow-list is configured: the certificate policy was not checked.`) });
    } else if (!leaf.policies.some((p) => allow.includes(p)) && !errors.some((e) => e.code === 'policy')) {
      errors.push({ code: 'policy', message: t(`Politique de certification non acceptée (${leaf.policies.join(', ') || 'aucune'}) : un certificat ${levels} d’une autorité de la liste de confiance est requis (attendu : ${allow.join(', ')}).`, `Certificate policy not accepted (${leaf.policies.join(', ') || 'none'}): an ${levels} certificate from a trusted-list CA is required (expected: ${allow.join(', ')}).`) });
    }
  }
}

/** The report of an object too large to read, decided from its size alone. */
export function oversizedReport(size: number, profile: CertificateProfile, at: Date): CertificateReport {
  return {
    valid: false,
    profile: profile.name,
    validated_at: at.toISOString(),
    errors: [{ code: 'too_large', message: tooLarge(size) }],
    warnings: [],
    certificates: [],
  };
}

const tooLarge = (size: number) =>
  t(`Fichier de ${size} octets : la limite est ${MAX_CERTIFICATE_BYTES} octets (un certificat et sa chaîne en font quelques milliers).`, `File of ${size} bytes: the limit is ${MAX_CERTIFICATE_BYTES} bytes (a certificate and its chain take a few thousand).`);

/**
 * Bytes in, report out: never an exception. The same file gives the same report for
 * the same profile, options and date.
 */
export function validateCertificate(input: Uint8Array, profile: CertificateProfile, options: ValidationOptions = {}): CertificateReport {
  return validateCertificateChain(input, profile, options).report;
}

/** The report, and when valid the chain's DER from the leaf up (what an accepted upload stores). */
export function validateCertificateChain(input: Uint8Array, profile: CertificateProfile, options: ValidationOptions = {}): { report: CertificateReport; chain: Uint8Array[] } {
  let chainDer: Uint8Array[] = [];
  const report = validate(input, profile, options, (chain) => {
    chainDer = chain.map((c) => c.der);
  });
  return { report, chain: report.valid ? chainDer : [] };
}

function validate(input: Uint8Array, profile: CertificateProfile, options: ValidationOptions, onChain: (chain: ParsedCertificate[]) => void): CertificateReport {
  const at = options.at ?? new Date();
  const errors: Finding<CertificateErrorCode>[] = [];
  const warnings: Finding<CertificateWarningCode>[] = [];
  const done = (certificates: ParsedCertificate[] = []): CertificateReport => ({
    valid: errors.length === 0,
    profile: profile.name,
    validated_at: at.toISOString(),
    errors,
    warnings,
    certificates: certificates.map(summary),
  });

  if (input.byteLength > MAX_CERTIFICATE_BYTES) {
    errors.push({ code: 'too_large', message: tooLarge(input.byteLength) });
    return done();
  }
  const clock = options.timings ? () => performance.now() : undefined;
  let mark = clock?.() ?? 0;
  const lap = (stage: 'parsing' | 'signatures' | 'rules') => {
    if (!clock || !options.timings) return;
    const now = clock();
    options.timings[stage] += now - mark;
    mark = now;
  };
  const decoded = decodeCertificates(input);
  lap('parsing');
  if (decoded.type !== 'certificates') {
    errors.push({ code: decoded.type, message: REFUSAL_TEXT[decoded.type](decoded.what) });
    return done();
  }
  const certs = decoded.certificates;
  const chain = buildChain(certs, profile, options, at, errors, warnings);
  lap('signatures');
  if (!chain) return done(certs);
  const leaf = chain[0] as ParsedCertificate;
  onChain(chain);
  const ordered = [...chain, ...certs.filter((c) => !chain.includes(c))];

  checkKey(leaf, profile, errors);
  const digests = profile.digests;
  for (const c of digests ? chain : []) {
    if (c.selfIssued && c !== leaf) continue; // a root's self-signature is not what is trusted
    if (!c.signatureDigest || !digests?.includes(c.signatureDigest)) {
      errors.push({ code: 'digest', message: t(`« ${c.subject} » est signé en ${c.signatureAlgorithm} : ${profile.name} exige ${digests?.join(', ')}.`, `"${c.subject}" is signed with ${c.signatureAlgorithm}: ${profile.name} requires ${digests?.join(', ')}.`), certificate: { position: chain.indexOf(c) + 1, subject: c.subject } });
    }
  }
  const ku = leaf.keyUsage;
  const { all = [], any = [] } = profile.keyUsage ?? {};
  const missing = all.filter((u) => !ku?.includes(u));
  if (profile.keyUsage && (!ku || missing.length > 0 || (any.length > 0 && !any.some((u) => ku.includes(u))))) {
    const need = [...all, ...(any.length ? [any.join(' ou/or ')] : [])].join(' + ');
    errors.push({ code: 'key_usage', message: t(`Usage de clé ${ku ? ku.join(', ') || 'vide' : 'absent'} : ${profile.name} exige ${need}.`, `Key usage ${ku ? ku.join(', ') || 'empty' : 'absent'}: ${profile.name} requires ${need}.`) });
  }
  if (profile.extendedKeyUsage) {
    const want = profile.extendedKeyUsage;
    const other = want === 'clientAuth' ? 'serverAuth' : 'clientAuth';
    const eku = leaf.extendedKeyUsage;
    if (!eku || !eku.includes(want) || eku.includes(other)) {
      errors.push({ code: 'extended_key_usage', message: t(`Usage étendu ${eku?.join(', ') || 'absent'} : ${profile.name} exige ${want} sans ${other} (l’un ou l’autre, pas les deux).`, `Extended key usage ${eku?.join(', ') || 'absent'}: ${profile.name} requires ${want} without ${other} (one or the other, not both).`) });
    }
  }
  checkPlatformRules(chain, profile, options, errors, warnings);
  if (options.privateKeyPem) {
    const leafKey = leaf.publicKey();
    let matches = false;
    try {
      if (!leafKey) throw new Error('no key');
      // SPKI bytes, not KeyObject.equals(): on keys of different types equals() leaves an
      // error in OpenSSL's queue that makes the next unrelated crypto call fail (Node 20).
      const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
      matches = spki(leafKey).equals(spki(createPublicKey(options.privateKeyPem)));
    } catch {
      matches = false;
    }
    if (!matches) errors.push({ code: 'key_mismatch', message: t('La clé publique du certificat ne correspond pas à la clé privée enregistrée pour cet identifiant : déposer le certificat émis pour cette clé.', 'The certificate’s public key does not match the private key stored for this credential: upload the certificate issued for that key.') });
  }
  const report = done(ordered);
  lap('rules');
  return report;
}
