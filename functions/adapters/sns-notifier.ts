import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Notification, Notifier } from '../core/ports.ts';

/** The alerts topic. Message attributes let each email subscription filter on its tenant. */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly topicArn: string,
    private readonly client: SNSClient = new SNSClient({}),
  ) {}

  async publish(n: Notification): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: n.subject.slice(0, 100),
        Message: n.message,
        MessageAttributes: Object.fromEntries(Object.entries(n.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
      }),
    );
  }
}
