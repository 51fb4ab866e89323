import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { buildSystem, type System, type SystemDeps } from '../../functions/adapters/system.ts';
import type { Clock } from '../../functions/core/ports.ts';
import { MemoryLog } from './memory-log.ts';

/** A whole system over a real encrypted store in a temporary folder. */
export async function tempSystem(overrides: Partial<SystemDeps> & { clock?: Clock } = {}) {
  const home = await mkdtemp(join(tmpdir(), 'sesame-test-'));
  const log = new MemoryLog();
  const store = new LocalSecretStore(home, randomBytes(32), overrides.clock);
  const system: System = buildSystem({ store, log, version: 'test', ...overrides });
  return { system, home, log, cleanup: () => rm(home, { recursive: true, force: true }) };
}
