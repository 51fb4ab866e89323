import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The shared third-party corpus: $SESAME_TESTDATA, else shared/testdata beside the
 * clone (where CI puts it). Missing, it fails with where it looked, not a bare ENOENT.
 */
export function testdataDir(...parts: string[]): string {
  const root = process.env.SESAME_TESTDATA ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'testdata');
  if (!existsSync(root)) {
    throw new Error(`the shared test corpus is not at ${root}: clone next to shared/ (as CI does) or set SESAME_TESTDATA to shared/testdata`);
  }
  return join(root, ...parts);
}
