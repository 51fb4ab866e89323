import { describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../functions/adapters/s3-object-store.ts';
import { deploy, objectVersions } from './fixtures.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const s3 = new S3Client({});
const upload = async (bucket: string, key: string, body: string) => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes(body) }))).VersionId as string;

describe('S3ObjectStore on a versioned bucket of the AWS emulator', () => {
  it('sees the current version of exactly the key asked, not of a longer key it prefixes', async () => {
    const { bucket } = await deploy({ outputs: false });
    const objects = new S3ObjectStore(bucket);
    await upload(bucket, 'incoming/t/c/a.pem.bak', 'longer');
    expect(await objects.head('incoming/t/c/a.pem')).toBeUndefined();
    const v1 = await upload(bucket, 'incoming/t/c/a.pem', 'one');
    const v2 = await upload(bucket, 'incoming/t/c/a.pem', 'two!');
    expect(await objects.head('incoming/t/c/a.pem')).toEqual({ size: 4, version: v2 });
    expect(await objects.head('incoming/t/c/a.pem', v1)).toEqual({ size: 3, version: v1 });
    expect(new TextDecoder().decode((await objects.get('incoming/t/c/a.pem', 100, v1))?.bytes)).toBe('one');
  });

  it('moves one version: the bytes end at the target and that version no longer exists at the source', async () => {
    const { bucket } = await deploy({ outputs: false });
    const objects = new S3ObjectStore(bucket);
    const v = await upload(bucket, 'incoming/t/c/my chain (2).p7b', 'chain');
    await objects.move('incoming/t/c/my chain (2).p7b', 'accepted/t/c/my chain (2).p7b', v);
    expect(await objects.head('incoming/t/c/my chain (2).p7b')).toBeUndefined();
    expect(await objects.head('incoming/t/c/my chain (2).p7b', v)).toBeUndefined();
    expect(await objectVersions(bucket, 'incoming/t/c/my chain (2).p7b')).toEqual({ versions: [], deleteMarkers: [] });
    expect(new TextDecoder().decode((await objects.get('accepted/t/c/my chain (2).p7b', 100))?.bytes)).toBe('chain');
  });

  it('purges every version and delete marker of a key, and nothing else', async () => {
    const { bucket } = await deploy({ outputs: false });
    const objects = new S3ObjectStore(bucket);
    await upload(bucket, 'incoming/t/c/key.pem', 'secret one');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'incoming/t/c/key.pem' }));
    await upload(bucket, 'incoming/t/c/key.pem', 'secret two');
    await upload(bucket, 'incoming/t/c/key.pem.txt', 'other');
    await objects.purge('incoming/t/c/key.pem');
    expect(await objectVersions(bucket, 'incoming/t/c/key.pem')).toEqual({ versions: [], deleteMarkers: [] });
    const all = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect((all.Versions ?? []).map((v) => v.Key)).toEqual(['incoming/t/c/key.pem.txt']);
    expect(all.DeleteMarkers ?? []).toEqual([]);
  });

  it('finds a deleted object gone: a delete marker is not an object', async () => {
    const { bucket } = await deploy({ outputs: false });
    const objects = new S3ObjectStore(bucket);
    await upload(bucket, 'incoming/t/c/x.pem', 'x');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'incoming/t/c/x.pem' }));
    expect(await objects.head('incoming/t/c/x.pem')).toBeUndefined();
    expect(await objects.get('incoming/t/c/x.pem', 10)).toBeUndefined();
  });
});
