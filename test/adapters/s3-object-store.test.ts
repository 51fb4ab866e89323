import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../functions/adapters/s3-object-store.ts';

/**
 * Exact commands the emulator cannot judge: AWS's IAM would answer a HeadObject on a
 * missing key with 403, and a DeleteObject without VersionId only adds a delete marker.
 * Behaviour on a real API: test/aws/object-store.test.ts.
 */
const client = new S3Client({ region: 'eu-west-3', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const s3 = mockClient(client);
const objects = new S3ObjectStore('intake', client);
const KEY = 'incoming/cfa-paris/chorus-edi/my chain.p7b';

beforeEach(() => {
  s3.reset();
  s3.on(ListObjectVersionsCommand).resolves({
    Versions: [
      { Key: KEY, VersionId: 'v2', IsLatest: true, Size: 5, LastModified: new Date(3000) },
      { Key: KEY, VersionId: 'v1', IsLatest: false, Size: 3, LastModified: new Date(1000) },
    ],
    DeleteMarkers: [{ Key: KEY, VersionId: 'd1', IsLatest: false, LastModified: new Date(2000) }],
  });
  s3.on(GetObjectCommand).resolves({ Body: sdkStreamMixin(Readable.from([Buffer.from('chain')])), ContentRange: 'bytes 0-4/5' });
  s3.on(CopyObjectCommand).resolves({});
  s3.on(DeleteObjectCommand).resolves({});
});

describe('S3ObjectStore sends exactly these commands', () => {
  it('decides existence by listing the key’s versions (what an s3:prefix grant allows), never by HeadObject', async () => {
    expect(await objects.head(KEY)).toEqual({ size: 5, version: 'v2' });
    expect(s3).toHaveReceivedCommandWith(ListObjectVersionsCommand, { Bucket: 'intake', Prefix: KEY });
    expect(s3).not.toHaveReceivedCommand(HeadObjectCommand);
  });

  it('reads a bounded range of the version it was given', async () => {
    await objects.get(KEY, 65_537, 'v2');
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'intake', Key: KEY, Range: 'bytes=0-65536', VersionId: 'v2' });
  });

  it('moves one version: a copy of that version, then the deletion of that version only', async () => {
    await objects.move(KEY, 'accepted/cfa-paris/chorus-edi/my chain.p7b', 'v2');
    expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, { Bucket: 'intake', Key: 'accepted/cfa-paris/chorus-edi/my chain.p7b', CopySource: 'intake/incoming/cfa-paris/chorus-edi/my%20chain.p7b?versionId=v2', TaggingDirective: 'REPLACE' });
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: 'intake', Key: KEY, VersionId: 'v2' });
  });

  it('purges with one versioned deletion per version and delete marker, never a bare DeleteObject', async () => {
    await objects.purge(KEY);
    const deleted = s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input);
    expect(deleted).toEqual([
      { Bucket: 'intake', Key: KEY, VersionId: 'v2' },
      { Bucket: 'intake', Key: KEY, VersionId: 'd1' },
      { Bucket: 'intake', Key: KEY, VersionId: 'v1' },
    ]);
  });
});
