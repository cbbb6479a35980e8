// Runs one chunk of a batch input: streams the lines the chunk owns, turns them into rows,
// predicts them in groups of `batchRows` (one tensor call each) through the service, and
// writes the chunk's predictions and its error rows at their deterministic keys. The input
// streams, so memory holds one group of rows plus the chunk's output (bounded by the chunk
// size), whatever the size of the object. With an output table, the predicted rows go to
// DynamoDB too (batch/dynamo-sink.ts).
import { toHttpError, UnprocessableError } from '../errors';
import { isObject } from '../config';
import { CsvLineError, csvField, splitCsvLine } from './csv-line';
import { MAX_LINE_BYTES, ownedLines } from './lines';
import { putText } from './s3-io';
import { writeRows } from './dynamo-sink';
import type { InferenceService } from '../service';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SinkObject, SinkRow } from './dynamo-sink';
import type { BatchLayout, ChunkDone } from './layout';
import type { Line } from './lines';

/** Images per classify call in JSON Lines input: each decoded image is megabytes, rows are bytes. */
export const IMAGE_ROWS_MAX = 16;

/** Characters of a failed line kept in its error row, so it can be found and fixed. */
const ERROR_TEXT_CHARS = 1000;

const MAX_LINE_MIB = MAX_LINE_BYTES / 1024 / 1024;

export interface BatchContext {
  readonly service: InferenceService;
  readonly s3: S3Client;
  readonly layout: BatchLayout;
  /** s3://bucket/key of the input. */
  readonly input: string;
  /** The input object, as the output table's partition key names it. */
  readonly object: SinkObject;
}

export interface ChunkSpec {
  readonly format: 'csv' | 'jsonl';
  readonly index: number;
  readonly chunks: number;
  readonly start: number;
  readonly end: number;
  /** CSV: the header line and its offset (rows are the lines after it); without it, the first non-blank line is the header. */
  readonly header?: { readonly text: string; readonly offset: number };
}

export interface RowError {
  readonly chunk: number;
  readonly line: number;
  readonly offset: number;
  readonly error: string;
  readonly text?: string;
}

interface Sink {
  readonly out: string[];
  readonly errors: RowError[];
  /** The predicted rows for the output table; undefined without one, so nothing is kept. */
  readonly table?: SinkRow[];
  rows: number;
}

type Row<T> = { readonly line: Line; readonly value: T };

/** Processes the chunk's lines from `bytes` and writes its two files; returns what its done marker holds. */
export async function runChunk(ctx: BatchContext, spec: ChunkSpec, bytes: AsyncIterable<Uint8Array>): Promise<ChunkDone & { readonly header?: ChunkSpec['header'] }> {
  const { outputTable } = ctx.service.config;
  const sink: Sink = { out: [], errors: [], rows: 0, ...(outputTable ? { table: [] } : {}) };
  const lines = ownedLines(bytes, spec.start, spec.end);
  const header = spec.format === 'csv' ? await csvRows(ctx, spec, lines, sink) : await jsonRows(ctx, spec, lines, sink);
  const { layout } = ctx;
  const output = layout.output(spec.index, spec.format);
  const errors = layout.errors(spec.index);
  sink.errors.sort((a, b) => a.offset - b.offset);
  // The errors file is written even when empty: a retry that succeeds replaces the errors of
  // an attempt that failed, and every chunk has the same two files.
  const errorBody = sink.errors.map((e) => JSON.stringify({ input: ctx.input, ...e })).join('\n') + (sink.errors.length ? '\n' : '');
  await Promise.all([
    putText(ctx.s3, layout.bucket, output, sink.out.join(''), spec.format),
    putText(ctx.s3, layout.bucket, errors, errorBody, 'jsonl'),
    ...(outputTable && sink.table ? [writeRows(outputTable, ctx.object, sink.table)] : []),
  ]);
  return { chunk: spec.index, start: spec.start, end: spec.end, rows: sink.rows, failed: sink.errors.length, output, errors, ...(header !== undefined ? { header } : {}) };
}

function where(spec: ChunkSpec, line: Line): string {
  return spec.chunks === 1 ? `line ${line.no}` : `chunk ${spec.index} line ${line.no}`;
}

function fail(sink: Sink, spec: ChunkSpec, line: Line, error: string): void {
  sink.errors.push({ chunk: spec.index, line: line.no, offset: line.offset, error, ...(line.text ? { text: line.text.slice(0, ERROR_TEXT_CHARS) } : {}) });
}

/** Predicts a group; when the group fails as a whole with a client error, retries each row to find the bad ones. */
async function predictGroup<T, R>(items: readonly T[], run: (items: readonly T[]) => Promise<R[]>): Promise<(R | Error)[]> {
  try {
    return await run(items);
  } catch (err) {
    if (items.length === 1 || toHttpError(err).statusCode >= 500) throw err;
    return Promise.all(items.map((x) => run([x]).then((r) => r[0], (e: Error) => e)));
  }
}

async function csvRows(ctx: BatchContext, spec: ChunkSpec, lines: AsyncIterable<Line[]>, sink: Sink): Promise<ChunkSpec['header']> {
  const { service } = ctx;
  const tabular = service.tabular;
  let columns: string[] | undefined;
  let featureAt: number[] = [];
  let header: ChunkSpec['header'];
  let headerError: string | undefined;
  const useHeader = (text: string, offset: number) => {
    const headerText = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    header = { text: headerText, offset };
    sink.out.push(`${headerText},${predictionHeader(service).map(csvField).join(',')}\n`);
    try {
      columns = splitCsvLine(headerText).map((c) => c.trim());
    } catch (err) {
      columns = [];
      headerError = `The CSV header line cannot be read (${(err as Error).message}), so no row can be matched to the model's features.`;
    }
    featureAt = tabular ? tabular.features.map((f) => columns!.indexOf(f)) : [];
  };
  if (spec.header) useHeader(spec.header.text, spec.header.offset);

  // A group's feature vectors are views into one buffer: one allocation per group, not per row.
  const width = tabular?.features.length ?? 0;
  const groupSize = service.config.batchRows;
  let values = new Float32Array(groupSize * width);
  let group: Row<{ pad: string; vector: Float32Array }>[] = [];
  const flush = async () => {
    if (group.length === 0) return;
    const current = group;
    group = [];
    values = new Float32Array(groupSize * width);
    const results = await predictGroup(current.map((r) => r.value.vector), (vs) => service.predictRows(vs));
    current.forEach((r, i) => {
      const result = results[i];
      if (result instanceof Error) return fail(sink, spec, r.line, toHttpError(result).message);
      sink.out.push(`${r.line.text}${r.value.pad},${predictionFields(result)}\n`);
      sink.table?.push({ chunk: spec.index, line: r.line.no, offset: r.line.offset, prediction: result, text: r.line.text });
    });
  };

  for await (const batch of lines) {
    for (const line of batch) {
      if (spec.header && line.offset <= spec.header.offset) continue; // the header (chunk 0 holds it too)
      if (line.tooLong) {
        sink.rows++;
        fail(sink, spec, line, `${where(spec, line)} is longer than the ${MAX_LINE_MIB} MiB line limit.`);
        continue;
      }
      if (isBlank(line.text)) continue;
      if (!columns) {
        useHeader(line.text, line.offset);
        continue;
      }
      sink.rows++;
      try {
        if (headerError) throw new UnprocessableError(headerError);
        if (!tabular) throw new UnprocessableError(`CSV input needs the tabular task; this model serves ${service.config.task.type}. Upload JSON Lines instead.`);
        const fields = splitCsvLine(line.text);
        if (fields.length > columns.length) throw new UnprocessableError(`${where(spec, line)} has ${fields.length} fields; the header has ${columns.length}.`);
        const vector = values.subarray(group.length * width, (group.length + 1) * width);
        if (!parseFeatures(fields, featureAt, vector)) {
          // The task's own check says what is wrong (missing feature, not a number).
          tabular.vector(featureValues(fields, featureAt, columns), where(spec, line));
          throw new UnprocessableError(`${where(spec, line)}: the features could not be read.`);
        }
        group.push({ line, value: { pad: fields.length < columns.length ? ','.repeat(columns.length - fields.length) : '', vector } });
      } catch (err) {
        fail(sink, spec, line, rowReason(err, spec, line));
        continue;
      }
      if (group.length >= service.config.batchRows) await flush();
    }
  }
  await flush();
  return header;
}

/**
 * Fast path for a row whose features are all finite numbers: writes them into `out` in model
 * order. False sends the row to the task's own check, which words the error (an empty or
 * blank field is missing, not 0).
 */
function parseFeatures(fields: readonly string[], featureAt: readonly number[], out: Float32Array): boolean {
  for (let j = 0; j < featureAt.length; j++) {
    const text = fields[featureAt[j]];
    if (text === undefined) return false;
    const n = +text;
    if (!Number.isFinite(n) || (n === 0 && text.trim() === '')) return false;
    out[j] = n;
  }
  return true;
}

/** Blank lines are skipped, as CSV readers do; most lines start with a visible character. */
function isBlank(text: string): boolean {
  if (text.length === 0) return true;
  const c = text.charCodeAt(0);
  return (c <= 32 || c === 0xfeff || c === 0xa0) && text.trim() === '';
}

/** The feature values in model order, or (when some are absent) a record, so the task names what is missing. */
function featureValues(fields: string[], featureAt: number[], columns: string[]): string[] | Record<string, string> {
  if (featureAt.every((i) => i >= 0 && i < fields.length && fields[i] !== '')) return featureAt.map((i) => fields[i]);
  const record: Record<string, string> = {};
  columns.forEach((c, i) => {
    if (i < fields.length) record[c] = fields[i];
  });
  return record;
}

function rowReason(err: unknown, spec: ChunkSpec, line: Line): string {
  return err instanceof CsvLineError ? `${where(spec, line)}: ${err.message}.` : toHttpError(err).message;
}

export function predictionHeader(service: InferenceService): string[] {
  const task = service.config.task;
  if (task.type === 'tabular' && task.outputNames) return [...task.outputNames];
  if (task.type === 'tabular' && task.labels) return ['prediction', 'score'];
  return ['prediction'];
}

const labelFields = new Map<string, string>();

/** The prediction columns of one row, as CSV: top label and score, named outputs, or the raw output as JSON. */
function predictionFields(r: unknown): string {
  if (Array.isArray(r) && r.length > 0 && isObject(r[0]) && 'label' in r[0]) {
    const label = String(r[0].label);
    let field = labelFields.get(label);
    if (field === undefined) labelFields.set(label, field = csvField(label));
    return `${field},${String(r[0].score)}`;
  }
  if (isObject(r)) return Object.values(r).map((v) => csvField(String(v))).join(',');
  return csvField(JSON.stringify(r));
}

async function jsonRows(ctx: BatchContext, spec: ChunkSpec, lines: AsyncIterable<Line[]>, sink: Sink): Promise<undefined> {
  const { service } = ctx;
  const groupSize = service.images ? Math.min(service.config.batchRows, IMAGE_ROWS_MAX) : service.config.batchRows;
  let group: Row<unknown>[] = [];
  const flush = async () => {
    if (group.length === 0) return;
    const current = group;
    group = [];
    const results = await predictGroup(current.map((r) => r.value), (instances) => predictInstances(service, instances));
    current.forEach((r, i) => {
      const result = results[i];
      if (result instanceof Error) {
        fail(sink, spec, r.line, toHttpError(result).message);
      } else {
        sink.out.push(JSON.stringify({ line: r.line.no, offset: r.line.offset, prediction: result }) + '\n');
        sink.table?.push({ chunk: spec.index, line: r.line.no, offset: r.line.offset, prediction: result });
      }
    });
  };
  for await (const batch of lines) {
    for (const line of batch) {
      if (!line.tooLong && line.text.trim() === '') continue;
      sink.rows++;
      if (line.tooLong) {
        fail(sink, spec, line, `${where(spec, line)} is longer than the ${MAX_LINE_MIB} MiB line limit.`);
        continue;
      }
      let instance: unknown;
      try {
        instance = JSON.parse(line.text);
      } catch (err) {
        fail(sink, spec, line, `${where(spec, line)} is not valid JSON: ${(err as Error).message}`);
        continue;
      }
      try {
        // Tabular rows are checked one by one here, so a bad row is named by its own line.
        group.push({ line, value: service.tabular ? service.tabular.vector(instance, where(spec, line)) : instance });
      } catch (err) {
        fail(sink, spec, line, toHttpError(err).message);
        continue;
      }
      if (group.length >= groupSize) await flush();
    }
  }
  await flush();
  return undefined;
}

/** One group of JSON Lines instances (tabular: their vectors), through the same paths as the :predict and /classify routes. */
async function predictInstances(service: InferenceService, instances: readonly unknown[]): Promise<unknown[]> {
  if (service.tabular) return service.predictRows(instances as Float32Array[]);
  if (service.images && instances.every((x) => isObject(x) && typeof x.b64 === 'string')) {
    const results = await service.classify(instances.map((x) => Buffer.from((x as { b64: string }).b64, 'base64')));
    if (results.length === 1 && results[0] instanceof Error) throw results[0];
    return results;
  }
  const answer = await service.predictRest({ instances });
  return answer.predictions as unknown[];
}
