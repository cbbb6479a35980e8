// The Lambda handler: recognises the event, sends HTTP-shaped events through the router,
// S3 objects through batch inference, SQS batches through Powertools' batch processor
// (partial batch failures), and answers warm-up pings without touching the model.
// It keeps no per-request state outside the call, so concurrent invocations are safe. After
// a backend fault (a WebAssembly trap) the Lambda entry has it end the process once answered.
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { eventKind, s3RecordObject, fromApiGatewayV1, fromApiGatewayV2, MAX_WARMUP_HOLD_MS, toProxyResponse } from './events';
import { errorResponse, failureResponse } from './http';
import { route } from './routes';
import { isChunkMessage } from './batch/message';
import { s3Client } from './aws-clients';
import { BadRequestError, ERROR_KIND, toHttpError } from './errors';
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
  /**
   * End the process once the backend has failed and the invocations in flight are answered,
   * so that Lambda replaces the execution environment (the Lambda entry sets it).
   * Default: false, the process goes on (tests, embedding).
   */
  readonly exitOnBackendFault?: boolean;
}

/**
 * How many turns of the event loop after the handler's promise settles the process ends.
 * The runtime interface client posts the answer one turn after the promise settles
 * (aws-lambda-ric 4 and Lambda's Node.js runtime: `await setImmediate`, then a synchronous
 * POST to the Runtime API), then asks for the next invocation, which blocks in the thread
 * pool. Ending the process on the turn after that ends it with the answer out and before
 * Lambda freezes the environment. A timer would not do: Lambda freezes the environment as
 * soon as the next invocation is asked for, and the timer would fire only on the thaw,
 * inside the next invocation.
 */
export const BACKEND_FAULT_EXIT_TURNS = 2;

// S3 batch inference and the jobs worker load on their first event, not at init: a function
// that only answers HTTP requests never parses them, and its cold start stays shorter.
const s3Batch = () => import('./batch/index');
const jobsWorker = () => import('./jobs/worker');

export function createHandler(service: InferenceService, options: HandlerOptions = {}): LambdaHandler {
  let coldStart = true;
  let inFlight = 0;
  let exiting = false;
  const s3 = async () => options.s3 ?? s3Client();
  const invoke: LambdaHandler = async (event, context) => {
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
  // Lambda Managed Instances run several invocations at once: the last one out ends the process.
  const exitAfterAnswering = () => {
    const fault = service.backendFault;
    if (!options.exitOnBackendFault || !fault || inFlight > 0 || exiting) return;
    exiting = true;
    service.obs.logger.critical('Exiting once the answer is posted, so that Lambda replaces this execution environment (the TensorFlow backend failed)', { error: fault.error });
    afterTurns(BACKEND_FAULT_EXIT_TURNS, () => {
      // An invocation that arrived meanwhile (it answers 503 at once) is answered first.
      exiting = false;
      if (inFlight === 0) endProcess();
    });
  };
  return async (event, context) => {
    inFlight++;
    try {
      return await invoke(event, context);
    } finally {
      inFlight--;
      exitAfterAnswering();
    }
  };
}

/** Runs `fn` after `turns` turns of the event loop (the check phase of each). */
function afterTurns(turns: number, fn: () => void): void {
  setImmediate(() => (turns > 1 ? afterTurns(turns - 1, fn) : fn()));
}

/**
 * Ends the process at once. Not process.exit(): at exit libuv joins its thread pool, where
 * the runtime client's long poll for the next invocation blocks until one arrives, so the
 * process would live on until then and die during that invocation. SIGKILL ends it while
 * no invocation is in flight, and Lambda starts a fresh execution environment for the next
 * one. (Logs are already out: stdout to a pipe is written synchronously.)
 */
function endProcess(): void {
  process.kill(process.pid, 'SIGKILL');
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

/** A record of an S3 event that names no object we can read: it fails alone, its neighbours are processed. */
export interface S3RecordFailure {
  /** The record's index in the event's Records. */
  readonly record: number;
  readonly error: string;
}

async function processS3Records(service: InferenceService, s3: S3Client, records: readonly S3EventRecord[], requestId?: string): Promise<(BatchResult | S3RecordFailure)[]> {
  const results: (BatchResult | S3RecordFailure)[] = [];
  for (const [i, r] of records.entries()) {
    const eventName: unknown = isObject(r) ? r.eventName : undefined;
    if (typeof eventName !== 'string' || !eventName.startsWith('ObjectCreated')) continue;
    let ref;
    try {
      ref = s3RecordObject(r);
    } catch (err) {
      const failure = { record: i, error: toHttpError(err).message };
      service.obs.error(ERROR_KIND.BAD_REQUEST);
      service.obs.logger.warn('S3 event record rejected', { requestId, ...failure });
      results.push(failure);
      continue;
    }
    if (service.config.jobs && await (await jobsWorker()).runUploadedJob(service, r, requestId)) continue;
    const { processS3Object } = await s3Batch();
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
      const results = await processS3Records(service, s3, body.Records as S3EventRecord[], requestId);
      // A record that names no readable object makes its message a batch item failure (to the queue's DLQ).
      const failed = results.filter((r): r is S3RecordFailure => 'error' in r);
      if (failed.length) throw new BadRequestError(`SQS message ${msg.messageId}: ${failed.map((f) => `record ${f.record}: ${f.error}`).join(' ')}`);
      return results;
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
