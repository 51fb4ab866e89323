import { SesameError } from '../errors.ts';
import cegidCfe from './cegid-cfe.ts';
import chorusEdi from './chorus-edi.ts';
import chorusPiste from './chorus-piste.ts';
import fla from './fla.ts';
import afdas from './opco/afdas.ts';
import akto from './opco/akto.ts';
import atlas from './opco/atlas.ts';
import constructys from './opco/constructys.ts';
import mobilites from './opco/mobilites.ts';
import ocapiat from './opco/ocapiat.ts';
import opco2i from './opco/opco2i.ts';
import opcoep from './opco/opcoep.ts';
import opcommerce from './opco/opcommerce.ts';
import sante from './opco/sante.ts';
import uniformation from './opco/uniformation.ts';
import type { Platform } from './types.ts';

/** The registry: one line per platform. */
export const PLATFORMS: readonly Platform[] = [
  fla,
  chorusPiste,
  chorusEdi,
  cegidCfe,
  afdas,
  akto,
  atlas,
  constructys,
  mobilites,
  ocapiat,
  opco2i,
  opcoep,
  opcommerce,
  sante,
  uniformation,
];

const BY_KIND = new Map(PLATFORMS.map((p) => [p.kind, p]));
export const KINDS: readonly string[] = PLATFORMS.map((p) => p.kind);

export function platformOf(kind: string): Platform {
  const p = BY_KIND.get(kind);
  if (!p) throw new SesameError('invalid_request', `unknown kind "${kind}"; known kinds: ${KINDS.join(', ')}`, { details: { field: 'kind' } });
  return p;
}
