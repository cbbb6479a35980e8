// Where S3 batch inference writes, and what its files hold. One base per input object,
// `<outputPrefix><input key>/<ETag>/`, so the same object always maps to the same keys and
// a retry overwrites instead of adding; the chunk index completes every output key.
//
//   manifest.json                     the plan: format, size, CSV header, chunk ranges
//   chunk-00007.csv | .jsonl | .json  predictions of the rows that start in chunk 7
//   chunk-00007.errors.jsonl          the rows of chunk 7 that failed, with the reason (always written, may be empty)
//   done/<plan>/chunk-00007.json      chunk 7 of that plan is written: rows, failed
//   _SUCCESS.json                     every chunk of the plan is done: totals and file list

export type InputFormat = 'csv' | 'jsonl' | 'image';

export interface S3ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
  /** Bytes, from the S3 notification when it says. */
  readonly size?: number;
}

/** The plan a planner writes before any chunk message is sent; workers read it. */
export interface Manifest {
  readonly version: 1;
  readonly input: string;
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly format: InputFormat;
  /** Random per plan: a re-planned object (a duplicate notification) does not count the old plan's chunks. */
  readonly plan: string;
  /** CSV only: the header line (no BOM, no line end) and its offset. Chunk 0 holds it too and skips it. */
  readonly header?: { readonly text: string; readonly offset: number };
  /** Each chunk owns the lines that start in [start, end). */
  readonly chunks: readonly { readonly index: number; readonly start: number; readonly end: number }[];
  readonly createdAt: string;
}

/** What a chunk's done marker holds. */
export interface ChunkDone {
  readonly chunk: number;
  readonly start: number;
  readonly end: number;
  readonly rows: number;
  readonly failed: number;
  readonly output: string;
  readonly errors: string;
}

/** What `_SUCCESS.json` holds: the totals of one plan whose chunks are all done. */
export interface BatchSuccess {
  readonly input: string;
  readonly etag: string;
  readonly plan: string;
  readonly format: InputFormat;
  readonly chunks: number;
  readonly rows: number;
  readonly failed: number;
  readonly bucket: string;
  readonly outputs: readonly string[];
  readonly errors: readonly string[];
}

export const OUTPUT_EXTENSION: Record<InputFormat, string> = { csv: 'csv', jsonl: 'jsonl', image: 'json' };

const CONTENT_TYPES: Record<string, string> = { csv: 'text/csv', jsonl: 'application/x-ndjson', json: 'application/json' };

export function contentType(ext: string): string {
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

export function inputFormat(key: string): InputFormat | undefined {
  const k = key.toLowerCase();
  if (k.endsWith('.csv')) return 'csv';
  if (k.endsWith('.jsonl') || k.endsWith('.ndjson')) return 'jsonl';
  if (/\.(jpe?g|png|webp|gif)$/.test(k)) return 'image';
  return undefined;
}

/** The ETag as S3 keys carry it: without quotes (notifications already omit them). */
export function cleanEtag(etag: string | undefined): string {
  return (etag ?? 'noetag').replace(/"/g, '');
}

export class BatchLayout {
  public readonly base: string;

  public constructor(public readonly bucket: string, outputPrefix: string, ref: S3ObjectRef) {
    this.base = `${outputPrefix}${ref.key}/${cleanEtag(ref.etag)}`;
  }

  public get manifest(): string {
    return `${this.base}/manifest.json`;
  }

  public get success(): string {
    return `${this.base}/_SUCCESS.json`;
  }

  public output(index: number, format: InputFormat): string {
    return `${this.base}/${chunkName(index)}.${OUTPUT_EXTENSION[format]}`;
  }

  public errors(index: number): string {
    return `${this.base}/${chunkName(index)}.errors.jsonl`;
  }

  public donePrefix(plan: string): string {
    return `${this.base}/done/${plan}/`;
  }

  public done(plan: string, index: number): string {
    return `${this.donePrefix(plan)}${chunkName(index)}.json`;
  }

  public uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}

/** Five digits sort correctly up to 100,000 chunks (800 GB at the default chunk size). */
function chunkName(index: number): string {
  return `chunk-${String(index).padStart(5, '0')}`;
}
