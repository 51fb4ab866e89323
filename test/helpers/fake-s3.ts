import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';

/** A stateful in-memory bucket behind aws-sdk-client-mock, for the S3 adapter's tests. Test-only. */
export function fakeS3(bucket: string) {
  const mock = mockClient(S3Client);
  const objects = new Map<string, Uint8Array>();
  const check = (b: string) => {
    if (b !== bucket) throw new Error(`unexpected bucket ${b}`);
  };
  mock.on(HeadObjectCommand).callsFake((i) => {
    check(i.Bucket);
    const o = objects.get(i.Key);
    if (!o) throw new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } });
    return { ContentLength: o.length };
  });
  mock.on(GetObjectCommand).callsFake((i) => {
    check(i.Bucket);
    const o = objects.get(i.Key);
    if (!o) throw new NoSuchKey({ message: 'no such key', $metadata: { httpStatusCode: 404 } });
    const [, start = '0', end = String(o.length - 1)] = /bytes=(\d+)-(\d+)/.exec(i.Range ?? '') ?? [];
    const part = o.slice(Number(start), Number(end) + 1);
    return { Body: sdkStreamMixin(Readable.from([Buffer.from(part)])), ContentRange: `bytes ${start}-${Number(start) + part.length - 1}/${o.length}` };
  });
  mock.on(PutObjectCommand).callsFake((i) => {
    check(i.Bucket);
    objects.set(i.Key, new Uint8Array(i.Body as Uint8Array));
    return {};
  });
  mock.on(CopyObjectCommand).callsFake((i) => {
    check(i.Bucket);
    const from = decodeURIComponent((i.CopySource as string).slice(bucket.length + 1));
    const o = objects.get(from);
    if (!o) throw new NoSuchKey({ message: 'no such key', $metadata: { httpStatusCode: 404 } });
    objects.set(i.Key, o);
    return {};
  });
  mock.on(DeleteObjectCommand).callsFake((i) => {
    check(i.Bucket);
    objects.delete(i.Key);
    return {};
  });
  return { mock, objects };
}
