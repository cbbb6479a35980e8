// S3-triggered batch inference: reads one uploaded object (CSV with a header, JSON
// Lines, or an image), predicts in groups, and writes the results to a key derived
// from the input key and its ETag, so a retry overwrites instead of duplicating.
// Every input row ends as a prediction or as an error row that says why.
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { toHttpError } from './errors';
import { s3Commands } from './s3-client';
import { isObject } from './config';
import type { InferenceService } from './service';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

/** Rows per tensor call inside one object. */
export const BATCH_ROWS_DEFAULT = 256;

/** The largest image object read into memory. */
export const MAX_IMAGE_OBJECT_BYTES = 64 * 1024 * 1024;

export interface S3ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
}

export interface BatchResult {
  readonly input: string;
  readonly output?: string;
  readonly errors?: string;
  readonly rows: number;
  readonly failedRows: number;
  readonly skipped?: string;
}

type InputKind = 'csv' | 'jsonl' | 'image';

export function inputKind(key: string): InputKind | undefined {
  const k = key.toLowerCase();
  if (k.endsWith('.csv')) return 'csv';
  if (k.endsWith('.jsonl') || k.endsWith('.ndjson')) return 'jsonl';
  if (/\.(jpe?g|png|webp|gif)$/.test(k)) return 'image';
  return undefined;
}

/** S3 event keys are URL-encoded with '+' for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Deterministic output location: the same input object (key and ETag) always maps to the same keys. */
export function outputKeys(service: InferenceService, ref: S3ObjectRef, ext: string): { bucket: string; predictions: string; errors: string } {
  const etag = (ref.etag ?? 'noetag').replace(/"/g, '');
  const base = `${service.config.outputPrefix}${ref.key}/${etag}`;
  return { bucket: service.config.outputBucket ?? ref.bucket, predictions: `${base}/predictions.${ext}`, errors: `${base}/errors.jsonl` };
}

export async function processS3Object(service: InferenceService, s3: S3Client, ref: S3ObjectRef, batchRows = BATCH_ROWS_DEFAULT): Promise<BatchResult> {
  const input = `s3://${ref.bucket}/${ref.key}`;
  if (service.config.outputPrefix && ref.key.startsWith(service.config.outputPrefix) && (service.config.outputBucket ?? ref.bucket) === ref.bucket) {
    return { input, rows: 0, failedRows: 0, skipped: 'the object is under the output prefix (our own result)' };
  }
  const kind = inputKind(ref.key);
  if (!kind) return { input, rows: 0, failedRows: 0, skipped: 'not a .csv, .jsonl, .ndjson or image object' };
  const { GetObjectCommand } = await s3Commands();
  const object = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...(ref.etag ? { IfMatch: ref.etag } : {}) }));
  const ctx: Ctx = { service, s3, ref: { ...ref, etag: ref.etag ?? object.ETag }, input, batchRows };
  const body = object.Body as Readable;
  switch (kind) {
    case 'csv': return processCsv(ctx, body);
    case 'jsonl': return processJsonLines(ctx, body);
    case 'image': return processImage(ctx, body, object.ContentLength ?? 0);
  }
}

interface Ctx {
  readonly service: InferenceService;
  readonly s3: S3Client;
  readonly ref: S3ObjectRef;
  readonly input: string;
  readonly batchRows: number;
}

interface RowError { readonly row: number; readonly error: string }

function reason(err: unknown): string {
  return toHttpError(err).message;
}

/** Predicts a group; when the group fails as a whole, retries each row to find the bad ones. */
async function predictGroup<T, R>(items: readonly T[], run: (items: readonly T[]) => Promise<R[]>): Promise<(R | Error)[]> {
  try {
    return await run(items);
  } catch (err) {
    if (items.length === 1 || toHttpError(err).statusCode >= 500) throw err;
    return Promise.all(items.map((x) => run([x]).then((r) => r[0], (e: Error) => e)));
  }
}

async function processCsv(ctx: Ctx, body: Readable): Promise<BatchResult> {
  const tabular = ctx.service.tabular;
  const parser = body.pipe(parse({ columns: true, skip_empty_lines: true, trim: true, bom: true, relax_column_count: true, info: true }));
  const out: string[] = [];
  const errors: RowError[] = [];
  let header: string[] | undefined;
  let group: { row: number; record: Record<string, string> }[] = [];
  let rows = 0;
  const flush = async () => {
    if (group.length === 0) return;
    const current = group;
    group = [];
    const vectors: { row: number; record: Record<string, string>; v?: Float32Array; err?: Error }[] = current.map((g) => {
      try {
        if (!tabular) throw new Error(`CSV input needs the tabular task; this model serves ${ctx.service.config.task.type}. Upload JSON Lines instead.`);
        return { ...g, v: tabular.vector(g.record, `row ${g.row}`) };
      } catch (err) {
        return { ...g, err: err as Error };
      }
    });
    const good = vectors.filter((x) => x.v);
    const results = good.length ? await predictGroup(good.map((x) => x.v!), (vs) => ctx.service.predictRows(vs)) : [];
    good.forEach((x, i) => {
      const r = results[i];
      if (r instanceof Error) x.err = r;
      else out.push(stringify([[...header!.map((h) => x.record[h] ?? ''), ...predictionColumns(r)]]));
    });
    for (const x of vectors) if (x.err) errors.push({ row: x.row, error: reason(x.err) });
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      header ??= Object.keys(record);
      rows++;
      group.push({ row: info.lines, record });
      if (group.length >= ctx.batchRows) await flush();
    }
  } catch (err) {
    errors.push({ row: rows + 1, error: `The CSV could not be read past here: ${(err as Error).message}` });
  }
  await flush();
  const headerLine = header ? stringify([[...header, ...predictionHeader(ctx.service)]]) : '';
  return write(ctx, 'csv', headerLine + out.join(''), errors, rows);
}

function predictionHeader(service: InferenceService): string[] {
  const task = service.config.task;
  if (task.type === 'tabular' && task.outputNames) return [...task.outputNames];
  if (task.type === 'tabular' && task.labels) return ['prediction', 'score'];
  return ['prediction'];
}

function predictionColumns(r: unknown): string[] {
  if (Array.isArray(r) && r.length > 0 && isObject(r[0]) && 'label' in r[0]) return [String(r[0].label), String(r[0].score)];
  if (isObject(r)) return Object.values(r).map(String);
  return [JSON.stringify(r)];
}

async function processJsonLines(ctx: Ctx, body: Readable): Promise<BatchResult> {
  const out: string[] = [];
  const errors: RowError[] = [];
  let rows = 0;
  let group: { row: number; instance: unknown }[] = [];
  const flush = async () => {
    const current = group;
    group = [];
    if (current.length === 0) return;
    const results = await predictGroup(current.map((g) => g.instance), (instances) => predictInstances(ctx.service, instances));
    current.forEach((g, i) => {
      const r = results[i];
      if (r instanceof Error) errors.push({ row: g.row, error: reason(r) });
      else out.push(JSON.stringify({ row: g.row, prediction: r }) + '\n');
    });
  };
  let buffered = '';
  let line = 0;
  const take = async (text: string) => {
    line++;
    if (text.trim() === '') return;
    rows++;
    try {
      group.push({ row: line, instance: JSON.parse(text) });
    } catch (err) {
      errors.push({ row: line, error: `Line ${line} is not valid JSON: ${(err as Error).message}` });
    }
    if (group.length >= ctx.batchRows) await flush();
  };
  body.setEncoding('utf8');
  for await (const chunk of body as AsyncIterable<string>) {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      await take(buffered.slice(0, nl).replace(/\r$/, ''));
      buffered = buffered.slice(nl + 1);
    }
  }
  if (buffered.length) await take(buffered);
  await flush();
  return write(ctx, 'jsonl', out.join(''), errors, rows);
}

/** One group of JSON Lines instances, through the same paths as the :predict route. */
async function predictInstances(service: InferenceService, instances: readonly unknown[]): Promise<unknown[]> {
  if (service.tabular) {
    return service.predictRows(instances.map((x, i) => service.tabular!.vector(x, `instance ${i}`)));
  }
  if (service.images && instances.every((x) => isObject(x) && typeof x.b64 === 'string')) {
    const results = await service.classify(instances.map((x) => Buffer.from((x as { b64: string }).b64, 'base64')));
    if (results.length === 1 && results[0] instanceof Error) throw results[0];
    return results;
  }
  const answer = await service.predictRest({ instances });
  return answer.predictions as unknown[];
}

async function processImage(ctx: Ctx, body: Readable, length: number): Promise<BatchResult> {
  if (length > MAX_IMAGE_OBJECT_BYTES) {
    return write(ctx, 'json', '', [{ row: 1, error: `The image is ${length} bytes; the limit is ${MAX_IMAGE_OBJECT_BYTES}.` }], 1);
  }
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  const [result] = await ctx.service.classify([Buffer.concat(chunks)]);
  if (result instanceof Error) return write(ctx, 'json', '', [{ row: 1, error: reason(result) }], 1);
  return write(ctx, 'json', JSON.stringify({ input: ctx.input, predictions: result }), [], 1);
}

async function write(ctx: Ctx, ext: string, predictions: string, errors: RowError[], rows: number): Promise<BatchResult> {
  const { PutObjectCommand } = await s3Commands();
  const keys = outputKeys(ctx.service, ctx.ref, ext);
  const puts: Promise<unknown>[] = [];
  const contentType = ext === 'csv' ? 'text/csv' : ext === 'json' ? 'application/json' : 'application/x-ndjson';
  if (predictions.length || errors.length === 0) {
    puts.push(ctx.s3.send(new PutObjectCommand({ Bucket: keys.bucket, Key: keys.predictions, Body: predictions, ContentType: contentType })));
  }
  if (errors.length) {
    const body = errors.sort((a, b) => a.row - b.row).map((e) => JSON.stringify({ input: ctx.input, ...e })).join('\n') + '\n';
    puts.push(ctx.s3.send(new PutObjectCommand({ Bucket: keys.bucket, Key: keys.errors, Body: body, ContentType: 'application/x-ndjson' })));
  }
  await Promise.all(puts);
  return {
    input: ctx.input,
    output: `s3://${keys.bucket}/${keys.predictions}`,
    ...(errors.length ? { errors: `s3://${keys.bucket}/${keys.errors}` } : {}),
    rows,
    failedRows: errors.length,
  };
}
