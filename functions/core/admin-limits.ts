/**
 * The operator API's vocabulary and limits, apart from its logic: the OpenAPI document
 * (served by the token function too) reads them without loading the admin core.
 */
export const STATUSES = ['ok', 'expiring', 'expired', 'incomplete', 'refused'] as const;
export type Status = (typeof STATUSES)[number];

export const PLATFORM_FAMILIES = ['opco', 'cegid-cfe', 'chorus-piste', 'chorus-edi', 'fla'] as const;
export type PlatformFamily = (typeof PLATFORM_FAMILIES)[number];
/** The eleven OPCOs share one family; every other kind is its own. */
export const familyOf = (kind: string): PlatformFamily => (kind.startsWith('opco-') ? 'opco' : (kind as PlatformFamily));

export const ADMIN_MAX_BODY_BYTES = 16 * 1024;
/** A certificate and its chain in base64, with room to spare (the intake's limit is 64 KiB of file). */
export const ADMIN_UPLOAD_MAX_BODY_BYTES = 256 * 1024;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
export const DEFAULT_MONTHS = 12;
export const MAX_MONTHS = 60;
