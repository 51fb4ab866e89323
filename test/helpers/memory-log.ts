import type { Log } from '../../functions/core/ports.ts';

/** Keeps every log entry as the JSON line a real logger would print. */
export class MemoryLog implements Log {
  readonly lines: string[] = [];
  private add(level: string, message: string, extra: Record<string, unknown>[]) {
    this.lines.push(JSON.stringify({ level, message, ...Object.assign({}, ...extra) }));
  }
  debug(m: string, ...e: Record<string, unknown>[]) {
    this.add('DEBUG', m, e);
  }
  info(m: string, ...e: Record<string, unknown>[]) {
    this.add('INFO', m, e);
  }
  warn(m: string, ...e: Record<string, unknown>[]) {
    this.add('WARN', m, e);
  }
  error(m: string, ...e: Record<string, unknown>[]) {
    this.add('ERROR', m, e);
  }
}
