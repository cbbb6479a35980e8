// BatchInference's limits, defaults and the small rules they follow, in one place: which
// input files a task can read, the queue's visibility timeout, and prefix overlap.
import { Duration, Size, Token } from 'aws-cdk-lib';

/** Chunks below 1 MiB cost more in messages and requests than they save. */
export const MIN_CHUNK_SIZE = Size.mebibytes(1);
/** Above 256 MiB one chunk stops fitting a Lambda invocation with room to spare. */
export const MAX_CHUNK_SIZE = Size.mebibytes(256);
/** Also the runtime's default (runtime/src/constants.ts BATCH_CHUNK_BYTES_DEFAULT). */
export const DEFAULT_CHUNK_SIZE = Size.mebibytes(8);

/** Rows per tensor call: the runtime accepts 1 to 1024 (its MAX_INSTANCES_PER_REQUEST). */
export const DEFAULT_ROWS_PER_BATCH = 1024;
export const MAX_ROWS_PER_BATCH = 1024;

/** SQS event source limits. @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html */
export const DEFAULT_BATCH_SIZE = 1;
export const MAX_BATCH_SIZE_WITHOUT_WINDOW = 10;
export const MAX_BATCH_SIZE = 10_000;
export const MAX_BATCHING_WINDOW = Duration.minutes(5);
export const MIN_MAX_CONCURRENCY = 2;
export const MAX_MAX_CONCURRENCY = 1000;
/** Ten concurrent chunks: fast enough for most backfills, small enough not to starve the account. */
export const DEFAULT_MAX_CONCURRENCY = 10;
export const DEFAULT_MAX_RECEIVE_COUNT = 3;
export const MAX_MAX_RECEIVE_COUNT = 1000;

/** AWS: the source queue's visibility timeout should be at least six times the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** SQS's largest visibility timeout. */
export const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);
/** Lambda's largest function timeout, assumed when the timeout is a token. */
const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
/** Below this a function is sized for synchronous requests, not for a chunk of a large file. */
export const MIN_BATCH_TIMEOUT = Duration.minutes(1);

export const DEFAULT_INPUT_PREFIX = 'input/';
export const DEFAULT_OUTPUT_PREFIX = 'predictions/';
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** The input files the runtime reads, by the suffix of their key (compared in lower case, as the runtime does). */
export const INPUT_SUFFIXES = {
  csv: ['.csv'],
  jsonl: ['.jsonl', '.ndjson'],
  image: ['.jpg', '.jpeg', '.png', '.webp', '.gif'],
} as const;

export type InputFormat = keyof typeof INPUT_SUFFIXES;

/** The input format a notification suffix selects, or undefined when the runtime reads no such file. */
export function formatOfSuffix(suffix: string): InputFormat | undefined {
  const s = suffix.toLowerCase();
  return (Object.keys(INPUT_SUFFIXES) as InputFormat[]).find((f) => INPUT_SUFFIXES[f].some((ext) => s.endsWith(ext)));
}

/**
 * What a task reads: CSV rows need the tabular task's feature names, images need the image
 * task's preprocessing, and JSON Lines carry instances (or `{"b64": ...}` images) for any task.
 */
export function formatsForTask(taskType: string): InputFormat[] {
  switch (taskType) {
    case 'tabular': return ['csv', 'jsonl'];
    case 'image-classification': return ['image', 'jsonl'];
    default: return ['jsonl'];
  }
}

/** One notification filter per suffix the task reads. */
export function defaultSuffixes(taskType: string): string[] {
  return formatsForTask(taskType).flatMap((f) => [...INPUT_SUFFIXES[f]]);
}

/**
 * visibilityTimeout = min(12 h, 6 x function timeout + maxBatchingWindow): AWS's advice for
 * SQS event sources (room for Lambda to retry a throttled batch), plus the time a message
 * may wait in a batching window while it is already invisible.
 */
export function visibilityTimeoutFor(functionTimeout: Duration, batchingWindow?: Duration): Duration {
  const timeout = functionTimeout.toSeconds();
  const seconds = Token.isUnresolved(timeout) ? MAX_FUNCTION_TIMEOUT_SECONDS : timeout;
  const window = batchingWindow?.toSeconds() ?? 0;
  const total = VISIBILITY_TIMEOUT_FACTOR * seconds + (Token.isUnresolved(window) ? MAX_BATCHING_WINDOW.toSeconds() : window);
  return Duration.seconds(Math.min(total, MAX_VISIBILITY_TIMEOUT.toSeconds()));
}

/** Two key prefixes overlap when a key can start with both. */
export function prefixesOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}
