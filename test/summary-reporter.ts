import type { Reporter, TestModule } from 'vitest/node';
import type { OptionalSuite } from './suites.ts';

/**
 * Ends the run with one plain `N passed, N failed, N skipped` line that any CI can read.
 * Under CI, an optional suite that was selected but ran no test fails the run: a suite
 * that silently ran nothing must not look like a pass.
 */
export default class SummaryReporter implements Reporter {
  constructor(private readonly selected: OptionalSuite[] = []) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const ran = new Map(this.selected.map((s) => [s, 0]));
    for (const m of modules) {
      const suite = this.selected.find((s) => m.relativeModuleId.startsWith(s.include.replace(/\*\*.*$/, '')));
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
        if (suite && state === 'passed') ran.set(suite, (ran.get(suite) ?? 0) + 1);
      }
      // A file that failed outside its tests (an import, a beforeAll) counts as one failure.
      if (m.state() === 'failed' && ![...m.children.allTests()].some((t) => t.result().state === 'failed')) counts.failed += 1;
    }
    // Only a whole run speaks for the suites: a filtered run (one file, -t) says nothing of them.
    const whole = modules.length > 10;
    if (whole) {
      for (const [s, n] of ran) {
        process.stdout.write(`${s.name}: ${n} passed\n`);
        if (n === 0 && process.env.CI === 'true') {
          process.stdout.write(`The ${s.name} ran no test: CI fails.\n`);
          counts.failed += 1;
          process.exitCode = 1;
        }
      }
    }
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
