import { LocalAuditLog } from '../../functions/adapters/local-audit-log.ts';
import { randomBytes } from 'node:crypto';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import type { System } from '../../functions/adapters/system.ts';
import type { Operator } from '../../functions/core/admin.ts';
import type { ApiResponse } from '../../functions/core/api.ts';
import { credentialSecretName } from '../../functions/core/credentials.ts';
import { ManualClock } from '../helpers/clock.ts';
import { keyPair } from '../helpers/keys.ts';
import { tempSystem } from '../helpers/system.ts';

/** The operator of every authenticated request in these tests. */
export const OPERATOR: Operator = { sub: 'op-1', username: 'alice', email: 'alice@integrator.example' };

/** Secret values generated per run: none of them may ever appear in an admin answer. */
export function secretValues() {
  const s = () => `S3CRET-${randomBytes(18).toString('base64url')}`;
  const rsa = keyPair('rsa2048');
  return {
    atlasKey: s(),
    aktoKey: s(),
    santeKey: s(),
    pisteSecret: s(),
    pistePassword: s(),
    cegidSecret: s(),
    flaKey: rsa.pem,
    flaKeyBody: rsa.pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('').slice(40, 120),
  };
}
export type SecretValues = ReturnType<typeof secretValues>;

export interface AdminFixture {
  system: System;
  home: string;
  clock: ManualClock;
  secrets: SecretValues;
  /** Every answer given, for the hygiene check. */
  answers: { route: string; res: ApiResponse }[];
  call(method: string, path: string, options?: { query?: Record<string, string>; body?: unknown; operator?: Operator | null }): Promise<{ status: number; json: any; res: ApiResponse }>;
  cleanup(): Promise<void>;
}

/**
 * A system over a real encrypted store, a local object store and an outbox, at
 * 2026-06-01T08:00Z, with tenants and credentials of every status:
 * - acme (ACME Formation): opco-atlas ok, opco-akto expiring (10 days: threshold 14),
 *   opco-sante expired, chorus-piste ok, chorus-edi incomplete (no certificate), and a
 *   placeholder declared by the stack (chorus-edi-declared, tags only, no end date).
 * - cfa-paris (CFA Démo Paris): chorus-edi (incomplete until a certificate), cegid-cfe ok.
 * - bxl (Secrétariat Bruxelles): fla-employer ok, fla-provider without client id.
 */
export async function adminFixture(): Promise<AdminFixture> {
  const clock = new ManualClock(Date.parse('2026-06-01T08:00:00Z'));
  const base = await tempSystem({ clock });
  const objects = new LocalObjectStore(base.home);
  const { system } = await tempSystem({
    clock,
    store: base.system.store,
    objects,
    notifier: new OutboxNotifier(base.home, clock, base.log),
    state: new LocalStateStore(base.home, clock),
    thresholds: [60, 30, 14, 7, 3, 1, 0],
    auditLog: new LocalAuditLog(base.home, randomBytes(32)),
  });
  const secrets = secretValues();
  const { tenants, credentials } = system;
  await tenants.add({ id: 'acme', name: 'ACME Formation', siret: '73282932000074', alert_emails: ['ops@acme.example'] });
  await tenants.add({ id: 'cfa-paris', name: 'CFA Démo Paris' });
  await tenants.add({ id: 'bxl', name: 'Secrétariat Bruxelles', bce: '0123456749' });
  await credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: secrets.atlasKey, expires_at: '2030-01-01' } });
  await credentials.set({ tenant: 'acme', credential: 'opco-akto', fields: { cfa_key: secrets.aktoKey, expires_at: '2026-06-11' } });
  await credentials.set({ tenant: 'acme', credential: 'opco-sante', fields: { cfa_key: secrets.santeKey, expires_at: '2026-05-01' } });
  await credentials.set({ tenant: 'acme', credential: 'chorus-piste', environment: 'sandbox', fields: { client_id: 'cid', client_secret: secrets.pisteSecret, account_login: 'TECH@acme.fr', account_password: secrets.pistePassword, password_changed_at: '2026-03-01' } });
  await credentials.set({ tenant: 'acme', credential: 'chorus-edi', fields: { usage: 'client' } });
  // What the CDK stack declares: a placeholder body and four tags, no end date.
  await system.store.put(credentialSecretName('acme', 'chorus-edi-declared'), { tenant: 'acme', credential: 'chorus-edi-declared', kind: 'chorus-edi', placeholder: true }, {
    'sesame:tenant': 'acme',
    'sesame:credential': 'chorus-edi-declared',
    'sesame:kind': 'chorus-edi',
    'sesame:environment': 'sandbox',
  });
  await credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
  await credentials.set({ tenant: 'cfa-paris', credential: 'cegid-cfe', fields: { api_key_id: 'key-id', api_key_secret: secrets.cegidSecret } });
  await credentials.set({ tenant: 'bxl', credential: 'fla-employer', environment: 'acceptance', fields: { client_id: 'self_service_chaman_1', private_key: secrets.flaKey, quality: 'employer' } });
  await credentials.set({ tenant: 'bxl', credential: 'fla-provider', environment: 'acceptance', fields: { private_key: secrets.flaKey, quality: 'provider' } });

  const answers: AdminFixture['answers'] = [];
  const call: AdminFixture['call'] = async (method, path, options = {}) => {
    const operator = options.operator === null ? undefined : (options.operator ?? OPERATOR);
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const res = await system.admin.handle({ method, path, query: options.query ?? {}, body, operator });
    answers.push({ route: `${method} ${path}`, res });
    return { status: res.statusCode, json: JSON.parse(res.body), res };
  };
  return { system, home: base.home, clock, secrets, answers, call, cleanup: base.cleanup };
}

/** Every string of the secret values, for "appears in no answer" checks. */
export function secretStrings(s: SecretValues): string[] {
  return [s.atlasKey, s.aktoKey, s.santeKey, s.pisteSecret, s.pistePassword, s.cegidSecret, s.flaKeyBody];
}
