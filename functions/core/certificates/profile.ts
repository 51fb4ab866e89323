/**
 * What a platform requires of a certificate, as data: the validator applies it, the
 * platform module declares it.
 */
import type { ParsedCertificate } from './der.ts';

/**
 * Upload size limit, checked before any parsing. Here rather than in validator.ts, so
 * that a module needing the limit does not load the parser with it.
 */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export type ProfileName = 'fla' | 'chorus-client' | 'chorus-server' | 'chorus-signature' | 'chain';
export const PROFILE_NAMES: readonly ProfileName[] = ['fla', 'chorus-client', 'chorus-server', 'chorus-signature', 'chain'];

export interface CertificateProfile {
  name: ProfileName;
  /** The platform, as messages name it. */
  platform: string;
  /** Accepted leaf keys: RSA sizes, EC curves. Anything else is refused. Absent: any key. */
  keys?: { rsa: readonly number[] | { min: number }; ec: readonly string[] };
  /** Accepted signature digests of every certificate but the root's self-signature. Absent: any. */
  digests?: readonly string[];
  /** The leaf's key usage. Absent: not checked. */
  keyUsage?: { all?: readonly string[]; any?: readonly string[] };
  /** The one of clientAuth / serverAuth the leaf must have, without the other. */
  extendedKeyUsage?: 'clientAuth' | 'serverAuth';
  /** A complete chain up to a self-signed root (or a trust anchor) must be in the file. */
  requireChain: boolean;
  /** The chain must end at a configured trust anchor; none configured: a warning says the root was not checked. */
  trustAnchors?: boolean;
  /** Subjects naming a person (givenName, surname, pseudonym) are refused. */
  refusePersons?: boolean;
  /** Test certificates (a configured test policy, or a name matching this) pass for sandbox credentials only. */
  testCertificates?: { namePattern: RegExp };
  /** The leaf's policy must be in the configured allow-list of these levels; unchecked, with a warning, when none is configured. */
  policyAllowList?: { levels: string };
}

export interface ValidationOptions {
  /** The validation date (default: now). */
  at?: Date;
  /** sandbox/acceptance credentials accept test certificates, with a warning. */
  environment?: string;
  /** When the credential holds a private key, the leaf must match it. */
  privateKeyPem?: string;
  /** Certificate policy OIDs accepted for Chorus Pro (RGS* levels); unchecked when empty. */
  policyAllowList?: readonly string[];
  /** Policy OIDs that mark a test certificate. */
  testPolicyOids?: readonly string[];
  /** Trusted CA certificates, for the profiles that check trust anchors (loadTrustAnchors). */
  trustAnchors?: TrustAnchors;
  /** When given, milliseconds spent per stage are added to it (for the benchmark). */
  timings?: StageTimings;
}

export interface StageTimings {
  parsing: number;
  signatures: number;
  rules: number;
}

/** Trusted CA certificates, parsed once. */
export interface TrustAnchors {
  certificates: ParsedCertificate[];
}
