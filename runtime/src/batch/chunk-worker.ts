// Runs one chunk of a batch input: streams the lines the chunk owns, turns them into rows,
// predicts them in groups of `batchRows` (one tensor call each) through the service, and
// writes the chunk's predictions and its error rows at their deterministic keys. The input
// streams, so memory holds one group of rows plus the chunk's output (bounded by the chunk
// size), whatever the size of the object. With an output table, the predicted rows go to
// DynamoDB too (batch/dynamo-sink.ts).
import { CsvLineError, isClientError, toHttpError, UnprocessableError } from '../errors';
import { predictEach, predictInstances } from '../tasks/dispatch';
import { csvField, readPlainFeatures, splitCsvLine } from './csv-line';
import { MAX_LINE_BYTES, ownedLines } from './lines';
import { round, top1 } from '../tasks/postprocess';
import { putText } from './s3-io';
import { writeRows } from './dynamo-sink';
import type { InferenceService } from '../service';
import type { BatchContext } from './context';
import type { SinkRow } from './dynamo-sink';
import type { ChunkDone } from './layout';
import type { Line } from './lines';

/** Images per classify call in JSON Lines input: each decoded image is megabytes, rows are bytes. */
export const IMAGE_ROWS_MAX = 16;

/** Characters of a failed line kept in its error row, so it can be found and fixed. */
const ERROR_TEXT_CHARS = 1000;

const MAX_LINE_MIB = MAX_LINE_BYTES / 1024 / 1024;

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
    ...(outputTable && sink.table ? [writeRows({ table: outputTable, object: ctx.object, output: ctx.layout.uri(output) }, sink.table)] : []),
  ]);
  return { chunk: spec.index, start: spec.start, end: spec.end, rows: sink.rows, failed: sink.errors.length, output, errors, ...(header !== undefined ? { header } : {}) };
}

function where(spec: ChunkSpec, line: Line): string {
  return spec.chunks === 1 ? `line ${line.no}` : `chunk ${spec.index} line ${line.no}`;
}

function fail(sink: Sink, spec: ChunkSpec, line: Line, error: string): void {
  sink.errors.push({ chunk: spec.index, line: line.no, offset: line.offset, error, ...(line.text ? { text: line.text.slice(0, ERROR_TEXT_CHARS) } : {}) });
}

async function csvRows(ctx: BatchContext, spec: ChunkSpec, lines: AsyncIterable<Line[]>, sink: Sink): Promise<ChunkSpec['header']> {
  const { service } = ctx;
  const tabular = service.tabular;
  const format = predictionFields(service);
  let columns: string[] | undefined;
  let featureAt: number[] = [];
  let featureOf: Int32Array | undefined;
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
    // The fast path's map from column to feature; none when a feature has no column (every row then fails, worded by the general path).
    featureOf = undefined;
    if (tabular && featureAt.every((c) => c >= 0)) {
      featureOf = new Int32Array(columns.length).fill(-1);
      featureAt.forEach((c, j) => { featureOf![c] = j; });
    }
  };
  if (spec.header) useHeader(spec.header.text, spec.header.offset);

  // A group's feature vectors are rows of one buffer, predicted as one [n, width] tensor.
  // The buffer is reused: flush() is awaited before the next row is read into it.
  const width = tabular?.features.length ?? 0;
  const groupSize = service.config.batchRows;
  const values = new Float32Array(groupSize * width);
  const group: Line[] = [];
  const missing: number[] = []; // fields a short row lacks, padded with empty fields in the output
  const flush = async () => {
    const n = group.length;
    if (n === 0) return;
    let scores: Float32Array | undefined;
    let perRow: (Float32Array | Error)[] | undefined;
    try {
      scores = await service.predictScores(values.subarray(0, n * width), n);
    } catch (err) {
      // The group failed as a whole because of its input: predict each row to find the bad
      // ones (predictEach's rule, kept inline so a good group's output stays one flat buffer).
      if (!isClientError(err)) throw err;
      perRow = n === 1 ? [err as Error] : [];
      for (let i = 0; n > 1 && i < n; i++) {
        perRow.push(await service.predictScores(values.subarray(i * width, (i + 1) * width), 1).catch((e: unknown) => {
          if (!isClientError(e)) throw e;
          return e as Error;
        }));
      }
    }
    const outWidth = scores ? scores.length / n : 0;
    for (let i = 0; i < n; i++) {
      const line = group[i];
      // The group's output is one flat buffer; a row predicted alone has its own.
      const row = scores ?? perRow![i];
      const at = scores ? i * outWidth : 0;
      if (row instanceof Error) {
        fail(sink, spec, line, toHttpError(row).message);
        continue;
      }
      const rowWidth = scores ? outWidth : row.length;
      sink.out.push(`${line.text}${missing[i] ? ','.repeat(missing[i]) : ''},${format(row, at, rowWidth)}\n`);
      sink.table?.push({ chunk: spec.index, line: line.no, offset: line.offset, prediction: tabular!.answer(row.subarray(at, at + rowWidth)), text: line.text });
    }
    group.length = 0;
    missing.length = 0;
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
        // Most rows are plain numbers: read them without splitting the line; others take split and check.
        let count = featureOf ? readPlainFeatures(line.text, featureOf, width, values, group.length * width) : -1;
        if (count < 0) {
          const fields = splitCsvLine(line.text);
          count = fields.length;
          if (count <= columns.length && !parseFeatures(fields, featureAt, values, group.length * width)) {
            // The task's own check says what is wrong (missing feature, not a number).
            tabular.vector(featureValues(fields, featureAt, columns), where(spec, line));
            throw new UnprocessableError(`${where(spec, line)}: the features could not be read.`);
          }
        }
        if (count > columns.length) throw new UnprocessableError(`${where(spec, line)} has ${count} fields; the header has ${columns.length}.`);
        group.push(line);
        missing.push(columns.length - count);
      } catch (err) {
        fail(sink, spec, line, rowReason(err, spec, line));
        continue;
      }
      if (group.length >= groupSize) await flush();
    }
  }
  await flush();
  return header;
}

/**
 * Fast path for a row whose features are all finite numbers: writes them into `out` from
 * `at` on, in model order. False sends the row to the task's own check, which words the
 * error (an empty or blank field is missing, not 0).
 */
function parseFeatures(fields: readonly string[], featureAt: readonly number[], out: Float32Array, at: number): boolean {
  for (let j = 0; j < featureAt.length; j++) {
    const text = fields[featureAt[j]];
    if (text === undefined) return false;
    const n = +text;
    if (!Number.isFinite(n) || (n === 0 && text.trim() === '')) return false;
    out[at + j] = n;
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

/**
 * The prediction columns of one row of model output, as CSV (predictionHeader() names them):
 * top label and score, named outputs, or the raw output as JSON. The same values as the
 * first entry of the :predict answer, without building it for every row.
 */
function predictionFields(service: InferenceService): (scores: Float32Array, at: number, width: number) => string {
  const task = service.config.task;
  if (task.type === 'tabular' && task.labels) {
    const labels = task.labels.map(csvField);
    const softmax = task.softmax ?? false;
    return (scores, at, width) => {
      const best = top1(scores, softmax, at, width);
      return `${labels[best.index] ?? best.index},${best.score}`;
    };
  }
  if (task.type === 'tabular' && task.outputNames) {
    const n = task.outputNames.length;
    return (scores, at) => {
      let fields = String(round(scores[at]));
      for (let j = 1; j < n; j++) fields += `,${round(scores[at + j])}`;
      return fields;
    };
  }
  return (scores, at, width) => csvField(JSON.stringify(Array.from(scores.subarray(at, at + width), round)));
}

async function jsonRows(ctx: BatchContext, spec: ChunkSpec, lines: AsyncIterable<Line[]>, sink: Sink): Promise<undefined> {
  const { service } = ctx;
  const groupSize = service.images ? Math.min(service.config.batchRows, IMAGE_ROWS_MAX) : service.config.batchRows;
  let group: Row<unknown>[] = [];
  const flush = async () => {
    if (group.length === 0) return;
    const current = group;
    group = [];
    const results = await predictEach(current, (rows) => predictInstances(service, rows.map((r) => r.value), (i) => where(spec, rows[i].line)));
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
