import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, Log, Notification, Notifier } from '../core/ports.ts';

/** Local alerts: one JSON file per alert in $SESAME_HOME/outbox/, holding what SNS would get. */
export class OutboxNotifier implements Notifier {
  constructor(
    private readonly home: string,
    private readonly clock: Clock,
    private readonly log: Log,
  ) {}

  async publish(n: Notification): Promise<void> {
    const dir = join(this.home, 'outbox');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stamp = this.clock.now().toISOString().replace(/[:.]/g, '-');
    const file = join(dir, `${stamp}-${n.attributes.tenant}-${randomBytes(3).toString('hex')}.json`);
    await writeFile(file, `${JSON.stringify(n, null, 2)}\n`, { mode: 0o600 });
    this.log.info('alert written to the outbox', { subject: n.subject, file, ...n.attributes });
  }
}
