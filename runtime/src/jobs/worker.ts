// Runs asynchronous jobs: a job message from the queue, or the S3 notification of an
// upload, starts one. The input goes through the same task dispatch as a synchronous
// request (tasks/dispatch.ts); an answer becomes the result object, a client error a FAILED
// job (client errors are final), and any other error (out of memory included) throws so that SQS retries the
// message and its redrive policy sends a poison job to the dead-letter queue.
import { JobStore } from './store';
import { notificationsConfigured, notify } from './notifier';
import {
  JOB_KEYS, JOB_STATUS, epochSeconds, isFinished, jobIdOfUploadKey, resultKey,
} from './job';
import { MAX_INLINE_RESULT_BYTES, MAX_JOB_INPUT_BYTES, UPLOAD_GRACE_SECONDS } from './limits';
import { JobAttemptError, isClientError, toHttpError } from '../errors';
import { runTask } from '../tasks/dispatch';
import { failureResponse } from '../http';
import { decodeS3Key } from '../events';
import { s3Client, s3Commands } from '../aws-clients';
import type { JobItem, JobMessage, JobStatus } from './job';
import type { JobOutcome } from './store';
import type { JobsConfig } from '../config';
import type { InferenceService } from '../service';
import type { S3EventRecord } from 'aws-lambda';
import type { Readable } from 'node:stream';

/** What one delivery did, for logs and the handler's answer. */
export interface JobRun {
  readonly jobId: string;
  readonly status?: JobStatus;
  readonly skipped?: string;
}

export function jobsConfigOf(service: InferenceService): JobsConfig {
  const jobs = service.config.jobs;
  if (!jobs) {
    // A deployment error: the message is retried and, in the end, kept by the dead-letter queue.
    throw new Error('A job message arrived but asynchronous jobs are not configured (SERVERLESS_TF_JOBS_TABLE, _BUCKET and _QUEUE_URL).');
  }
  return jobs;
}

/** Runs the job a queue message names. A message for a finished job does nothing (but a missing notification). */
export async function runJobMessage(service: InferenceService, message: JobMessage, requestId?: string): Promise<JobRun> {
  const jobs = jobsConfigOf(service);
  const store = new JobStore(jobs);
  const job = await store.get(message.jobId);
  if (!job) return skip(service, { jobId: message.jobId, skipped: 'no such job (it expired or never existed)' }, requestId);
  if (isFinished(job.status)) {
    await ensureNotified(jobs, store, job);
    return skip(service, { jobId: job.jobId, status: job.status, skipped: 'the job has already finished' }, requestId);
  }
  if (job.status === JOB_STATUS.AWAITING_UPLOAD) {
    return skip(service, { jobId: job.jobId, status: job.status, skipped: 'the job waits for its upload; the upload notification starts it' }, requestId);
  }
  return execute(service, jobs, store, job, [JOB_STATUS.QUEUED, JOB_STATUS.RUNNING], requestId);
}

/**
 * Starts the job an upload belongs to. Returns false when the object is not in the jobs
 * area (the caller treats it as a batch input). Objects under `jobs/` in the jobs bucket
 * are never batch inputs: those that are not uploads are ignored.
 */
export async function runUploadedJob(service: InferenceService, record: S3EventRecord, requestId?: string): Promise<boolean> {
  const jobs = service.config.jobs;
  const key = decodeS3Key(record.s3.object.key);
  if (!jobs || record.s3.bucket.name !== jobs.bucket || !key.startsWith(JOB_KEYS.PREFIX)) return false;
  const jobId = jobIdOfUploadKey(key);
  if (!jobId) {
    skip(service, { jobId: '', skipped: `s3://${jobs.bucket}/${key} is a job object, not an upload` }, requestId);
    return true;
  }
  const store = new JobStore(jobs);
  const job = await store.get(jobId);
  if (!job) {
    skip(service, { jobId, skipped: 'an upload for no job (it expired or never existed)' }, requestId);
    return true;
  }
  if (job.status !== JOB_STATUS.AWAITING_UPLOAD && job.status !== JOB_STATUS.RUNNING) {
    await ensureNotified(jobs, store, job);
    skip(service, { jobId, status: job.status, skipped: 'the job has already started; a second upload is ignored' }, requestId);
    return true;
  }
  const arrived = Number.isNaN(Date.parse(record.eventTime)) ? new Date() : new Date(record.eventTime);
  const deadline = (job.uploadExpiresAt ?? Number.POSITIVE_INFINITY) + UPLOAD_GRACE_SECONDS;
  if (job.status === JOB_STATUS.AWAITING_UPLOAD && epochSeconds(arrived) > deadline) {
    const expired = new Date((job.uploadExpiresAt ?? 0) * 1000).toISOString();
    await finish(service, jobs, store, job.jobId, {
      status: JOB_STATUS.FAILED,
      statusCode: 410,
      error: `The input arrived at ${arrived.toISOString()}, after the upload URL expired at ${expired}. Create a new job and upload within its expiry.`,
    }, [JOB_STATUS.AWAITING_UPLOAD], requestId);
    return true;
  }
  await execute(service, jobs, store, job, [JOB_STATUS.AWAITING_UPLOAD, JOB_STATUS.RUNNING], requestId);
  return true;
}

async function execute(service: InferenceService, jobs: JobsConfig, store: JobStore, job: JobItem, from: readonly JobStatus[], requestId?: string): Promise<JobRun> {
  const running = await store.start(job.jobId, from);
  if (!running) {
    // Another delivery finished it between our read and this write.
    return skip(service, { jobId: job.jobId, skipped: 'the job is no longer startable' }, requestId);
  }
  const input = await readInput(jobs.bucket, running.inputKey);
  if (input === 'missing') {
    return finish(service, jobs, store, job.jobId, { status: JOB_STATUS.FAILED, statusCode: 410, error: 'The job\'s input is no longer stored (it expired). Create a new job.' }, [JOB_STATUS.RUNNING], requestId);
  }
  if (input === 'too-large') {
    return finish(service, jobs, store, job.jobId, { status: JOB_STATUS.FAILED, statusCode: 413, error: `The input is over the ${MAX_JOB_INPUT_BYTES} bytes a job reads. Send a smaller input.` }, [JOB_STATUS.RUNNING], requestId);
  }
  // Inputs come from S3, so Lambda's synchronous payload limit (the service's body limit)
  // does not apply to a job; MAX_JOB_INPUT_BYTES, checked when the input was read, does.
  let body: string;
  try {
    const answer = await runTask(service, {
      route: running.route, contentType: running.contentType, body: input, maxBodyBytes: Math.max(service.config.maxBodyBytes, MAX_JOB_INPUT_BYTES),
    });
    body = JSON.stringify(answer);
  } catch (err) {
    const failed = failureResponse(service.obs, err, { requestId, jobId: job.jobId, route: running.route });
    const message = toHttpError(err).message;
    if (!isClientError(err)) {
      await store.recordTransientError(job.jobId, message);
      throw new JobAttemptError(`Job ${job.jobId} attempt ${running.attempts ?? 1} failed with ${failed.statusCode}: ${message}`, job.jobId, failed.statusCode);
    }
    return finish(service, jobs, store, job.jobId, { status: JOB_STATUS.FAILED, statusCode: failed.statusCode, error: message }, [JOB_STATUS.RUNNING], requestId);
  }
  const key = resultKey(job.jobId);
  const bytes = Buffer.byteLength(body);
  const [s3, { PutObjectCommand }] = await Promise.all([s3Client(), s3Commands()]);
  await s3.send(new PutObjectCommand({ Bucket: jobs.bucket, Key: key, Body: body, ContentType: 'application/json' }));
  return finish(service, jobs, store, job.jobId, {
    status: JOB_STATUS.SUCCEEDED, resultKey: key, resultBytes: bytes, ...(bytes <= MAX_INLINE_RESULT_BYTES ? { resultJson: body } : {}),
  }, [JOB_STATUS.RUNNING], requestId);
}

async function finish(service: InferenceService, jobs: JobsConfig, store: JobStore, jobId: string, outcome: JobOutcome, from: readonly JobStatus[], requestId?: string): Promise<JobRun> {
  const finished = await store.finish(jobId, outcome, from);
  if (!finished) return skip(service, { jobId, skipped: 'another delivery finished the job first' }, requestId);
  service.obs.logger.info('Job finished', {
    requestId, jobId, status: finished.status, attempts: finished.attempts,
    ...(finished.status === JOB_STATUS.FAILED ? { statusCode: finished.statusCode, reason: finished.error } : { resultKey: finished.resultKey }),
  });
  await ensureNotified(jobs, store, finished);
  return { jobId, status: finished.status };
}

/** Notifies once per finished job; a failed notification throws, and the redelivery tries again. */
async function ensureNotified(jobs: JobsConfig, store: JobStore, job: JobItem): Promise<void> {
  if (!notificationsConfigured(jobs) || job.notifiedAt || !isFinished(job.status)) return;
  await notify(jobs, job);
  await store.markNotified(job.jobId);
}

async function readInput(bucket: string, key: string): Promise<Buffer | 'missing' | 'too-large'> {
  const [s3, { GetObjectCommand }] = await Promise.all([s3Client(), s3Commands()]);
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if ((object.ContentLength ?? 0) > MAX_JOB_INPUT_BYTES) {
      (object.Body as Readable | undefined)?.destroy();
      return 'too-large';
    }
    return Buffer.from(await object.Body!.transformToByteArray());
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey' || (err as Error).name === 'NotFound') return 'missing';
    throw err;
  }
}

function skip(service: InferenceService, run: JobRun, requestId?: string): JobRun {
  service.obs.logger.info('Job delivery skipped', { requestId, ...run });
  return run;
}
