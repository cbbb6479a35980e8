// S3-triggered batch inference, the two entry points the handler calls: an S3 notification
// (direct, or through SQS) for an uploaded object, and a chunk message for one part of a
// large one. CSV with a header (tabular task), JSON Lines (one instance a line) and images
// (one result each) are read; results go to keys derived from the input key and its ETag
// (batch/layout.ts), so a retry overwrites instead of duplicating, and every input row ends
// as a prediction or as an error row that says why. With an output table, predicted rows and
// images are written to DynamoDB as well (batch/dynamo-sink.ts).
//
// An object up to BATCH_CHUNK_BYTES is processed in the invocation that got its notification,
// as a plan of one chunk. A larger one is planned into byte-range chunks: the manifest is
// written, then one message per chunk goes to BATCH_QUEUE_URL (without a queue, this
// invocation runs the chunks itself, one after another).
import { BadRequestError, PayloadTooLargeError, isClientError, toHttpError } from '../errors';
import { runChunk } from './chunk-worker';
import { contextFor } from './context';
import { writeRows } from './dynamo-sink';
import { completeIfAllDone, markDone } from './completion';
import { inputFormat } from './layout';
import { parseChunkMessage } from './message';
import { getObject, rangeBytes } from './object-reader';
import { newManifest, sendChunks, writePlan } from './plan';
import { getJson, objectSize, putJson, putText } from './s3-io';
import type { BatchContext } from './context';
import type { PlanRef } from './completion';
import type { ChunkDone, InputFormat, Manifest, S3ObjectRef } from './layout';
import type { InferenceService } from '../service';
import type { S3Client } from '@aws-sdk/client-s3';

/** The largest image object read into memory. */
export const MAX_IMAGE_OBJECT_BYTES = 64 * 1024 * 1024;

export interface BatchResult {
  readonly input: string;
  /** Rows this call predicted or failed (0 when it only planned). */
  readonly rows: number;
  readonly failedRows: number;
  /** s3:// URIs of the chunk's predictions and error rows, when this call ran one chunk. */
  readonly output?: string;
  readonly errors?: string;
  readonly chunk?: number;
  readonly chunks?: number;
  /** Chunk messages this call sent. */
  readonly queued?: number;
  readonly manifest?: string;
  /** s3:// URI of _SUCCESS.json, when this call completed the input. */
  readonly success?: string;
  readonly skipped?: string;
}

/** An uploaded object: processed here when small, planned into queued chunks when large. */
export async function processS3Object(service: InferenceService, s3: S3Client, ref: S3ObjectRef): Promise<BatchResult> {
  const input = `s3://${ref.bucket}/${ref.key}`;
  const { outputPrefix, outputBucket } = service.config;
  if (outputPrefix && ref.key.startsWith(outputPrefix) && (outputBucket ?? ref.bucket) === ref.bucket) {
    return { input, rows: 0, failedRows: 0, skipped: 'the object is under the output prefix (our own result)' };
  }
  const format = inputFormat(ref.key);
  if (!format) return { input, rows: 0, failedRows: 0, skipped: 'not a .csv, .jsonl, .ndjson or image object' };
  if (ref.size === undefined || !ref.etag) {
    const head = await objectSize(s3, ref.bucket, ref.key, ref.etag);
    ref = { ...ref, size: head.size, etag: ref.etag ?? head.etag };
  }
  const ctx = contextFor(service, s3, ref);
  if (format === 'image') return processImage(ctx, ref);
  if (ref.size! <= service.config.batchChunkBytes) return processWhole(ctx, ref, format);

  const manifest = await writePlan(ctx, { id: { bucket: ref.bucket, key: ref.key, etag: ref.etag! }, format, size: ref.size! });
  const common = { input, chunks: manifest.chunks.length, manifest: ctx.layout.uri(ctx.layout.manifest) };
  const queueUrl = service.config.batchQueueUrl;
  if (queueUrl) {
    await sendChunks(queueUrl, manifest);
    return { ...common, rows: 0, failedRows: 0, queued: manifest.chunks.length };
  }
  service.obs.logger.warn('No batch queue is configured: this invocation runs every chunk itself', { input, chunks: manifest.chunks.length });
  const done: ChunkDone[] = [];
  for (const chunk of manifest.chunks) done.push(await runPlannedChunk(ctx, manifest, chunk));
  const success = await completeIfAllDone(ctx, planRef(manifest), done);
  return { ...common, rows: success!.rows, failedRows: success!.failed, success: ctx.layout.uri(ctx.layout.success) };
}

/** One chunk of a planned object, from its queue message. */
export async function processChunkMessage(service: InferenceService, s3: S3Client, body: unknown): Promise<BatchResult> {
  const msg = parseChunkMessage(body);
  const ctx = contextFor(service, s3, msg);
  const manifest = await getJson<Manifest>(s3, ctx.layout.bucket, ctx.layout.manifest);
  if (manifest.plan !== msg.plan) {
    // The object was planned again (a duplicate notification): that plan's messages do the work.
    return { input: ctx.input, rows: 0, failedRows: 0, chunk: msg.index, skipped: `superseded by plan ${manifest.plan}` };
  }
  const chunk = manifest.chunks[msg.index];
  if (!chunk || chunk.start !== msg.start || chunk.end !== msg.end || manifest.chunks.length !== msg.chunks) {
    throw new BadRequestError(`Chunk ${msg.index} [${msg.start}, ${msg.end}) of plan ${msg.plan} does not match the manifest ${ctx.layout.uri(ctx.layout.manifest)}.`);
  }
  const done = await runPlannedChunk(ctx, manifest, chunk);
  const success = await completeIfAllDone(ctx, planRef(manifest));
  return {
    ...chunkResult(ctx, done),
    chunks: manifest.chunks.length,
    ...(success ? { success: ctx.layout.uri(ctx.layout.success) } : {}),
  };
}

function planRef(manifest: Manifest): PlanRef {
  return { plan: manifest.plan, chunks: manifest.chunks.length, format: manifest.format, etag: manifest.etag };
}

function chunkResult(ctx: BatchContext, done: ChunkDone): BatchResult {
  return { input: ctx.input, chunk: done.chunk, output: ctx.layout.uri(done.output), errors: ctx.layout.uri(done.errors), rows: done.rows, failedRows: done.failed };
}

async function runPlannedChunk(ctx: BatchContext, manifest: Manifest, chunk: Manifest['chunks'][number]): Promise<ChunkDone> {
  const id = { bucket: manifest.bucket, key: manifest.key, etag: manifest.etag };
  const bytes = rangeBytes(ctx.s3, id, Math.max(0, chunk.start - 1), chunk.end, manifest.size);
  const spec = { format: manifest.format as 'csv' | 'jsonl', index: chunk.index, chunks: manifest.chunks.length, start: chunk.start, end: chunk.end, header: manifest.header };
  const done = await runChunk(ctx, spec, bytes);
  await markDone(ctx, manifest.plan, done);
  return done;
}

/** A small object: one GET, one chunk, and the same files as a planned one. */
async function processWhole(ctx: BatchContext, ref: S3ObjectRef, format: 'csv' | 'jsonl'): Promise<BatchResult> {
  const object = await getObject(ctx.s3, ref);
  const etag = ref.etag ?? object.etag ?? '';
  const done = await runChunk(ctx, { format, index: 0, chunks: 1, start: 0, end: object.size }, object.body);
  const { header, ...marker } = done;
  return finishSingle(ctx, { ...ref, etag }, format, object.size, marker, header);
}

async function processImage(ctx: BatchContext, ref: S3ObjectRef): Promise<BatchResult> {
  const { layout, s3, service } = ctx;
  let predictions: unknown = null;
  let error: string | undefined;
  let size = ref.size ?? 0;
  try {
    if (size > MAX_IMAGE_OBJECT_BYTES) throw new PayloadTooLargeError(`The image is ${size} bytes; the limit is ${MAX_IMAGE_OBJECT_BYTES}.`);
    const object = await getObject(s3, ref);
    size = object.size;
    const parts: Buffer[] = [];
    for await (const part of object.body) parts.push(part as Buffer);
    const [result] = await service.classify([Buffer.concat(parts)]);
    if (result instanceof Error) throw result;
    predictions = result;
  } catch (err) {
    if (!isClientError(err)) throw err;
    error = toHttpError(err).message;
  }
  const output = layout.output(0, 'image');
  const errors = layout.errors(0);
  const { outputTable } = service.config;
  // As for a chunk: a failed image has no item, and an item that cannot be written fails the invocation.
  const row = { chunk: 0, line: 1, offset: 0, prediction: predictions };
  await Promise.all([
    putText(s3, layout.bucket, output, JSON.stringify({ input: ctx.input, predictions, ...(error ? { error } : {}) }), 'json'),
    putText(s3, layout.bucket, errors, error ? JSON.stringify({ input: ctx.input, chunk: 0, line: 1, offset: 0, error }) + '\n' : '', 'jsonl'),
    ...(outputTable && !error ? [writeRows({ table: outputTable, object: ctx.object, output: layout.uri(output) }, [row])] : []),
  ]);
  return finishSingle(ctx, ref, 'image', size, { chunk: 0, start: 0, end: size, rows: 1, failed: error ? 1 : 0, output, errors });
}

/** The manifest, done marker and _SUCCESS.json of a plan of one chunk run in this invocation. */
async function finishSingle(ctx: BatchContext, ref: S3ObjectRef, format: InputFormat, size: number, done: ChunkDone, header?: Manifest['header']): Promise<BatchResult> {
  const manifest = newManifest(ctx, { id: { bucket: ref.bucket, key: ref.key, etag: ref.etag ?? '' }, format, size, header, chunks: [{ index: 0, start: 0, end: size }] });
  await Promise.all([putJson(ctx.s3, ctx.layout.bucket, ctx.layout.manifest, manifest), markDone(ctx, manifest.plan, done)]);
  await completeIfAllDone(ctx, planRef(manifest), [done]);
  return { ...chunkResult(ctx, done), chunks: 1, success: ctx.layout.uri(ctx.layout.success) };
}
