import { describe, expect, it } from 'vitest';
import { SesameError } from '../../functions/core/errors.ts';
import { parseCredentialId, parseTenantId } from '../../functions/core/ids.ts';
import { KINDS } from '../../functions/core/platforms/index.ts';

describe('tenant ids', () => {
  it.each(['cfa-paris', 'a', '0', 'x'.repeat(64), 'acme-2'])('accepts %s', (id) => {
    expect(parseTenantId(id)).toBe(id);
  });
  it.each(['', 'CFA', 'cfa_paris', 'x'.repeat(65), 'a/b', '..', 'é', ' a', 42, undefined])('refuses %s with invalid_request', (id) => {
    expect(() => parseTenantId(id)).toThrowError(expect.objectContaining({ code: 'invalid_request' }));
  });
});

describe('credential ids', () => {
  it.each([
    ['fla', 'fla'],
    ['fla-employer', 'fla'],
    ['fla-training-provider-acc', 'fla'],
    ['chorus-piste', 'chorus-piste'],
    ['chorus-piste-sandbox', 'chorus-piste'],
    ['chorus-edi-client', 'chorus-edi'],
    ['opco-ocapiat', 'opco-ocapiat'],
    ['opco-atlas-2', 'opco-atlas'],
    ['cegid-cfe', 'cegid-cfe'],
  ])('reads %s as kind %s', (id, kind) => {
    expect(parseCredentialId(id, KINDS)).toEqual({ id, kind });
  });
  it.each(['opco', 'opco-unknown', 'chorus', 'flax', 'FLA', 'fla--x', 'fla-', '-fla', 'fla_employer', 'x'.repeat(129)])('refuses %s', (id) => {
    let err: unknown;
    try {
      parseCredentialId(id, KINDS);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SesameError);
    expect((err as SesameError).code).toBe('invalid_request');
  });
});

describe('the kind registry', () => {
  it('holds the 11 OPCOs, Cegid, both Chorus kinds and FLA', () => {
    expect([...KINDS].sort()).toEqual(
      [
        'cegid-cfe', 'chorus-edi', 'chorus-piste', 'fla',
        'opco-afdas', 'opco-akto', 'opco-atlas', 'opco-constructys', 'opco-mobilites', 'opco-ocapiat',
        'opco-opco2i', 'opco-opcoep', 'opco-opcommerce', 'opco-sante', 'opco-uniformation',
      ].sort(),
    );
  });
});
