import { describe, expect, it } from 'vitest';
import { expiryNotification, genericName, subjectTail, type Due } from '../../functions/core/expiry.ts';
import { ID_PATTERN } from '../../functions/core/ids.ts';
import { PLATFORMS } from '../../functions/core/platforms/index.ts';
import type { ExpiryName, Platform } from '../../functions/core/platforms/types.ts';

/**
 * Issue 13: alert subjects are at most 100 characters and never cut inside a word. The
 * long name of what expires gives way first, so that the tenant, the credential and the
 * days left fit; two ids of 64 characters cannot both fit whole (129 characters), so then
 * each keeps its leading words.
 */

const LONGEST = 64;
const word64 = 'a'.repeat(LONGEST);
/** Ids of the longest length, of one long word, of many short ones, and ordinary ones. */
function tenants(): string[] {
  return [word64, 'cfa-de-la-chambre-de-metiers-et-de-l-artisanat-auvergne-rhone-ab', 'x-'.repeat(31) + 'yz', 'cfa-paris'];
}
function credentials(kind: string): string[] {
  const pad = (rest: string) => `${kind}-${rest}`.slice(0, LONGEST).replace(/-$/, 'z');
  return [pad('b'.repeat(LONGEST)), pad('campus-de-villeurbanne-la-doua-batiment-principal-annexe-nord'), pad('q-'.repeat(LONGEST)), kind];
}
const DUES: Due[] = [
  { type: 'threshold', threshold: 60, daysLeft: 60, severity: 'info' },
  { type: 'threshold', threshold: 1, daysLeft: 1, severity: 'critical' },
  { type: 'expired', daysAgo: 0, severity: 'expired' },
  { type: 'expired', daysAgo: 365, severity: 'expired' },
  { type: 'no-date', severity: 'info' },
];
const namesOf = (p: Platform): ExpiryName[] => [...Object.values(p.names.expiries), genericName(p)];

/** The words of a text: what lies between spaces, "/" and "-". */
const words = (s: string) => s.split(/[\s/-]+/).filter(Boolean);

const cases = PLATFORMS.flatMap((p) => tenants().flatMap((tenant) => credentials(p.kind).flatMap((credential) => namesOf(p).flatMap((what) => DUES.map((due) => ({ p, tenant, credential, what, due }))))));

describe('alert subjects', () => {
  it('the test ids are valid and of the longest length', () => {
    for (const p of PLATFORMS) {
      for (const id of [...tenants(), ...credentials(p.kind)]) expect(ID_PATTERN.test(id), id).toBe(true);
      expect(credentials(p.kind)[0]).toHaveLength(LONGEST);
    }
    expect(tenants()[0]).toHaveLength(LONGEST);
  });

  it(`every platform, every name, ids up to 64 characters: at most 100 characters, ending with the days left, no word cut (${cases.length} subjects)`, () => {
    for (const { p, tenant, credential, what, due } of cases) {
      const { subject } = expiryNotification({ tenant, credential, kind: p.kind, what, due });
      const tail = subjectTail(due);
      expect(subject.length, subject).toBeLessThanOrEqual(100);
      expect(subject.startsWith('[Sesame] '), subject).toBe(true);
      expect(subject.endsWith(` ${tail}`), subject).toBe(true);
      // Every word is one of the whole subject's, or of the short name; "…" marks what was left out.
      const allowed = new Set(words(`[Sesame] ${what.en} ${what.short} of ${tenant}/${credential} ${tail}`));
      for (const w of words(subject)) if (w !== '…') expect(allowed.has(w), `"${w}" in: ${subject}`).toBe(true);
      // The ids are whole whenever they fit together.
      if (`[Sesame] ${tenant}/${credential} ${tail}`.length <= 100) expect(subject).toContain(` ${tenant}/${credential} `);
    }
  });

  it('shortens the platform\'s long name before anything else', () => {
    const fla = PLATFORMS.find((p) => p.kind === 'fla') as Platform;
    const due: Due = { type: 'no-date', severity: 'info' };
    expect(expiryNotification({ tenant: 'cfa-paris', credential: 'fla-employer', kind: 'fla', what: genericName(fla), due }).subject).toBe('[Sesame] FLA credential of cfa-paris/fla-employer has no end date recorded');
    const piste = PLATFORMS.find((p) => p.kind === 'chorus-piste') as Platform;
    const password = piste.names.expiries.password as ExpiryName;
    const tenant = 'cfa-de-la-region-auvergne-rhone-alpes';
    const soon: Due = { type: 'threshold', threshold: 14, daysLeft: 12, severity: 'warning' };
    expect(expiryNotification({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', what: password, due: soon }).subject).toBe('[Sesame] Chorus Pro technical account password of cfa-paris/chorus-piste expires in 12 days');
    expect(expiryNotification({ tenant, credential: 'chorus-piste', kind: 'chorus-piste', what: password, due: soon }).subject).toBe(`[Sesame] Chorus password of ${tenant}/chorus-piste expires in 12 days`);
    // Then the name goes, and the ids stay whole.
    const long = 'cfa-de-la-chambre-de-metiers-et-de-l-artisanat-auvergne';
    expect(expiryNotification({ tenant: long, credential: 'chorus-piste', kind: 'chorus-piste', what: password, due: soon }).subject).toBe(`[Sesame] ${long}/chorus-piste expires in 12 days`);
  });

  it('ids too long to fit together keep their leading words, the credential its kind', () => {
    const fla = PLATFORMS.find((p) => p.kind === 'fla') as Platform;
    const subject = expiryNotification({
      tenant: 'cfa-de-la-chambre-de-metiers-et-de-l-artisanat-auvergne-rhone-ab',
      credential: 'fla-training-provider-campus-de-villeurbanne-la-doua-batiment-a',
      kind: 'fla',
      what: fla.names.expiries.certificate as ExpiryName,
      due: { type: 'threshold', threshold: 7, daysLeft: 7, severity: 'warning' },
    }).subject;
    expect(subject).toBe('[Sesame] cfa-de-la-chambre-de-metiers-et-de-l-…/fla-training-provider-campus-de-… expires in 7 days');
  });
});
