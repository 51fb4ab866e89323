import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import { keyPair } from '../helpers/keys.ts';
import { tempSystem } from '../helpers/system.ts';

/**
 * A credential the stack declares is a placeholder whose environment lives only in its
 * `sesame:environment` tag (the body has none, so that a config change never writes
 * over a filled value). Whatever later fills it must keep that environment.
 */
let system: System;
let cleanup: () => Promise<void>;
const placeholder = (tenant: string, credential: string, kind: string, environment: string) =>
  system.store.put(`sesame/${tenant}/${credential}`, { tenant, credential, kind, placeholder: true }, { 'sesame:tenant': tenant, 'sesame:credential': credential, 'sesame:kind': kind, 'sesame:environment': environment });

beforeEach(async () => {
  ({ system, cleanup } = await tempSystem());
  await system.tenants.put({ id: 'cfa', name: 'CFA' });
});
afterEach(() => cleanup());

describe('the environment of a declared credential', () => {
  it.each([
    ['a merge', 'fla-employer-acc', 'fla', 'acceptance', () => ({ client_id: 'self_service_chaman_1', private_key: keyPair('ec384').pem, quality: 'employer' }), true],
    ['a plain set', 'chorus-piste', 'chorus-piste', 'sandbox', () => ({ client_id: 'c', client_secret: 's', account_login: 'l', account_password: 'p' }), false],
  ])('is kept by %s without --env', async (_how, credential, kind, environment, fields, merge) => {
    await placeholder('cfa', credential, kind, environment);
    expect(await system.credentials.set({ tenant: 'cfa', credential, fields: fields(), ...(merge ? { merge: true } : {}) })).toMatchObject({ environment });
    expect(await system.store.tags(`sesame/cfa/${credential}`)).toMatchObject({ 'sesame:environment': environment });
    expect(await system.credentials.get('cfa', credential)).toMatchObject({ environment });
  });

  it('is what the intake validates under', async () => {
    await placeholder('cfa', 'chorus-edi', 'chorus-edi', 'sandbox');
    expect(await system.credentials.findForUpdate('cfa', 'chorus-edi')).toMatchObject({ environment: 'sandbox' });
  });

  it('changes only when asked, and a stored body wins over a stale tag', async () => {
    await placeholder('cfa', 'chorus-piste', 'chorus-piste', 'sandbox');
    const fields = { client_id: 'c', client_secret: 's', account_login: 'l', account_password: 'p' };
    expect(await system.credentials.set({ tenant: 'cfa', credential: 'chorus-piste', environment: 'production', fields })).toMatchObject({ environment: 'production' });
    await system.store.tag('sesame/cfa/chorus-piste', { 'sesame:environment': 'sandbox' });
    expect(await system.credentials.set({ tenant: 'cfa', credential: 'chorus-piste', fields })).toMatchObject({ environment: 'production' });
  });

  it('is the platform’s first for a new credential', async () => {
    expect(await system.credentials.set({ tenant: 'cfa', credential: 'fla-new', fields: {} }).catch((e: { code?: string }) => e.code)).toBe('invalid_request');
    expect(await system.credentials.set({ tenant: 'cfa', credential: 'opco-atlas', fields: { cfa_key: 'k' } })).toMatchObject({ environment: 'production' });
  });
});
