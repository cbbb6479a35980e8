// Plans a large batch input: splits its bytes into chunks of about BATCH_CHUNK_BYTES,
// reads the CSV header once, writes the manifest, and then sends one queue message per
// chunk (the manifest first, because workers read it). Chunks split anywhere: each owns
// the lines that start in its range (lines.ts).
import { randomBytes } from 'node:crypto';
import { CHUNK_MESSAGE_TYPE } from './message';
import { ownedLines } from './lines';
import { rangeBytes } from './object-reader';
import { putJson } from './s3-io';
import { sqsClient, sqsCommands } from '../aws-clients';
import type { BatchContext } from './context';
import type { InputFormat, Manifest } from './layout';
import type { ChunkMessage } from './message';
import type { ObjectId } from './object-reader';

/** The CSV header must start within this many bytes of the object's start. */
export const MAX_HEADER_OFFSET = 1024 * 1024;

export interface ChunkRange {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

/** Equal ranges of at most `chunkBytes` that cover [0, size) (none for an empty object). */
export function chunkRanges(size: number, chunkBytes: number): ChunkRange[] {
  const count = Math.ceil(size / chunkBytes);
  const step = Math.ceil(size / count);
  return Array.from({ length: count }, (_, index) => ({ index, start: index * step, end: Math.min(size, (index + 1) * step) }))
    .filter((r) => r.end > r.start);
}

/** A new plan id: time-ordered, random enough that two plans of one object never share it. */
export function newPlanId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** The first non-blank line of a CSV object (BOM removed) and its offset. */
export async function readCsvHeader(ctx: BatchContext, id: ObjectId, size: number): Promise<Manifest['header']> {
  for await (const lines of ownedLines(rangeBytes(ctx.s3, id, 0, 0, size), 0, MAX_HEADER_OFFSET)) {
    const line = lines.find((l) => l.tooLong || l.text.trim() !== '');
    if (line) return { text: line.text.charCodeAt(0) === 0xfeff ? line.text.slice(1) : line.text, offset: line.offset };
  }
  return undefined;
}

export interface PlanInput {
  readonly id: ObjectId & { readonly etag: string };
  readonly format: Exclude<InputFormat, 'image'>;
  readonly size: number;
}

/** Writes the manifest of a new plan for the object and returns it. */
export async function writePlan(ctx: BatchContext, input: PlanInput): Promise<Manifest> {
  const { id, format, size } = input;
  const header = format === 'csv' ? await readCsvHeader(ctx, id, size) : undefined;
  const manifest = newManifest(ctx, { ...input, header, chunks: chunkRanges(size, ctx.service.config.batchChunkBytes) });
  await putJson(ctx.s3, ctx.layout.bucket, ctx.layout.manifest, manifest);
  return manifest;
}

/** A new plan's manifest: the one place a Manifest is made (a planned object, or one run whole as a plan of one chunk). */
export function newManifest(ctx: BatchContext, plan: {
  readonly id: ObjectId & { readonly etag: string };
  readonly format: InputFormat;
  readonly size: number;
  readonly chunks: readonly ChunkRange[];
  readonly header?: Manifest['header'];
}): Manifest {
  const { id, format, size, chunks, header } = plan;
  return {
    version: 1,
    input: ctx.input,
    bucket: id.bucket,
    key: id.key,
    etag: id.etag,
    size,
    format,
    plan: newPlanId(),
    ...(header ? { header } : {}),
    chunks: [...chunks],
    createdAt: new Date().toISOString(),
  };
}

export function chunkMessages(manifest: Manifest): ChunkMessage[] {
  return manifest.chunks.map((c) => ({
    type: CHUNK_MESSAGE_TYPE,
    version: 1,
    bucket: manifest.bucket,
    key: manifest.key,
    etag: manifest.etag,
    plan: manifest.plan,
    index: c.index,
    chunks: manifest.chunks.length,
    start: c.start,
    end: c.end,
  }));
}

export async function sendChunks(queueUrl: string, manifest: Manifest): Promise<void> {
  await sendMessages(queueUrl, chunkMessages(manifest).map((m) => JSON.stringify(m)));
}

/** SendMessageBatch takes at most 10 entries. */
const MAX_BATCH_ENTRIES = 10;

/** Attempts for entries that SQS reports as failed without the sender at fault. */
const ENTRY_ATTEMPTS = 3;

/** SendMessageBatch calls in flight at once. */
const CONCURRENT_SENDS = 4;

/** Sends every body to the queue, 10 per call; throws if some cannot be sent. */
async function sendMessages(queueUrl: string, bodies: readonly string[]): Promise<void> {
  const [sqs, { SendMessageBatchCommand }] = await Promise.all([sqsClient(), sqsCommands()]);
  const batches: { Id: string; MessageBody: string }[][] = [];
  for (let i = 0; i < bodies.length; i += MAX_BATCH_ENTRIES) {
    batches.push(bodies.slice(i, i + MAX_BATCH_ENTRIES).map((body, j) => ({ Id: String(i + j), MessageBody: body })));
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let entries = batches[next++];
      for (let attempt = 1; entries.length; attempt++) {
        const res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        const failed = res.Failed ?? [];
        if (failed.length === 0) break;
        if (attempt >= ENTRY_ATTEMPTS || failed.some((f) => f.SenderFault)) {
          throw new Error(`SQS did not accept ${failed.length} chunk message(s): ${failed.map((f) => `${f.Code}: ${f.Message}`).join('; ')}`);
        }
        const ids = new Set(failed.map((f) => f.Id));
        entries = entries.filter((e) => ids.has(e.Id));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_SENDS, batches.length) }, worker));
}
