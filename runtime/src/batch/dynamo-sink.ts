// The optional DynamoDB sink of S3 batch inference: every predicted row of a chunk as one
// item, keyed by the input object (`pk`) and the row's byte offset (`sk`). The keys are
// deterministic, so a retried chunk overwrites its items and never adds to them. A chunk
// whose items cannot all be written fails, and its message is retried.
import { documentClient, dynamoCommands } from '../jobs/clients';
import { ERROR_KIND, ServiceUnavailableError } from '../errors';
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

/** The input object a chunk belongs to. */
export interface SinkObject {
  readonly bucket: string;
  readonly key: string;
  /** Without quotes, as the output keys carry it. */
  readonly etag: string;
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

/** Rows that DynamoDB kept refusing (throttling): a 5xx, so the chunk's message is retried. */
export class OutputTableError extends ServiceUnavailableError {
  public constructor(message: string) {
    super(message, ERROR_KIND.INTERNAL);
  }
}

export function partitionKey(object: SinkObject): string {
  return `${object.bucket}/${object.key}#${object.etag}`;
}

export function sortKey(offset: number): string {
  return String(offset).padStart(OFFSET_DIGITS, '0');
}

/** Writes `rows` to `table`, 25 items a call; throws when some are still unwritten after MAX_WRITE_ATTEMPTS calls. */
export async function writeRows(table: string, object: SinkObject, rows: readonly SinkRow[]): Promise<void> {
  if (rows.length === 0) return;
  const [client, { BatchWriteCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
  const pk = partitionKey(object);
  type WriteRequest = NonNullable<BatchWriteCommandOutput['UnprocessedItems']>[string][number];
  const requests: WriteRequest[] = rows.map((r) => ({
    PutRequest: {
      Item: {
        pk,
        sk: sortKey(r.offset),
        chunk: r.chunk,
        line: r.line,
        offset: r.offset,
        prediction: JSON.stringify(r.prediction),
        ...(r.text !== undefined ? { text: r.text } : {}),
      },
    },
  }));
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
