import { SesameError } from '../errors.ts';
import { PLATFORMS } from '../platforms/index.ts';
import { PROFILE_NAMES, type CertificateProfile, type ProfileName } from './profile.ts';

/** Every profile that a platform module declares, by name. */
const BY_NAME = new Map(PLATFORMS.flatMap((p) => p.certificateProfiles ?? []).map((p) => [p.name, p]));

export function certificateProfile(name: string): CertificateProfile {
  const p = BY_NAME.get(name as ProfileName);
  if (!p) throw new SesameError('invalid_request', `unknown certificate profile "${name}"; profiles: ${PROFILE_NAMES.join(', ')}`, { details: { field: 'profile' } });
  return p;
}
