import { afterEach, describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { X509Certificate } from 'node:crypto';
import { DynamoAuditLog } from '../../functions/adapters/dynamo-audit-log.ts';
import { actor } from '../../functions/core/audit.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { keyPair } from '../helpers/keys.ts';
import { createStateTable, deploy, secretState } from './fixtures.ts';

/**
 * FLA key rotation and health checks with Secrets Manager and DynamoDB (moto) behind
 * them, as the admin function runs them: each step a new secret version, the previous
 * one kept; the check's result in the credential's tags; every step in the audit trail
 * of the state table; tokens served throughout by a broker that never saw the rotation.
 */
let oauth: OAuthServer | undefined;
afterEach(async () => {
  await oauth?.close();
  oauth = undefined;
});

const PRINCIPAL = { app: 'billing', tenants: new Set(['cfa-bxl']), kinds: undefined };
const NAME = 'sesame/cfa-bxl/fla-employer';

describe('an FLA rotation and a health check in AWS', () => {
  it('rotates without a refused token, records the check on the secret and every step in the audit trail', async () => {
    const d = await deploy({ outputs: false });
    const table = await createStateTable();
    const { awsSystem } = await import('../../functions/adapters/aws-system.ts');
    const { readConfig } = await import('../../functions/core/config.ts');
    const { MemoryLog } = await import('../helpers/memory-log.ts');
    const { PRINCIPALS } = await import('./fixtures.ts');
    const system = () => awsSystem({ ...readConfig({}), stateTable: table, bucket: d.bucket, alertsTopicArn: d.topicArn }, new MemoryLog(), { creation: async () => ({ kmsKeyId: d.kmsKeyArn, principals: PRINCIPALS }) });
    const admin = system();

    const first = keyPair('rsa2048');
    oauth = await startOAuthServer({ clients: [{ client_id: 'self_service_chaman_9', auth: 'private_key_jwt', publicKey: first.publicKey }] });
    await admin.tenants.put({ id: 'cfa-bxl', name: 'CFA Bruxelles' });
    await admin.credentials.set({ tenant: 'cfa-bxl', credential: 'fla-employer', environment: 'acceptance', fields: { client_id: 'self_service_chaman_9', private_key: first.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint } });

    // The health check: a token with the credential's own key, recorded on the secret.
    const checked = await admin.testCredential('cfa-bxl', 'fla-employer');
    expect(checked).toMatchObject({ status: 'ok', kind: 'fla' });
    expect((await secretState(NAME)).tags).toMatchObject({ 'sesame:health': 'ok' });

    // A fresh broker for each token: none of them keeps a token or a key from before a step.
    const token = async () => (await system().broker.token(PRINCIPAL, 'cfa-bxl', 'fla-employer')).access_token;
    expect(await token()).toBeTruthy();

    const who = actor.operator('op-1');
    const next = await admin.rotation.keygenNext('cfa-bxl', 'fla-employer', { actor: who });
    expect(await token()).toBeTruthy();
    // Not registered in "Chaman" yet: activation is refused and changes nothing.
    const before = await secretState(NAME);
    await expect(admin.rotation.activate('cfa-bxl', 'fla-employer', { actor: who })).rejects.toMatchObject({ code: 'upstream_rejected' });
    expect((await secretState(NAME)).versions).toEqual(before.versions);

    await oauth.addClientKey('self_service_chaman_9', new X509Certificate(next.next_certificate_pem).publicKey);
    await admin.rotation.activate('cfa-bxl', 'fla-employer', { actor: who });
    expect(await token()).toBeTruthy();
    // The old certificate deleted in Chaman before the retirement: the new key alone serves.
    await oauth.removeClientKey('self_service_chaman_9', first.publicKey);
    expect(await token()).toBeTruthy();
    await admin.rotation.retire('cfa-bxl', 'fla-employer', { actor: who });
    expect(await token()).toBeTruthy();

    // Every step a new version; the previous one kept by Secrets Manager.
    const after = await secretState(NAME);
    expect(after.versions.length).toBeGreaterThanOrEqual(2);
    expect(after.versions.some((v) => v.stages.includes('AWSPREVIOUS'))).toBe(true);
    expect(JSON.stringify(after.value)).not.toContain(first.pem);

    // The trail: the check and the three steps, by the operator, never a key.
    await admin.audit?.flush();
    const trail = await new DynamoAuditLog(table).query({ tenant: 'cfa-bxl' });
    const steps = trail.records.filter((r) => r.type === 'rotation').map((r) => [r.details?.step, r.outcome]);
    expect(steps).toEqual(expect.arrayContaining([['next_stored', 'ok'], ['activated', 'ok'], ['retired', 'ok']]));
    expect(trail.records.some((r) => r.type === 'health_check' && r.details?.result === 'ok')).toBe(true);
    expect(JSON.stringify(trail.records)).not.toContain('PRIVATE KEY');
  }, 90_000);
});
