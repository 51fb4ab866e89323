/**
 * One process making one conditional put into a local state store, for the test that
 * needs real parallel processes (test/adapters/state-store.test.ts). Run with
 * `node --import tsx`:
 *
 *   state-store-child.ts <home> <pk> <id> <ifAbsent|ifVersion=N>
 *
 * Prints `ready`, waits for a line on stdin (so that every process is loaded when they
 * all start), then prints one JSON line: {"outcome": "ok" | <error code>}.
 */
import { createInterface } from 'node:readline';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { isSesameError } from '../../functions/core/errors.ts';

const [home = '', pk = '', id = '', cond = ''] = process.argv.slice(2);
const store = new LocalStateStore(home);
const condition = cond === 'ifAbsent' ? ({ ifAbsent: true } as const) : { ifVersion: Number(cond.split('=')[1]) };
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => rl.once('line', () => resolve()));
rl.close();
try {
  await store.put({ pk, sk: 'link', data: { by: Number(id) } }, condition);
  process.stdout.write(`${JSON.stringify({ outcome: 'ok' })}\n`);
} catch (err) {
  if (!isSesameError(err)) throw err;
  process.stdout.write(`${JSON.stringify({ outcome: err.code })}\n`);
}
