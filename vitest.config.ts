import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/summary-reporter.ts';
import { optionalSuites } from './test/suites.ts';

const suites = optionalSuites();
const absent = suites.filter((s) => s.missing);
for (const s of absent) process.stderr.write(`Not run: the ${s.name} (${s.include}): ${s.missing}. To enable it: ${s.enable}.\n`);
if (process.env.CI === 'true' && absent.length > 0) {
  throw new Error(`CI must run every suite; missing: ${absent.map((s) => s.name).join(', ')}`);
}
const emulator = suites[0]?.missing === undefined;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...absent.map((s) => s.include)],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Explicit, so that the emulator's global setup starts one moto server per worker.
    maxWorkers: Math.max(availableParallelism() - 1, 1),
    globalSetup: emulator ? ['test/aws/global-setup.ts'] : [],
    reporters: ['default', new SummaryReporter(suites.filter((s) => !s.missing))],
  },
});
