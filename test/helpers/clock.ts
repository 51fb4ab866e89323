import type { Clock } from '../../functions/core/ports.ts';

export class ManualClock implements Clock {
  constructor(private t: number = Date.parse('2026-06-01T08:00:00Z')) {}
  now() {
    return new Date(this.t);
  }
  nowMs() {
    return this.t;
  }
  advance(ms: number) {
    this.t += ms;
  }
  set(iso: string) {
    this.t = Date.parse(iso);
  }
}
