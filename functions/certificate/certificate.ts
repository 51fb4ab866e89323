import type { S3Event } from 'aws-lambda';
import type { IntakeResult } from '../core/intake.ts';

/** The certificate function, unwrapped: S3 ObjectCreated records in, one intake per object. */
export function makeCertificateHandler(intake: (key: string, version?: string) => Promise<IntakeResult>) {
  return async (event: S3Event) => {
    const outcomes: { key: string; outcome: string }[] = [];
    for (const record of event.Records ?? []) {
      // S3 event keys are URL-encoded, with "+" for spaces.
      const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
      // The version the event announced: a redelivery after that version was moved away finds it gone.
      const result = await intake(key, record.s3.object.versionId || undefined);
      outcomes.push({ key: result.key, outcome: result.outcome });
    }
    return { processed: outcomes.length, outcomes };
  };
}
