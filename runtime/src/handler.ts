// The Lambda handler: recognises the event, sends HTTP-shaped events through the router,
// S3 objects through batch inference, SQS batches through Powertools' batch processor
// (partial batch failures), and answers warm-up pings without touching the model.
// It keeps no per-request state outside the call, so concurrent invocations are safe.
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { decodeS3Key, eventKind, fromApiGatewayV1, fromApiGatewayV2, MAX_WARMUP_HOLD_MS, toProxyResponse } from './events';
import { errorResponse, failureResponse } from './http';
import { route } from './routes';
import { isChunkMessage } from './batch/message';
import { s3Client } from './aws-clients';
import { BadRequestError, toHttpError } from './errors';
import { routeOfJson, runJson } from './tasks/dispatch';
import { isObject } from './guards';
import { isJobMessage } from './jobs/job';
import type { InferenceService } from './service';
import type { BatchResult } from './batch/index';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context, S3Event, S3EventRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import type { S3Client } from '@aws-sdk/client-s3';

export type LambdaHandler = (event: unknown, context?: Partial<Context>) => Promise<unknown>;

export interface HandlerOptions {
  /** The S3 client for batch inference. Default: one per process, from the environment. */
  readonly s3?: S3Client;
}

// S3 batch inference and the jobs worker load on their first event, not at init: a function
// that only answers HTTP requests never parses them, and its cold start stays shorter.
const s3Batch = () => import('./batch/index');
const jobsWorker = () => import('./jobs/worker');

export function createHandler(service: InferenceService, options: HandlerOptions = {}): LambdaHandler {
  let coldStart = true;
  const s3 = async () => options.s3 ?? s3Client();
  return async (event, context) => {
    const wasCold = coldStart;
    coldStart = false;
    if (wasCold) service.obs.coldStart();
    const requestId = context?.awsRequestId;
    switch (eventKind(event)) {
      case 'warmup':
        return warmUp(service, event, wasCold);
      case 'apigw-v1':
        return toProxyResponse(await httpOrError(service, () => fromApiGatewayV1(event as APIGatewayProxyEvent)));
      case 'apigw-v2':
        return toProxyResponse(await httpOrError(service, () => fromApiGatewayV2(event as APIGatewayProxyEventV2)));
      case 's3':
        return { results: await processS3Records(service, await s3(), (event as S3Event).Records, requestId) };
      case 'sqs':
        return processSqs(service, await s3(), event as SQSEvent, requestId);
      case 'direct':
        return direct(service, event);
    }
  };
}

async function httpOrError(service: InferenceService, adapt: () => Parameters<typeof route>[1]) {
  let req;
  try {
    req = adapt();
  } catch (err) {
    return errorResponse(err);
  }
  return route(service, req);
}

async function warmUp(service: InferenceService, event: unknown, wasCold: boolean) {
  const hold = isObject(event) && typeof event.holdMs === 'number' ? Math.min(Math.max(0, event.holdMs), MAX_WARMUP_HOLD_MS) : 0;
  if (hold > 0) await sleep(hold);
  return { warm: true, coldStart: wasCold, model: service.modelName, backend: service.backend.name };
}

async function processS3Records(service: InferenceService, s3: S3Client, records: readonly S3EventRecord[], requestId?: string): Promise<BatchResult[]> {
  const results: BatchResult[] = [];
  for (const r of records) {
    if (!r.eventName?.startsWith('ObjectCreated')) continue;
    if (service.config.jobs && await (await jobsWorker()).runUploadedJob(service, r, requestId)) continue;
    const { processS3Object } = await s3Batch();
    const ref = { bucket: r.s3.bucket.name, key: decodeS3Key(r.s3.object.key), etag: r.s3.object.eTag, size: r.s3.object.size };
    const result = await processS3Object(service, s3, ref);
    service.obs.logger.info('Batch object processed', { requestId, ...result });
    results.push(result);
  }
  return results;
}

/**
 * SQS messages carry either an S3 event notification (S3 -> SQS) or an inference
 * request with a result location. A message that fails is reported alone, so the
 * rest of its batch is not replayed.
 */
async function processSqs(service: InferenceService, s3: S3Client, event: SQSEvent, requestId?: string) {
  const processor = new BatchProcessor(EventType.SQS);
  const record = async (msg: SQSRecord) => {
    let body: unknown;
    try {
      body = JSON.parse(msg.body);
    } catch {
      throw new BadRequestError(`SQS message ${msg.messageId} is not JSON.`);
    }
    if (isObject(body) && body.Event === 's3:TestEvent') return { skipped: 's3:TestEvent' };
    if (isJobMessage(body)) return (await jobsWorker()).runJobMessage(service, body, requestId);
    if (isChunkMessage(body)) {
      const result = await (await s3Batch()).processChunkMessage(service, s3, body);
      service.obs.logger.info('Batch chunk processed', { requestId, ...result });
      return result;
    }
    if (isObject(body) && Array.isArray(body.Records)) {
      return processS3Records(service, s3, body.Records as S3EventRecord[], requestId);
    }
    throw new BadRequestError(`SQS message ${msg.messageId} is neither an S3 event notification nor a known job.`);
  };
  return processPartialResponse(event, record, processor, { context: undefined as never });
}

/**
 * Direct invocation with a JSON body: TF Serving or KServe V2 shapes, or `{"b64": ...}`
 * for an image. Client errors come back as `{statusCode, error}`; server errors throw,
 * so asynchronous invocations are retried and reach their failure destination.
 */
async function direct(service: InferenceService, event: unknown) {
  const route = routeOfJson(event);
  try {
    return await runJson(service, route, event ?? null);
  } catch (err) {
    const res = failureResponse(service.obs, err, { invocation: 'direct', route });
    const { message } = toHttpError(err);
    if (res.statusCode >= 500) {
      const thrown = new Error(message);
      thrown.name = res.errorKind ?? 'InferenceError';
      throw thrown;
    }
    return { statusCode: res.statusCode, error: message };
  }
}
