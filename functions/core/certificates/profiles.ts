import { SesameError } from '../errors.ts';
import { PLATFORMS } from '../platforms/index.ts';
import { PROFILE_NAMES, type CertificateProfile, type ProfileName } from './profile.ts';

/**
 * RFC 5280 path validation alone, no platform rule: to check a chain against trust
 * anchors, and to measure the path validator against third-party suites.
 */
export const CHAIN_PROFILE: CertificateProfile = { name: 'chain', platform: 'RFC 5280', requireChain: true, trustAnchors: true };

/** Every profile that a platform module declares, by name, and the chain profile. */
const BY_NAME = new Map([...PLATFORMS.flatMap((p) => p.certificateProfiles ?? []), CHAIN_PROFILE].map((p) => [p.name, p]));

export function certificateProfile(name: string): CertificateProfile {
  const p = BY_NAME.get(name as ProfileName);
  if (!p) throw new SesameError('invalid_request', `unknown certificate profile "${name}"; profiles: ${PROFILE_NAMES.join(', ')}`, { details: { field: 'profile' } });
  return p;
}
