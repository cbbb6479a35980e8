// Reads an input object from S3 for batch inference, pinned to the ETag the notification
// named (IfMatch), so a chunk never mixes two versions of an object.
import { s3Commands } from '../aws-clients';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

/** Read past a chunk's end in the first request, to finish its last line without a second one. */
export const LOOKAHEAD_BYTES = 64 * 1024;

/** Largest follow-up read when a chunk's last line is longer than the lookahead. */
const MAX_WINDOW_BYTES = 8 * 1024 * 1024;

export interface ObjectId {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
}

export interface WholeObject {
  readonly body: Readable;
  readonly etag?: string;
  readonly size: number;
}

export async function getObject(s3: S3Client, id: ObjectId, range?: string): Promise<WholeObject> {
  const { GetObjectCommand } = await s3Commands();
  const res = await s3.send(new GetObjectCommand({ Bucket: id.bucket, Key: id.key, ...(id.etag ? { IfMatch: id.etag } : {}), ...(range ? { Range: range } : {}) }));
  return { body: res.Body as Readable, etag: res.ETag, size: res.ContentLength ?? 0 };
}

/**
 * The object's bytes from `from` on, as ranged GETs: the first up to `end` plus a lookahead,
 * then growing windows until the consumer stops or the object (of `size` bytes) ends. A
 * consumer that stops early destroys the open response.
 */
export async function* rangeBytes(s3: S3Client, id: ObjectId, from: number, end: number, size: number): AsyncGenerator<Buffer> {
  let next = from;
  let window = Math.min(end, size) - from + LOOKAHEAD_BYTES;
  let followUp = LOOKAHEAD_BYTES;
  while (next < size) {
    const last = Math.min(size, next + window) - 1;
    const { body } = await getObject(s3, id, `bytes=${next}-${last}`);
    for await (const piece of body) yield piece as Buffer;
    next = last + 1;
    followUp = Math.min(MAX_WINDOW_BYTES, followUp * 2);
    window = followUp;
  }
}
