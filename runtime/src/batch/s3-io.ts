// The few S3 calls batch inference makes besides reading its input: write a text object,
// read a JSON object, list keys under a prefix, and run a bounded number of them at once.
import { s3Commands } from '../aws-clients';
import { contentType } from './layout';
import type { S3Client } from '@aws-sdk/client-s3';

export async function putText(s3: S3Client, bucket: string, key: string, body: string, ext: string): Promise<void> {
  const { PutObjectCommand } = await s3Commands();
  // An explicit length: the SDK sets none for an empty body (an errors file without errors) and then warns.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body), ContentType: contentType(ext) }));
}

export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  return putText(s3, bucket, key, JSON.stringify(value), 'json');
}

export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
  const { GetObjectCommand } = await s3Commands();
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString()) as T;
}

/** Every key under `prefix` (all pages). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const { ListObjectsV2Command } = await s3Commands();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function objectSize(s3: S3Client, bucket: string, key: string, etag?: string): Promise<{ size: number; etag?: string }> {
  const { HeadObjectCommand } = await s3Commands();
  const res = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(etag ? { IfMatch: etag } : {}) }));
  return { size: res.ContentLength ?? 0, etag: res.ETag };
}

/** Maps `items` through `fn`, at most `limit` at a time, keeping their order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
