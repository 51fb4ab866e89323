import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Suites that need something a fresh clone may lack. Without it the suite is left out
 * of the run and one line says so and how to enable it; under CI (CI=true) a missing
 * suite fails the run instead, so that CI can never pass without running it.
 */
export interface OptionalSuite {
  name: string;
  /** Test files of the suite, as vitest globs. */
  include: string;
  /** Undefined when the suite can run, else what is missing. */
  missing: string | undefined;
  enable: string;
}

/** The shared third-party certificate corpus: $SESAME_TESTDATA, else shared/testdata beside the clone. */
export function corpusRoot(): string {
  return process.env.SESAME_TESTDATA ?? resolve(import.meta.dirname, '..', '..', 'shared', 'testdata');
}

/** Debian's Chromium (`apt-get install chromium`), which the browser suite drives: $SESAME_CHROMIUM, else /usr/bin/chromium. */
export const CHROMIUM = process.env.SESAME_CHROMIUM ?? '/usr/bin/chromium';

/** The Python that runs moto: $SESAME_PYTHON, else python3. */
export const PYTHON = process.env.SESAME_PYTHON ?? 'python3';

function motoMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import moto.server, moto.backends'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0 ? undefined : `${PYTHON} cannot import moto.server`;
}

export function optionalSuites(): OptionalSuite[] {
  return [
    {
      name: 'AWS emulator suite',
      include: 'test/aws/**/*.test.ts',
      missing: motoMissing(),
      enable: "pip install 'moto[server]' (or set SESAME_PYTHON to a Python that has it)",
    },
    {
      name: 'certificate corpus suite',
      include: 'test/corpus/**/*.test.ts',
      missing: existsSync(corpusRoot()) ? undefined : `no corpus at ${corpusRoot()}`,
      enable: 'clone next to shared/ (as CI does) or set SESAME_TESTDATA to shared/testdata',
    },
    {
      name: 'browser suite',
      include: 'test/browser/**/*.test.ts',
      missing: existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}`,
      enable: "apt-get install chromium (Debian's package; or set SESAME_CHROMIUM to a Chromium binary)",
    },
  ];
}
