import type { Config } from '../core/config.ts';
import type { Notifier, ObjectStore } from '../core/ports.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { SnsNotifier } from './sns-notifier.ts';

/** The intake bucket and the alerts topic, for the functions given them (SESAME_BUCKET, SESAME_ALERTS_TOPIC_ARN). */
export function intakeAdapters(config: Pick<Config, 'bucket' | 'alertsTopicArn'>): { objects?: ObjectStore; notifier?: Notifier } {
  return {
    ...(config.bucket ? { objects: new S3ObjectStore(config.bucket) } : {}),
    ...(config.alertsTopicArn ? { notifier: new SnsNotifier(config.alertsTopicArn) } : {}),
  };
}
