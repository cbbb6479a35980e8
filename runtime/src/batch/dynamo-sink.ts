// The optional DynamoDB sink of S3 batch inference: every predicted row of a chunk, and every
// classified image, as one item keyed by the input object (`pk`) and the row's byte offset
// (`sk`). The keys are deterministic, so a retried chunk overwrites its items and never adds
// to them. A chunk whose items cannot all be written fails, and its message is retried.
//
// The items (S: string, N: number, BOOL: boolean):
//
//   pk          S     `<bucket>/<key>#<ETag>` of the input object (the ETag without quotes)
//   sk          S     the row's byte offset in the input, zero-padded to 13 digits (sorts in input order)
//   chunk       N     the chunk that predicted the row
//   line        N     the row's 1-based line number among the lines of its chunk
//   offset      N     the row's byte offset in the input
//   prediction  S     the row's prediction as JSON text
//   text        S     CSV only: the row as read
//
// An image is one item: sk '0000000000000', chunk 0, line 1, offset 0, and its classification
// (`[{"label","score"}...]`) as `prediction`. Rows and images that failed have no item: they
// are in the errors file only.
//
// DynamoDB refuses items over 400 KB. A row whose item would be larger (a long CSV row, a large
// tensor output) is written as an oversize item instead, so it is still recorded, and its row
// and prediction are read from the chunk's output file:
//
//   pk, sk, chunk, line, offset   as above
//   output      S     s3:// URI of the chunk's output file, which holds the row and its prediction
//   oversize    BOOL  true
//   itemBytes   N     the size the full item would have had, as DynamoDB counts it
//
// `text` and `prediction` are absent from an oversize item.
import { documentClient, dynamoCommands } from '../aws-clients';
import { OutputTableError } from '../errors';
import { mapLimit } from './s3-io';
import type { BatchWriteCommandOutput } from '@aws-sdk/lib-dynamodb';

/** Items per BatchWriteItem call: DynamoDB's limit. */
export const MAX_BATCH_WRITE_ITEMS = 25;

/** BatchWriteItem calls in flight at once for one chunk. */
const MAX_CONCURRENT_WRITES = 4;

/** Calls per group of items (the first and its retries of unprocessed items) before the chunk fails. */
export const MAX_WRITE_ATTEMPTS = 8;

const BACKOFF_BASE_MS = 50;
const BACKOFF_MAX_MS = 2000;

/** Digits of a zero-padded offset: 13 hold S3's largest object (5 TiB), so keys sort in input order. */
const OFFSET_DIGITS = 13;

/**
 * DynamoDB's item size limit: attribute names and values together.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
 */
export const MAX_ITEM_BYTES = 400 * 1024;

/** Items larger than this are written as oversize items: the limit less a margin, as itemBytes() only estimates numbers. */
export const OVERSIZE_ITEM_BYTES = MAX_ITEM_BYTES - 1024;

/** The most a number can count (38 significant digits: one byte per two, plus one), rounded up. */
const MAX_NUMBER_BYTES = 21;

/** The input object a chunk belongs to. */
export interface SinkObject {
  readonly bucket: string;
  readonly key: string;
  /** Without quotes, as the output keys carry it. */
  readonly etag: string;
}

/** Where writeRows writes. */
export interface SinkTarget {
  /** The table's name. */
  readonly table: string;
  /** The input object, which the partition key names. */
  readonly object: SinkObject;
  /** s3:// URI of the output file that holds these rows and their predictions; oversize items point there. */
  readonly output: string;
}

/** One predicted row, as the chunk worker has it. */
export interface SinkRow {
  readonly chunk: number;
  readonly line: number;
  readonly offset: number;
  readonly prediction: unknown;
  /** CSV: the row as read. */
  readonly text?: string;
}

/** An item's attributes, as the document client marshals them. */
export type SinkItem = Record<string, string | number | boolean | undefined>;

export function partitionKey(object: SinkObject): string {
  return `${object.bucket}/${object.key}#${object.etag}`;
}

export function sortKey(offset: number): string {
  return String(offset).padStart(OFFSET_DIGITS, '0');
}

/**
 * An item's size as DynamoDB counts it: the UTF-8 bytes of each attribute name and string
 * value, a byte for a boolean and, for a number, the most it can count.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
export function itemBytes(item: SinkItem): number {
  let bytes = 0;
  for (const name in item) {
    const value = item[name];
    if (value === undefined) continue; // the document client leaves it out
    bytes += Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : typeof value === 'number' ? MAX_NUMBER_BYTES : 1);
  }
  return bytes;
}

/** The row's item, or its oversize item when DynamoDB would refuse the full one. */
function rowItem(pk: string, row: SinkRow, output: string): SinkItem {
  const keys = { pk, sk: sortKey(row.offset), chunk: row.chunk, line: row.line, offset: row.offset };
  const item: SinkItem = { ...keys, prediction: JSON.stringify(row.prediction), ...(row.text !== undefined ? { text: row.text } : {}) };
  const bytes = itemBytes(item);
  return bytes <= OVERSIZE_ITEM_BYTES ? item : { ...keys, output, oversize: true, itemBytes: bytes };
}

/** Writes one item per row to the target table, 25 a call; throws when some are still unwritten after MAX_WRITE_ATTEMPTS calls. */
export async function writeRows(target: SinkTarget, rows: readonly SinkRow[]): Promise<void> {
  if (rows.length === 0) return;
  const { table, output } = target;
  const [client, { BatchWriteCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
  const pk = partitionKey(target.object);
  type WriteRequest = NonNullable<BatchWriteCommandOutput['UnprocessedItems']>[string][number];
  const requests: WriteRequest[] = rows.map((r) => ({ PutRequest: { Item: rowItem(pk, r, output) } }));
  const groups: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += MAX_BATCH_WRITE_ITEMS) groups.push(requests.slice(i, i + MAX_BATCH_WRITE_ITEMS));
  await mapLimit(groups, MAX_CONCURRENT_WRITES, async (group) => {
    let pending = group;
    for (let attempt = 1; ; attempt++) {
      const res = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = res.UnprocessedItems?.[table] ?? [];
      if (pending.length === 0) return;
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        throw new OutputTableError(`${pending.length} rows of ${pk} were not written to the DynamoDB table ${table} after ${MAX_WRITE_ATTEMPTS} attempts (throttled): the chunk is retried.`);
      }
      await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
