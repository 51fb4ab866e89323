import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { buildSystem } from '../../functions/adapters/system.ts';
import { credentialSecretName, TAG } from '../../functions/core/credentials.ts';
import { tenantSecretName } from '../../functions/core/tenants.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/**
 * The console's overview (issue 11): 1,000 tenants × 5 credentials in the local store,
 * one page of GET /v1/admin/credentials, tags only. Returns the median of 5 runs, in ms.
 */
export async function adminOverviewMs(tenants = 1_000): Promise<number> {
  const home = await mkdtemp(join(tmpdir(), 'sesame-bench-admin-'));
  try {
    const store = new LocalSecretStore(home, randomBytes(32));
    const system = buildSystem({ store, log: new MemoryLog(), version: 'bench' });
    const now = Date.now();
    for (let i = 0; i < tenants; i++) {
      const id = `tenant-${String(i).padStart(4, '0')}`;
      await store.put(tenantSecretName(id), { id, name: `Client ${i}`, alert_emails: [] }, { 'sesame:tenant': id, 'sesame:type': 'tenant' });
      for (const [k, kind] of ['opco-atlas', 'opco-akto', 'chorus-piste', 'fla', 'chorus-edi'].entries()) {
        const expires = new Date(now + (((i * 7 + k * 13) % 400) - 5) * 86_400_000).toISOString();
        await store.put(credentialSecretName(id, kind), { placeholder: true }, { [TAG.tenant]: id, [TAG.credential]: kind, [TAG.kind]: kind, [TAG.environment]: 'production', [TAG.expiresAt]: expires, [TAG.expiresWhat]: 'none' });
      }
    }
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      const start = performance.now();
      const res = await system.admin.handle({ method: 'GET', path: '/v1/admin/credentials', query: {}, body: undefined, operator: { sub: 'bench' } });
      if (res.statusCode !== 200) throw new Error(`overview answered ${res.statusCode}`);
      times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b)[2] as number;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
