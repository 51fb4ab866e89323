/**
 * One process acting on a local secret store, for the tests that need real parallel
 * processes (test/adapters/local-store-*.test.ts). Run with `node --import tsx`.
 *
 *   local-store-child.ts <home> <mode> [args…]      the key is in SESAME_LOCAL_KEY (hex)
 *
 * Modes that race wait for a line on stdin before starting, so that every process is
 * loaded when they all start. Each prints one JSON line on stdout.
 *   merge <id> <count>      count read-modify-writes of sesame/acme/fla, each adding the field p<id>_<j>
 *   puts <count> <done>     count puts of sesame/acme/fla ({n: i}); before each, checks that the
 *                           value read is its own last put; writes the file <done> when finished
 *   tags <done>             tags sesame/acme/fla over and over until the file <done> exists
 *   get <name>…             reads each name: {value} or {code, message}
 *   die <before|after> <name>  puts {killed: true} into name, and is killed (SIGKILL) just before,
 *                           or just after, the rename that replaces the record's file
 */
import { existsSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { createInterface } from 'node:readline';

const [home = '', mode = '', ...args] = process.argv.slice(2);
const key = Buffer.from(process.env.SESAME_LOCAL_KEY ?? '', 'hex');
const NAME = 'sesame/acme/fla';

if (mode === 'die') {
  const [when, target = ''] = args;
  const rename = fsp.rename;
  fsp.rename = (async (from: Parameters<typeof rename>[0], to: Parameters<typeof rename>[1]) => {
    if (String(to).endsWith(`${target.split('/').pop()}.json`)) {
      if (when === 'after') await rename(from, to);
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined);
    }
    return rename(from, to);
  }) as typeof rename;
  syncBuiltinESMExports();
}

const { LocalSecretStore } = await import('../../functions/adapters/local-secret-store.ts');
const store = new LocalSecretStore(home, key);

interface Updatable {
  update?(name: string, fn: (current: { value: unknown } | undefined) => { value: unknown } | undefined): Promise<unknown>;
}

async function go(): Promise<void> {
  process.stdout.write('ready\n');
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => rl.once('line', () => resolve()));
  rl.close();
}

const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

switch (mode) {
  case 'merge': {
    const [id = '0', count = '1'] = args;
    await go();
    for (let j = 0; j < Number(count); j += 1) {
      const add = (current: { value: unknown } | undefined) => ({ value: { ...((current?.value as object) ?? {}), [`p${id}_${j}`]: true } });
      const updatable = store as unknown as Updatable;
      if (typeof updatable.update === 'function') await updatable.update(NAME, add);
      else await store.put(NAME, add(await store.get(NAME)).value); // what a store without update() leaves a caller
    }
    out({ done: true });
    break;
  }
  case 'puts': {
    const [count = '1', done = ''] = args;
    await go();
    let rolledBack = 0;
    let last = '';
    for (let i = 0; i < Number(count); i += 1) {
      const current = await store.get(NAME);
      if (i > 0 && ((current?.value as { n?: number } | undefined)?.n !== i - 1 || current?.version !== last)) rolledBack += 1;
      last = (await store.put(NAME, { n: i }, { 'sesame:put': String(i) })).version;
    }
    writeFileSync(done, '');
    out({ rolledBack, last });
    break;
  }
  case 'tags': {
    const [done = ''] = args;
    await go();
    let k = 0;
    while (!existsSync(done)) {
      await store.tag(NAME, { 'sesame:alerted': String(k) });
      k += 1;
    }
    await store.tag(NAME, { 'sesame:alerted': 'last' });
    out({ tagged: k });
    break;
  }
  case 'get': {
    const results: Record<string, unknown> = {};
    for (const name of args) {
      try {
        results[name] = { value: (await store.get(name))?.value ?? null };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        results[name] = { code: e.code ?? 'unknown', message: e.message ?? String(err) };
      }
    }
    out(results);
    break;
  }
  case 'die': {
    await store.put(args[1] ?? NAME, { killed: true });
    out({ survived: true });
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
