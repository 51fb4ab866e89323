import type { LocalObjectStore } from '../adapters/local-object-store.ts';
import { describeError } from '../core/errors.ts';
import type { IntakeResult } from '../core/intake.ts';
import type { Log } from '../core/ports.ts';

/**
 * Polls $SESAME_HOME/uploads/ and hands each settled file to the intake, one at a time,
 * as S3 notifications would. Polling, not fs.watch: it behaves the same on every
 * filesystem and never misses a file dropped while the broker was down.
 */
export function startUploadWatcher(opts: {
  objects: LocalObjectStore;
  process: (key: string) => Promise<IntakeResult>;
  log: Log;
  intervalMs?: number;
  /** A file younger than this may still be being written. */
  settleMs?: number;
  onResult?: (r: IntakeResult) => void;
}) {
  let running: Promise<void> | undefined;
  const scan = async () => {
    // File times are wall-clock facts: compared with wall time, not with an injected clock.
    const now = Date.now();
    for (const { key, mtimeMs } of await opts.objects.pending()) {
      const settle = opts.settleMs ?? 500;
      if (settle > 0 && now - mtimeMs < settle) continue;
      try {
        const result = await opts.process(key);
        opts.onResult?.(result);
      } catch (err) {
        opts.log.error('upload processing failed; will retry', { key, ...describeError(err) });
      }
    }
  };
  const scanNow = () => {
    running ??= scan().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void scanNow(), opts.intervalMs ?? 1_000);
  timer.unref();
  return {
    scanNow,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
