// The HTTP side of asynchronous jobs. POST /jobs takes the body of a synchronous route
// (the route told by the input, or named by the path: /jobs/classify,
// /jobs/v1/models/{name}:predict, /jobs/v2/models/{name}/infer), stores it in S3,
// records the job and queues it; a JSON body {"upload": {"contentType": ...}} instead asks
// for a presigned PUT URL, for inputs over the synchronous limit. GET /jobs/{id} answers
// the status and the result.
import { createHash, randomUUID } from 'node:crypto';
import { JobStore } from './store';
import {
  JOB_ID_PATTERN, JOB_MESSAGE_TYPE, JOB_ROUTES, JOB_STATUS, epochSeconds, inputKey, jobPk, ownerOf, uploadKey,
} from './job';
import {
  IDEMPOTENCY_KEY_PATTERN, MAX_UPLOAD_REQUEST_BYTES, RESULT_URL_EXPIRES_SECONDS, UPLOAD_GRACE_SECONDS,
} from './limits';
import { BadRequestError, NotFoundError, UnprocessableError } from '../errors';
import { jsonResponse, mediaType } from '../http';
import { isObject } from '../guards';
import { presigner, presigningClient, s3Client, s3Commands, sqsClient, sqsCommands } from '../aws-clients';
import type { JobItem, JobMessage, JobRoute } from './job';
import type { JobsConfig } from '../config';
import type { HttpRequest, HttpResponse } from '../http';
import type { InferenceService } from '../service';

/** The header a client sets to make job creation safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Set on an answer that returns the job an earlier request with the same key created. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[\x20-\x7e]*)?$/;

interface UploadRequest {
  readonly contentType: string;
  readonly route?: JobRoute;
}

/** POST /jobs[/{synchronous route}]: 202 with the queued job, or 201 with an upload URL. */
export async function submitJob(service: InferenceService, req: HttpRequest): Promise<HttpResponse> {
  const jobs = requireJobs(service);
  const key = idempotencyKeyOf(req);
  const upload = uploadRequestOf(req);
  if (!upload && req.body.length === 0) {
    throw new BadRequestError('The body is empty: send the input as you would to the synchronous route, or {"upload": {"contentType": "<type>"}} to get an upload URL for a large input.');
  }
  const route = jobRouteOf(service, req, upload);
  const contentType = upload ? upload.contentType : req.headers['content-type'] || undefined;
  const fingerprint = createHash('sha256').update(`${route}\n${contentType ?? ''}\n${upload ? 'upload' : 'inline'}\n`).update(req.body).digest('hex');

  const store = new JobStore(jobs);
  const owner = ownerOf(req.caller);
  const jobId = randomUUID();
  const now = new Date();
  const [s3, { PutObjectCommand, DeleteObjectCommand }] = await Promise.all([s3Client(), s3Commands()]);
  const job: JobItem = {
    pk: jobPk(jobId),
    jobId,
    status: upload ? JOB_STATUS.AWAITING_UPLOAD : JOB_STATUS.QUEUED,
    route,
    model: service.modelName,
    contentType,
    inputKey: upload ? uploadKey(jobId) : inputKey(jobId),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    expiresAt: store.expiry(now),
    ...(upload ? { uploadExpiresAt: epochSeconds(now) + jobs.uploadExpirySeconds } : {}),
    ...(key ? { idempotencyKey: key } : {}),
    ...(owner ? { owner } : {}),
  };
  if (!upload) {
    await s3.send(new PutObjectCommand({ Bucket: jobs.bucket, Key: job.inputKey, Body: req.body, ContentType: contentType ?? 'application/octet-stream' }));
  }
  // The job item goes first: whoever reads an idempotency item finds its job.
  await store.create(job);
  if (key) {
    // Keys are the caller's own: two callers with the same key never meet.
    const holder = await store.claimIdempotencyKey(owner ? `${owner}#${key}` : key, jobId, fingerprint, job.expiresAt);
    if (holder) {
      await Promise.allSettled([
        store.delete(jobId),
        upload ? Promise.resolve() : s3.send(new DeleteObjectCommand({ Bucket: jobs.bucket, Key: job.inputKey })),
      ]);
      return replay(service, jobs, store, key, holder.jobId, holder.fingerprint === fingerprint);
    }
  }
  if (upload) return uploadAnswer(jobs, job, 201);
  await enqueue(jobs, jobId);
  service.obs.logger.info('Job queued', { jobId, route, bytes: req.body.length });
  return accepted(job, 202);
}

/** GET /jobs/{id}: the job's status; for a finished one, the result (inline when small, and a download URL) or the error. */
export async function getJob(service: InferenceService, req: HttpRequest): Promise<HttpResponse> {
  const jobs = requireJobs(service);
  const jobId = req.path.replace(/\/+$/, '').slice('/jobs/'.length);
  const found = JOB_ID_PATTERN.test(jobId) ? await new JobStore(jobs).get(jobId) : undefined;
  // A job bound to a caller is another caller's as good as absent: the same 404, so an id
  // tells nobody else that it exists.
  const job = found && (found.owner === undefined || found.owner === ownerOf(req.caller)) ? found : undefined;
  if (found && !job) service.obs.logger.warn('Job read refused: it belongs to another caller', { jobId });
  if (!job) {
    throw new NotFoundError(`No job ${JSON.stringify(jobId.slice(0, 64))}: it does not exist, or it expired (jobs are kept ${jobs.ttlDays} days). Create jobs with POST /jobs.`);
  }
  return jsonResponse(200, await describe(jobs, job), job.status === JOB_STATUS.QUEUED || job.status === JOB_STATUS.RUNNING ? { 'Retry-After': '1' } : {});
}

async function describe(jobs: JobsConfig, job: JobItem): Promise<Record<string, unknown>> {
  const view: Record<string, unknown> = {
    jobId: job.jobId,
    status: job.status,
    model: job.model,
    route: job.route,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    ...(job.attempts ? { attempts: job.attempts } : {}),
    expiresAt: iso(job.expiresAt),
  };
  switch (job.status) {
    case JOB_STATUS.AWAITING_UPLOAD:
      if (uploadExpired(job)) {
        return { ...view, status: JOB_STATUS.FAILED, statusCode: 410, error: `No input arrived before the upload URL expired at ${iso(job.uploadExpiresAt!)}. Create a new job.` };
      }
      return { ...view, uploadExpiresAt: iso(job.uploadExpiresAt!) };
    case JOB_STATUS.RUNNING:
      return job.lastError ? { ...view, lastError: job.lastError } : view;
    case JOB_STATUS.SUCCEEDED: {
      const expiresIn = Math.min(RESULT_URL_EXPIRES_SECONDS, Math.max(1, job.expiresAt - epochSeconds()));
      return {
        ...view,
        ...(job.resultJson !== undefined ? { result: JSON.parse(job.resultJson) as unknown } : {}),
        resultUrl: await presignGet(jobs.bucket, job.resultKey!, expiresIn),
        resultUrlExpiresAt: iso(epochSeconds() + expiresIn),
        resultBytes: job.resultBytes,
      };
    }
    case JOB_STATUS.FAILED:
      return { ...view, statusCode: job.statusCode, error: job.error };
    default:
      return view;
  }
}

/** The answer to a request whose idempotency key an earlier request holds. */
async function replay(service: InferenceService, jobs: JobsConfig, store: JobStore, key: string, jobId: string, sameRequest: boolean): Promise<HttpResponse> {
  if (!sameRequest) {
    throw new UnprocessableError(`The Idempotency-Key ${JSON.stringify(key)} was already used for a different request (job ${jobId}). Use a new key for a new job.`);
  }
  const job = await store.get(jobId);
  if (!job) throw new NotFoundError(`The Idempotency-Key ${JSON.stringify(key)} belongs to job ${jobId}, which has expired. Use a new key.`);
  service.obs.logger.info('Job request replayed', { jobId });
  if (job.status === JOB_STATUS.AWAITING_UPLOAD && !uploadExpired(job)) return uploadAnswer(jobs, job, 201, true);
  return accepted(job, job.uploadExpiresAt !== undefined ? 201 : 202, true);
}

function accepted(job: JobItem, statusCode: number, replayed = false): HttpResponse {
  const statusUrl = `/jobs/${job.jobId}`;
  return jsonResponse(statusCode, { jobId: job.jobId, status: job.status, statusUrl }, {
    Location: statusUrl,
    ...(replayed ? { [IDEMPOTENT_REPLAYED_HEADER]: 'true' } : {}),
  });
}

async function uploadAnswer(jobs: JobsConfig, job: JobItem, statusCode: number, replayed = false): Promise<HttpResponse> {
  const expiresIn = Math.max(1, job.uploadExpiresAt! - epochSeconds());
  const [client, { PutObjectCommand }, { getSignedUrl }] = await Promise.all([presigningClient(), s3Commands(), presigner()]);
  // Content-Type is signed: the upload must carry the type the worker will read it as.
  const uploadUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: jobs.bucket, Key: job.inputKey, ContentType: job.contentType }), {
    expiresIn, signableHeaders: new Set(['content-type']),
  });
  const res = accepted(job, statusCode, replayed);
  return jsonResponse(statusCode, {
    ...(JSON.parse(res.body) as object),
    uploadUrl,
    uploadMethod: 'PUT',
    uploadHeaders: { 'Content-Type': job.contentType },
    uploadExpiresAt: iso(job.uploadExpiresAt!),
  }, res.headers);
}

async function presignGet(bucket: string, key: string, expiresIn: number): Promise<string> {
  const [client, { GetObjectCommand }, { getSignedUrl }] = await Promise.all([presigningClient(), s3Commands(), presigner()]);
  return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn });
}

async function enqueue(jobs: JobsConfig, jobId: string): Promise<void> {
  const [client, { SendMessageCommand }] = await Promise.all([sqsClient(), sqsCommands()]);
  const message: JobMessage = { type: JOB_MESSAGE_TYPE, jobId };
  await client.send(new SendMessageCommand({ QueueUrl: jobs.queueUrl, MessageBody: JSON.stringify(message) }));
}

function requireJobs(service: InferenceService): JobsConfig {
  const jobs = service.config.jobs;
  if (!jobs) {
    throw new NotFoundError('Asynchronous jobs are not enabled on this function: add AsyncInference to it (or set SERVERLESS_TF_JOBS_TABLE, SERVERLESS_TF_JOBS_BUCKET and SERVERLESS_TF_JOBS_QUEUE_URL).');
  }
  return jobs;
}

/**
 * The synchronous route a job runs: the one its path names (/jobs/classify,
 * /jobs/v1/models/{name}:predict, /jobs/v2/models/{name}/infer), or for POST /jobs the
 * one its input is for, told as direct invocation tells it (see routeForInput).
 */
function jobRouteOf(service: InferenceService, req: HttpRequest, upload: UploadRequest | undefined): JobRoute {
  const p = req.path.replace(/\/+$/, '');
  const named: JobRoute | undefined = p === '/jobs/classify' ? 'classify' : p.endsWith(':predict') ? 'predict' : p.endsWith('/infer') ? 'infer' : undefined;
  if (named && upload?.route && upload.route !== named) {
    throw new BadRequestError(`The path names the ${named} route but the upload request says "route": "${upload.route}"; give one.`);
  }
  const route = named ?? upload?.route ?? routeForInput(service, upload ? upload.contentType : req.headers['content-type'], upload ? undefined : req.body);
  if (route === 'classify') service.requireImages();
  return route;
}

/**
 * Images (image/*, multipart, octet-stream, or JSON {"b64": ...}) go to /classify on an
 * image model; KServe V2 JSON (inputs with datatypes) to /infer; everything else (TF
 * Serving JSON, CSV) to :predict. Without a body (uploads), JSON means :predict unless
 * the upload request names "route".
 */
function routeForInput(service: InferenceService, contentType: string | undefined, body: Buffer | undefined): JobRoute {
  const type = mediaType(contentType);
  if (type.startsWith('image/') || type === 'multipart/form-data' || type === 'application/octet-stream') return service.images ? 'classify' : 'predict';
  if (body && (type === '' || type === 'application/json' || type.endsWith('+json'))) {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return 'predict'; // the worker answers the parse error as :predict would
    }
    if (isObject(json) && Array.isArray(json.inputs) && json.inputs.length > 0 && json.inputs.every((x) => isObject(x) && 'datatype' in x)) return 'infer';
    if (service.images && isObject(json) && (typeof json.b64 === 'string' || isObject(json.image))) return 'classify';
  }
  return 'predict';
}

function idempotencyKeyOf(req: HttpRequest): string | undefined {
  const key = req.headers[IDEMPOTENCY_KEY_HEADER];
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new BadRequestError('The Idempotency-Key header must be 1 to 128 visible ASCII characters (a UUID is a good key).');
  }
  return key;
}

/** `{"upload": {"contentType": "image/jpeg"}}` and nothing else is an upload request. */
function uploadRequestOf(req: HttpRequest): UploadRequest | undefined {
  if (mediaType(req.headers['content-type']) !== 'application/json' || req.body.length > MAX_UPLOAD_REQUEST_BYTES) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(body) || Object.keys(body).length !== 1 || !('upload' in body)) return undefined;
  const upload = body.upload;
  if (!isObject(upload) || typeof upload.contentType !== 'string' || upload.contentType.length > 255 || !MEDIA_TYPE.test(upload.contentType)
    || (upload.route !== undefined && !(JOB_ROUTES as readonly unknown[]).includes(upload.route))) {
    throw new BadRequestError(`An upload request is {"upload": {"contentType": "<the Content-Type you will PUT the input with>", "route": "${JOB_ROUTES.join('" | "')}" (optional)}}, e.g. {"upload": {"contentType": "image/jpeg"}}.`);
  }
  return { contentType: upload.contentType, route: upload.route as JobRoute | undefined };
}

function uploadExpired(job: JobItem): boolean {
  return job.uploadExpiresAt !== undefined && epochSeconds() > job.uploadExpiresAt + UPLOAD_GRACE_SECONDS;
}

function iso(epoch: number): string {
  return new Date(epoch * 1000).toISOString();
}
