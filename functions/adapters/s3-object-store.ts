import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore, StoredObject } from '../core/ports.ts';

const absent = (err: unknown) => err instanceof NotFound || err instanceof NoSuchKey || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

/** The intake bucket. Encryption is the bucket's default (the stack's KMS key). */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = new S3Client({}),
  ) {}

  async size(key: string): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ContentLength ?? 0;
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  }

  async get(key: string, maxBytes: number): Promise<StoredObject | undefined> {
    let out;
    try {
      // A range bounds what is read even if the object grew after it was sized.
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }));
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
    const bytes = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
    return { bytes: bytes.slice(0, maxBytes), size: total ? Number(total) : bytes.length };
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: contentType }));
  }

  async move(from: string, to: string): Promise<void> {
    await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}` }));
    await this.delete(from);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
