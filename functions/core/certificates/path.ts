import type { Text } from '../text.ts';
import type { GeneralName, ParsedCertificate } from './der.ts';

/**
 * Certification path building and validation as RFC 5280 §6.1 describes them, over
 * certificates parsed once (der.ts) with signatures checked by node:crypto.
 *
 * Where RFC 5280 leaves the trust anchor's own constraints to the relying party, this
 * applies them as OpenSSL does: the top certificate's validity, critical extensions,
 * CA flag and key usage, path length and name constraints all count.
 */

/** Certificates in one path, the root or anchor included: more is refused, never cut short. */
export const MAX_PATH_LENGTH = 10;
/** Partial paths tried while building: bounds the work a hostile file can cause. */
const MAX_ATTEMPTS = 256;
const ANY_POLICY = '2.5.29.32.0';

/** Extensions this engine processes; any other one marked critical refuses the path. */
const PROCESSED_EXTENSIONS = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.18', // issuerAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.30', // nameConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
]);

export type PathErrorCode =
  | 'chain_incomplete' | 'chain_signature' | 'expired' | 'not_yet_valid' | 'not_ca' | 'key_cert_sign' | 'path_length'
  | 'name_constraints' | 'critical_extension' | 'untrusted_root' | 'path_loop' | 'path_too_long' | 'policy';

export interface PathFinding {
  code: PathErrorCode;
  message: Text;
  /** The certificate it concerns: position 1 is the end-entity certificate. */
  certificate?: { position: number; subject: string };
}

export interface PathOptions {
  at: Date;
  /** Trusted CA certificates: the path must end at one of them. */
  anchors?: readonly ParsedCertificate[];
  /** Without anchors: an issuer missing from the file is an error (else the caller warns). */
  requireRoot: boolean;
  /** Policy OIDs of which the path must keep one (RFC 5280 explicit policy); empty: not checked. */
  policyAllowList?: readonly string[];
}

export interface PathResult {
  /** From the end-entity certificate up to the root or anchor, as far as it could be built. */
  path: ParsedCertificate[];
  errors: PathFinding[];
  /** How the path ends: at a trust anchor, at a self-signed root nobody vouched for, or short of either. */
  end: 'anchor' | 'root' | 'incomplete';
}

const t = (fr: string, en: string): Text => ({ fr, en });
const day = (d: Date) => d.toISOString().slice(0, 10);

function about(path: readonly ParsedCertificate[], c: ParsedCertificate): PathFinding['certificate'] {
  return { position: path.indexOf(c) + 1, subject: c.subject };
}

/** How a finding names its certificate, in both languages. */
function which(path: readonly ParsedCertificate[], c: ParsedCertificate): { fr: string; en: string } {
  const i = path.indexOf(c);
  const role = i === 0 ? ['le certificat final', 'the end-entity certificate'] : i === path.length - 1 && path.length > 1 ? ['le certificat racine', 'the root certificate'] : ['le certificat intermédiaire', 'the intermediate certificate'];
  return { fr: `${role[0]} « ${c.subject} » (n° ${i + 1} de la chaîne)`, en: `${role[1]} "${c.subject}" (number ${i + 1} in the chain)` };
}

function finding(path: readonly ParsedCertificate[], c: ParsedCertificate, code: PathErrorCode, fr: (w: string) => string, en: (w: string) => string): PathFinding {
  const w = which(path, c);
  return { code, message: t(fr(w.fr), en(w.en)), certificate: about(path, c) };
}

const sameName = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((r, i) => r === b[i]);

function isAnchor(c: ParsedCertificate, anchors: readonly ParsedCertificate[]): boolean {
  return anchors.some((a) => a.sha256 === c.sha256 || (a.spkiSha256 === c.spkiSha256 && sameName(a.subjectRdns, c.subjectRdns)));
}

// ---- name constraints (RFC 5280 §4.2.1.10) ----

function dnsWithin(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const b = base.toLowerCase().replace(/\.$/, '');
  if (b === '') return true;
  if (b.startsWith('.')) return n.endsWith(b);
  return n === b || n.endsWith(`.${b}`);
}

function emailWithin(name: string, base: string): boolean {
  const at = name.lastIndexOf('@');
  const host = name.slice(at + 1).toLowerCase();
  if (base.includes('@')) return name.slice(0, at) === base.slice(0, base.lastIndexOf('@')) && host === base.slice(base.lastIndexOf('@') + 1).toLowerCase();
  if (base.startsWith('.')) return host.endsWith(base.toLowerCase());
  return host === base.toLowerCase();
}

function uriHost(uri: string): string | undefined {
  try {
    return new URL(uri).hostname.replace(/^\[|\]$/g, '') || undefined;
  } catch {
    return undefined;
  }
}

function ipWithin(name: Uint8Array, base: Uint8Array): boolean {
  if (base.length !== name.length * 2) return false;
  for (let i = 0; i < name.length; i++) {
    const mask = base[name.length + i] as number;
    if (((name[i] as number) & mask) !== ((base[i] as number) & mask)) return false;
  }
  return true;
}

/** Whether a name falls within a subtree of the same type; undefined when the types differ. */
function within(name: GeneralName, base: GeneralName): boolean | undefined {
  if (name.type !== base.type) return undefined;
  switch (name.type) {
    case 'dns':
      return dnsWithin(name.value, base.value as string);
    case 'email':
      return emailWithin(name.value, base.value as string);
    case 'uri': {
      const host = uriHost(name.value);
      return host !== undefined && dnsWithin(host, base.value as string);
    }
    case 'ip':
      return ipWithin(name.value, base.value as Uint8Array);
    case 'dn': {
      const b = base.value as string[];
      return b.length <= name.value.length && b.every((r, i) => r === name.value[i]);
    }
    default:
      return undefined;
  }
}

const describeName = (n: GeneralName): string =>
  n.type === 'ip' ? `IP ${n.value.length === 4 ? [...n.value].join('.') : Buffer.from(n.value).toString('hex')}` : n.type === 'dn' ? 'its subject name' : n.type === 'other' ? `a name of type ${n.value}` : `${n.type.toUpperCase()} ${n.value}`;

/** The first of the certificate's names that a constraint refuses, with why. */
function nameViolation(c: ParsedCertificate, constraints: { permitted: GeneralName[] | undefined; excluded: GeneralName[] }[]): string | undefined {
  const names: GeneralName[] = [...(c.subjectRdns.length > 0 ? [{ type: 'dn', value: c.subjectRdns } as GeneralName] : []), ...c.altNames];
  for (const name of names) {
    for (const { permitted, excluded } of constraints) {
      if (name.type === 'other' && [...(permitted ?? []), ...excluded].some((b) => b.type === 'other' && b.value === name.value)) {
        return `${describeName(name)} is constrained in a way Sesame cannot check`;
      }
      if (excluded.some((b) => within(name, b) === true)) return `${describeName(name)} is in an excluded subtree`;
      const sameType = (permitted ?? []).filter((b) => b.type === name.type);
      if (sameType.length > 0 && !sameType.some((b) => within(name, b) === true)) return `${describeName(name)} is outside the permitted subtrees`;
    }
  }
  return undefined;
}

// ---- the path, checked from the top down ----

function checkPath(path: ParsedCertificate[], options: PathOptions): PathFinding[] {
  const errors: PathFinding[] = [];
  const n = path.length;
  for (const c of path) {
    if (options.at > c.notAfter) errors.push(finding(path, c, 'expired', (w) => `${w} a expiré le ${day(c.notAfter)} : demander à l’autorité de certification un certificat en cours de validité.`, (w) => `${w} expired on ${day(c.notAfter)}: ask the certification authority for a current one.`));
    else if (options.at < c.notBefore) errors.push(finding(path, c, 'not_yet_valid', (w) => `${w} n’est valable qu’à partir du ${day(c.notBefore)} : le déposer à partir de cette date.`, (w) => `${w} is valid only from ${day(c.notBefore)}: upload it from that date.`));
    const unknown = c.criticalExtensions.filter((o) => !PROCESSED_EXTENSIONS.has(o));
    if (unknown.length > 0) {
      errors.push(finding(path, c, 'critical_extension', (w) => `${w} porte une extension critique que Sesame ne sait pas traiter (${unknown.join(', ')}) : un vérificateur doit alors le refuser. Demander à l’autorité un certificat sans elle.`, (w) => `${w} carries a critical extension Sesame does not process (${unknown.join(', ')}): a verifier must then refuse it. Ask the authority for a certificate without it.`));
    }
  }

  let remaining = Number.POSITIVE_INFINITY;
  const constraints: { permitted: GeneralName[] | undefined; excluded: GeneralName[] }[] = [];
  for (let k = n - 1; k >= 0; k--) {
    const c = path[k] as ParsedCertificate;
    const top = k === n - 1;
    // Names are checked against the constraints of every CA above; a self-issued CA certificate is exempt (RFC 5280 §6.1.3 b).
    if (!top && (k === 0 || !c.selfIssued) && constraints.length > 0) {
      const why = nameViolation(c, constraints);
      if (why) errors.push(finding(path, c, 'name_constraints', (w) => `${w} sort des contraintes de noms de son autorité (${why}) : l’autorité n’a pas le droit d’émettre pour ce nom.`, (w) => `${w} breaks its authority's name constraints (${why}): that authority may not issue for this name.`));
    }
    if (k === 0) break;
    // An issuer: a CA, allowed to sign certificates, within the path length left.
    if (!c.basicConstraints?.ca) {
      errors.push(finding(path, c, 'not_ca', (w) => `${w} n’est pas une autorité de certification (basicConstraints ${c.basicConstraints ? 'cA=FALSE' : 'absent'}) mais il en émet un autre. Demander la chaîne officielle de l’autorité.`, (w) => `${w} is not a certification authority (basicConstraints ${c.basicConstraints ? 'cA=FALSE' : 'absent'}) yet issues another certificate. Ask for the authority's official chain.`));
    }
    if (c.keyUsage && !c.keyUsage.includes('keyCertSign')) {
      errors.push(finding(path, c, 'key_cert_sign', (w) => `${w} n’a pas l’usage keyCertSign : sa clé ne peut pas signer de certificats. Demander la chaîne officielle de l’autorité.`, (w) => `${w} lacks the keyCertSign key usage: its key may not sign certificates. Ask for the authority's official chain.`));
    }
    if (!top && !c.selfIssued) {
      if (remaining <= 0) {
        errors.push(finding(path, c, 'path_length', (w) => `${w} dépasse la longueur de chemin permise par une autorité au-dessus de lui (pathLenConstraint) : cette autorité n’autorise pas autant d’intermédiaires.`, (w) => `${w} exceeds the path length an authority above it allows (pathLenConstraint): that authority does not allow this many intermediates.`));
      }
      remaining -= 1;
    }
    if (c.basicConstraints?.pathLen !== undefined) remaining = Math.min(remaining, c.basicConstraints.pathLen);
    if (c.nameConstraints) constraints.push(c.nameConstraints);
  }

  const allow = options.policyAllowList ?? [];
  if (allow.length > 0) {
    // The policies valid all along the path below its top, with anyPolicy as a wildcard.
    let valid = new Set([ANY_POLICY]);
    for (let k = n - 2; k >= 0; k--) {
      const p = (path[k] as ParsedCertificate).policies;
      const next = new Set<string>();
      for (const oid of p) if (oid !== ANY_POLICY && (valid.has(oid) || valid.has(ANY_POLICY))) next.add(oid);
      if (p.includes(ANY_POLICY)) for (const v of valid) next.add(v);
      valid = next;
    }
    if (!valid.has(ANY_POLICY) && !allow.some((o) => valid.has(o))) {
      const leaf = path[0] as ParsedCertificate;
      const kept = [...valid].join(', ') || 'aucune/none';
      errors.push(finding(path, leaf, 'policy', (w) => `Aucune politique acceptée ne reste valable le long de la chaîne jusqu’à ${w} (valables : ${kept} ; attendues : ${allow.join(', ')}) : une autorité intermédiaire ne couvre pas la politique du certificat.`, (w) => `No accepted policy stays valid along the chain down to ${w} (valid: ${kept}; expected: ${allow.join(', ')}): an intermediate authority does not cover the certificate's policy.`));
    }
  }
  return errors;
}

/**
 * Builds the paths from `leaf` through `pool` (and the anchors), trying every candidate
 * issuer, and returns the first valid one, or the failure that got furthest.
 */
export function validatePath(leaf: ParsedCertificate, pool: readonly ParsedCertificate[], options: PathOptions): PathResult {
  const anchors = options.anchors;
  const everyone = [...pool, ...(anchors ?? []).filter((a) => !pool.some((p) => p.sha256 === a.sha256))];
  const results: PathResult[] = [];
  let attempts = 0;

  const stop = (path: ParsedCertificate[], errors: PathFinding[], end: PathResult['end']) => {
    results.push({ path, errors, end });
  };

  const extend = (path: ParsedCertificate[]): boolean => {
    if (++attempts > MAX_ATTEMPTS) return false;
    const top = path[path.length - 1] as ParsedCertificate;
    if (anchors ? isAnchor(top, anchors) : top.selfIssued && top.isIssuedBy(top)) {
      const end = anchors ? 'anchor' : 'root';
      const errors = checkPath(path, options);
      stop(path, errors, end);
      return errors.length === 0;
    }
    if (path.length >= MAX_PATH_LENGTH) {
      stop(path, [finding(path, top, 'path_too_long', (w) => `La chaîne dépasse ${MAX_PATH_LENGTH} certificats sans atteindre de racine (arrêt à ${w}) : fournir la chaîne officielle, plus courte.`, (w) => `The chain runs past ${MAX_PATH_LENGTH} certificates without reaching a root (stopped at ${w}): provide the official, shorter chain.`)], 'incomplete');
      return false;
    }
    const named = everyone.filter((c) => c !== top && c.sha256 !== top.sha256 && top.nameIssuedBy(c));
    // Issuers whose key verifies first, and among them the trust anchors.
    named.sort((a, b) => Number(top.isIssuedBy(b)) - Number(top.isIssuedBy(a)) || Number(anchors ? isAnchor(b, anchors) : 0) - Number(anchors ? isAnchor(a, anchors) : 0));
    if (named.length === 0) {
      if (top.selfIssued && top.isIssuedBy(top)) {
        stop(path, [finding(path, top, 'untrusted_root', (w) => `La chaîne se termine par ${w}, qui n’est pas une autorité de confiance configurée : la chaîne doit mener à une autorité de la liste de confiance (RGS*).`, (w) => `The chain ends at ${w}, which is not one of the configured trusted authorities: the chain must lead to a trusted-list (RGS*) authority.`)], 'root');
      } else if (top.selfIssued) {
        stop(path, [finding(path, top, 'chain_signature', (w) => `La signature de ${w} ne se vérifie pas avec sa propre clé.`, (w) => `The self-signature of ${w} does not verify with its own key.`)], 'incomplete');
      } else if (!options.requireRoot && !anchors) {
        // A certificate whose issuer need not come with it (FLA): what is there is checked, the caller warns.
        const errors = checkPath(path, options);
        stop(path, errors, 'incomplete');
        return errors.length === 0;
      } else {
        const where = anchors ? ['ni dans le fichier ni parmi les autorités de confiance', 'neither in the file nor among the trusted authorities'] : ['absent du fichier', 'missing from the file'];
        stop(path, [finding(path, top, 'chain_incomplete', (w) => `Chaîne incomplète : l’émetteur « ${top.issuer} » de ${w} est ${where[0]}. Exporter le certificat en PKCS#7 (.p7b) avec la chaîne complète jusqu’à la racine.`, (w) => `Incomplete chain: the issuer "${top.issuer}" of ${w} is ${where[1]}. Export the certificate as PKCS#7 (.p7b) with the complete chain up to the root.`)], 'incomplete');
      }
      return false;
    }
    for (const issuer of named) {
      if (path.some((p) => p.sha256 === issuer.sha256)) {
        stop(path, [finding(path, issuer, 'path_loop', (w) => `Les certificats s’émettent en boucle (${w} revient dans la chaîne) sans atteindre de racine : fournir la chaîne officielle de l’autorité.`, (w) => `The certificates issue one another in a loop (${w} comes back in the chain) without reaching a root: provide the authority's official chain.`)], 'incomplete');
        continue;
      }
      if (!top.isIssuedBy(issuer)) {
        stop(path, [finding(path, top, 'chain_signature', (w) => `La signature de ${w} ne se vérifie pas avec la clé de « ${issuer.subject} » : émetteur contrefait ou mauvais certificat.`, (w) => `The signature of ${w} does not verify with the key of "${issuer.subject}": a forged or wrong issuer certificate.`)], 'incomplete');
        continue;
      }
      if (extend([...path, issuer])) return true;
    }
    return false;
  };

  if (extend([leaf])) return results[results.length - 1] as PathResult;
  // No valid path: the one that got furthest, complete paths before broken ones, fewest errors.
  const rank = (r: PathResult) => (r.end === 'incomplete' ? 0 : 1000) + r.path.length * 10 - r.errors.length;
  return results.reduce((best, r) => (rank(r) > rank(best) ? r : best));
}
