// What an asynchronous job is: its statuses, the item that records it, the queue
// message that starts it, and where its input and result live in S3. This is the
// contract the AsyncInference construct and clients rely on.
import { createHash } from 'node:crypto';
import { isObject } from '../guards';
import { TASK_ROUTES } from '../tasks/dispatch';
import type { TaskRoute } from '../tasks/dispatch';

export const JOB_STATUS = {
  /** Created with `{"upload": ...}`: waiting for the client to PUT the input. */
  AWAITING_UPLOAD: 'AWAITING_UPLOAD',
  /** The input is stored and the job message is on the queue. */
  QUEUED: 'QUEUED',
  /** A worker took it; a retried attempt (after a 5xx) stays RUNNING. */
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
} as const;
export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];

export function isFinished(status: JobStatus): boolean {
  return status === JOB_STATUS.SUCCEEDED || status === JOB_STATUS.FAILED;
}

/** The synchronous route a job runs, by name: the task dispatch's routes. */
export const JOB_ROUTES: readonly JobRoute[] = TASK_ROUTES;
export type JobRoute = TaskRoute;

/** The DynamoDB item of a job (partition key `job#{jobId}`). */
export interface JobItem {
  readonly pk: string;
  readonly jobId: string;
  readonly status: JobStatus;
  readonly route: JobRoute;
  readonly model: string;
  /** The Content-Type the input is read with. */
  readonly contentType?: string;
  readonly inputKey: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Epoch seconds: the table's TTL attribute. Reads treat a passed expiry as gone. */
  readonly expiresAt: number;
  /** Epoch seconds: the upload URL's expiry (upload jobs only). */
  readonly uploadExpiresAt?: number;
  readonly idempotencyKey?: string;
  /**
   * The submitting caller, as ownerOf hashes it, when an authorizer verified one: only
   * that caller reads the job. Absent for jobs submitted without an authorizer.
   */
  readonly owner?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly attempts?: number;
  /** The last transient (5xx) failure; the message is retried. */
  readonly lastError?: string;
  readonly resultKey?: string;
  readonly resultBytes?: number;
  /** The result as JSON text when it is small enough to keep in the item. */
  readonly resultJson?: string;
  readonly error?: string;
  /** The HTTP status a synchronous request with this input would have had (FAILED only). */
  readonly statusCode?: number;
  readonly notifiedAt?: string;
}

/**
 * The owner recorded for a caller (HttpRequest.caller): a SHA-256, so the table holds no
 * identities (user ids, e-mail-like session names) in the clear.
 */
export function ownerOf(caller: string | undefined): string | undefined {
  return caller === undefined ? undefined : createHash('sha256').update(`serverless-tf job owner\n${caller}`).digest('hex');
}

/** The DynamoDB item that maps an Idempotency-Key to its job (partition key `idem#{key}`). */
export interface IdempotencyItem {
  readonly pk: string;
  readonly jobId: string;
  /** SHA-256 of route, content type and body: the same key with another request is refused. */
  readonly fingerprint: string;
  readonly expiresAt: number;
}

export const jobPk = (jobId: string): string => `job#${jobId}`;
export const idempotencyPk = (key: string): string => `idem#${key}`;

/** S3 key layout under the jobs bucket. */
export const JOB_KEYS = {
  PREFIX: 'jobs/',
  INPUTS: 'jobs/inputs/',
  UPLOADS: 'jobs/uploads/',
  RESULTS: 'jobs/results/',
} as const;

export const inputKey = (jobId: string): string => `${JOB_KEYS.INPUTS}${jobId}`;
export const uploadKey = (jobId: string): string => `${JOB_KEYS.UPLOADS}${jobId}`;
export const resultKey = (jobId: string): string => `${JOB_KEYS.RESULTS}${jobId}.json`;

/** Job ids are random UUIDs (crypto.randomUUID): URL-safe and unguessable. */
export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The job id of an upload key, or undefined when the key is not a job upload. */
export function jobIdOfUploadKey(key: string): string | undefined {
  if (!key.startsWith(JOB_KEYS.UPLOADS)) return undefined;
  const id = key.slice(JOB_KEYS.UPLOADS.length);
  return JOB_ID_PATTERN.test(id) ? id : undefined;
}

/** The SQS message that starts a job. */
export interface JobMessage {
  readonly type: typeof JOB_MESSAGE_TYPE;
  readonly jobId: string;
}

export const JOB_MESSAGE_TYPE = 'serverless-tf.job';

export function isJobMessage(body: unknown): body is JobMessage {
  return isObject(body) && body.type === JOB_MESSAGE_TYPE && typeof body.jobId === 'string';
}

export function epochSeconds(date: Date = new Date()): number {
  return Math.floor(date.getTime() / 1000);
}
