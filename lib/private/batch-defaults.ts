// BatchInference's limits, defaults and the small rules they follow, in one place: which
// input files a task can read, and prefix overlap. The queue's limits and visibility timeout
// are queue-feed.ts's, shared with AsyncInference.
import { Duration, Size } from 'aws-cdk-lib';
import { TaskType } from '../inference-task';

/** Chunks below 1 MiB cost more in messages and requests than they save. */
export const MIN_CHUNK_SIZE = Size.mebibytes(1);
/** Above 256 MiB one chunk stops fitting a Lambda invocation with room to spare. */
export const MAX_CHUNK_SIZE = Size.mebibytes(256);
/** Also the runtime's default (runtime/src/constants.ts BATCH_CHUNK_BYTES_DEFAULT). */
export const DEFAULT_CHUNK_SIZE = Size.mebibytes(8);

/** Rows per tensor call: the runtime accepts 1 to 1024 (its MAX_INSTANCES_PER_REQUEST). */
export const DEFAULT_ROWS_PER_BATCH = 1024;
export const MAX_ROWS_PER_BATCH = 1024;

/** Ten concurrent chunks: fast enough for most backfills, small enough not to starve the account. */
export const DEFAULT_MAX_CONCURRENCY = 10;

/** Below this a function is sized for synchronous requests, not for a chunk of a large file. */
export const MIN_BATCH_TIMEOUT = Duration.minutes(1);

export const DEFAULT_INPUT_PREFIX = 'input/';
export const DEFAULT_OUTPUT_PREFIX = 'predictions/';

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
export function formatsForTask(taskType: TaskType): InputFormat[] {
  switch (taskType) {
    case TaskType.TABULAR: return ['csv', 'jsonl'];
    case TaskType.IMAGE_CLASSIFICATION: return ['image', 'jsonl'];
    default: return ['jsonl'];
  }
}

/** One notification filter per suffix the task reads. */
export function defaultSuffixes(taskType: TaskType): string[] {
  return formatsForTask(taskType).flatMap((f) => [...INPUT_SUFFIXES[f]]);
}

/** Two key prefixes overlap when a key can start with both. */
export function prefixesOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}
