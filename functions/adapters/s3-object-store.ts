import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectHead, ObjectStore, StoredObject } from '../core/ports.ts';

const absent = (err: unknown) => err instanceof NoSuchKey || ['NoSuchKey', 'NoSuchVersion', 'NotFound'].includes((err as { name?: string }).name ?? '') || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

interface Entry {
  version: string;
  latest: boolean;
  size: number;
  deleteMarker: boolean;
}

/**
 * The intake bucket, which is versioned. Encryption is the bucket's default (the stack's KMS key).
 *
 * Whether an object exists is decided by listing its versions, never by HeadObject:
 * S3 answers 403, not 404, to a HeadObject or GetObject on a missing key unless the
 * caller may list the bucket, and the function may list only `incoming/` (an
 * `s3:prefix` condition, which a HeadObject request never satisfies). Listing is what
 * that grant allows, so a redelivered event finds nothing and ends as "gone".
 *
 * Every read, copy and deletion then names the exact version it acts on: a plain
 * DeleteObject in a versioned bucket only adds a delete marker, and the bytes would
 * stay readable as a prior version.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    readonly bucket: string,
    private readonly client: S3Client = new S3Client({}),
  ) {}

  /** Every version and delete marker of exactly this key, newest first. */
  private async entries(key: string): Promise<Entry[]> {
    const out: Entry[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, ...(keyMarker ? { KeyMarker: keyMarker, VersionIdMarker: versionMarker } : {}) }),
      );
      const mine = [
        ...(page.Versions ?? []).filter((v) => v.Key === key).map((v) => ({ version: v.VersionId ?? 'null', latest: v.IsLatest === true, size: v.Size ?? 0, deleteMarker: false, at: v.LastModified?.getTime() ?? 0 })),
        ...(page.DeleteMarkers ?? []).filter((v) => v.Key === key).map((v) => ({ version: v.VersionId ?? 'null', latest: v.IsLatest === true, size: 0, deleteMarker: true, at: v.LastModified?.getTime() ?? 0 })),
      ];
      out.push(...mine.sort((a, b) => b.at - a.at).map(({ at: _at, ...e }) => e));
      // Keys are listed in order and this key sorts before every longer key it prefixes:
      // once another key shows up, there is nothing more of this one.
      const others = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].some((v) => v.Key !== key);
      if (!page.IsTruncated || others) return out;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
  }

  async head(key: string, version?: string): Promise<ObjectHead | undefined> {
    const entries = await this.entries(key);
    const found = version ? entries.find((e) => e.version === version) : entries.find((e) => e.latest);
    return found && !found.deleteMarker ? { size: found.size, version: found.version } : undefined;
  }

  async get(key: string, maxBytes: number, version?: string): Promise<StoredObject | undefined> {
    let out;
    try {
      // A range bounds what is read even if the object grew after it was sized.
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${maxBytes - 1}`, ...(version ? { VersionId: version } : {}) }));
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

  async move(from: string, to: string, version?: string): Promise<void> {
    const v = version ?? (await this.head(from))?.version;
    if (!v) throw Object.assign(new Error(`nothing to move at ${from}`), { name: 'NoSuchKey' });
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(v)}`;
    // No tags carried over: copying an uploader's tags would need tagging permissions the function does not hold.
    await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source, TaggingDirective: 'REPLACE' }));
    // That version only: a newer upload under the same name has its own event to come.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from, VersionId: v }));
  }

  async purge(key: string): Promise<void> {
    for (const e of await this.entries(key)) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: e.version }));
    }
  }
}
