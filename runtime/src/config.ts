// Reads and validates the runtime configuration from the environment, once, at init.
// A bad configuration fails the init phase with a message that names the variable,
// what it holds and what it should hold: that is a deployment error, not a request error.
import {
  CACHE_DIR_DEFAULT, ENV, JOBS_TTL_DAYS_DEFAULT, MAX_RESPONSE_BYTES_DEFAULT, MAX_RESPONSE_BYTES_ENV, JOBS_UPLOAD_EXPIRY_SECONDS_DEFAULT, JOBS_UPLOAD_EXPIRY_SECONDS_MAX, MAX_BODY_BYTES_DEFAULT, MAX_IMAGE_PIXELS_DEFAULT, MODEL_NAME_DEFAULT, IMAGE_BYTES_PER_PIXEL, IMAGE_MEMORY_SHARE,
} from './constants';
import { BATCH_CHUNK_BYTES_DEFAULT, BATCH_CHUNK_BYTES_MIN, BATCH_ROWS_DEFAULT, MAX_INSTANCES_PER_REQUEST } from './constants';
import { ConfigurationError } from './errors';
import { isObject } from './guards';
import { RESIZE_METHODS } from './task-config';
import { RuntimeEnvironment } from '../../lib/runtime-environment';
import type { Normalization, TaskConfig } from './task-config';

export const MODEL_FORMATS = ['auto', 'graph', 'layers', 'saved_model'] as const;
export type ModelFormatSetting = (typeof MODEL_FORMATS)[number];

export const BACKEND_SETTINGS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendSetting = (typeof BACKEND_SETTINGS)[number];

export interface RuntimeConfig {
  readonly modelUri: string;
  readonly modelFormat: ModelFormatSetting;
  /**
   * The TF.js model file in the model folder when it is not model.json (SERVERLESS_TF_MODEL_FILE):
   * a file name ending in .json. Unset: model.json.
   */
  readonly modelFile?: string;
  readonly modelName: string;
  readonly task: TaskConfig;
  readonly backend: BackendSetting;
  readonly maxBodyBytes: number;
  /**
   * The largest answer to an HTTP request, in bytes, as Lambda counts it (the proxy answer's
   * JSON). Unset: MAX_RESPONSE_BYTES_DEFAULT, Lambda's 6 MB.
   */
  readonly maxResponseBytes?: number;
  readonly maxImagePixels: number;
  readonly cacheDir: string;
  readonly outputBucket?: string;
  readonly outputPrefix: string;
  /** S3 batch: a DynamoDB table that every predicted row is written to as well (keys `pk`, `sk`); unset, S3 only. */
  readonly outputTable?: string;
  /** S3 batch: the queue that carries the chunks of large inputs; unset, chunks run in the invocation that planned them. */
  readonly batchQueueUrl?: string;
  /** S3 batch: inputs larger than this many bytes are split into chunks of about this size. */
  readonly batchChunkBytes: number;
  /** S3 batch: rows per tensor call while an input is streamed. */
  readonly batchRows: number;
  /**
   * Request coalescing (TF Serving's dynamic batching): most rows that concurrent requests
   * share in one model call; 1 is off. 'auto' (or unset) decides by backend
   * (resolveCoalescing in coalescing/queue.ts).
   */
  readonly coalesceMaxRows?: CoalesceSetting;
  /** Request coalescing: longest wait in ms for a group to fill. 'auto' (or unset): the default. */
  readonly coalesceMaxWaitMs?: CoalesceSetting;
  /** Deprecated settings read at init, each with what replaces it: logged as warnings. */
  readonly deprecations?: readonly string[];
  /** Asynchronous jobs (POST /jobs); undefined when the function is not set up for them. */
  readonly jobs?: JobsConfig;
  /** Origins allowed to read answers from browsers ('*' for any); undefined: no CORS headers. */
  readonly corsAllowOrigins?: readonly string[];
}

/** Where asynchronous jobs live: the AsyncInference construct sets these. */
export interface JobsConfig {
  /** DynamoDB table, partition key `pk` (string), TTL attribute `expiresAt`. */
  readonly table: string;
  /** S3 bucket for job inputs, uploads and results (under `jobs/`). */
  readonly bucket: string;
  /** SQS queue that carries job messages (and upload notifications) to the function. */
  readonly queueUrl: string;
  readonly topicArn?: string;
  readonly eventBus?: string;
  readonly ttlDays: number;
  /** How long a presigned upload URL is valid, in seconds. */
  readonly uploadExpirySeconds: number;
}

/** A coalescing setting: a number, or 'auto' to decide by backend. */
export type CoalesceSetting = number | 'auto';

/** Largest accepted SERVERLESS_TF_COALESCE_MAX_ROWS: one request may carry this many instances too. */
export const COALESCE_MAX_ROWS_LIMIT = 1024;
/** Largest accepted SERVERLESS_TF_COALESCE_MAX_WAIT_MS: longer would only add latency. */
export const COALESCE_MAX_WAIT_MS_LIMIT = 1000;

type Env = Record<string, string | undefined>;

/** Builds the configuration from environment variables (the constructs' contract). */
export function configFromEnv(env: Env = process.env): RuntimeConfig {
  const modelUri = env[ENV.MODEL_URI];
  if (!modelUri) {
    throw new ConfigurationError(`${ENV.MODEL_URI} is not set: set it to the model's folder (containing model.json or saved_model.pb) or to an s3://bucket/prefix/ URI.`);
  }
  const taskJson = env[ENV.TASK];
  return {
    modelUri,
    modelFormat: oneOf(ENV.MODEL_FORMAT, env[ENV.MODEL_FORMAT] ?? 'auto', MODEL_FORMATS),
    modelFile: env[ENV.MODEL_FILE] ? modelFile(env[ENV.MODEL_FILE]!) : undefined,
    modelName: modelName(env[ENV.MODEL_NAME] ?? MODEL_NAME_DEFAULT),
    task: parseTaskConfig(taskJson ?? '{"type":"tensor"}', ENV.TASK),
    backend: oneOf(ENV.BACKEND, env[ENV.BACKEND] ?? 'auto', BACKEND_SETTINGS),
    maxBodyBytes: positiveInt(ENV.MAX_BODY_BYTES, env[ENV.MAX_BODY_BYTES], MAX_BODY_BYTES_DEFAULT),
    maxResponseBytes: env[MAX_RESPONSE_BYTES_ENV] ? positiveInt(MAX_RESPONSE_BYTES_ENV, env[MAX_RESPONSE_BYTES_ENV], MAX_RESPONSE_BYTES_DEFAULT) : undefined,
    maxImagePixels: positiveInt(ENV.MAX_IMAGE_PIXELS, env[ENV.MAX_IMAGE_PIXELS], defaultMaxImagePixels(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE)),
    cacheDir: env[ENV.CACHE_DIR] ?? CACHE_DIR_DEFAULT,
    outputBucket: env[ENV.OUTPUT_BUCKET] || undefined,
    outputPrefix: env[ENV.OUTPUT_PREFIX] ?? 'predictions/',
    outputTable: env[ENV.OUTPUT_TABLE] || undefined,
    batchQueueUrl: env[ENV.BATCH_QUEUE_URL] || undefined,
    batchChunkBytes: intInRange(ENV.BATCH_CHUNK_BYTES, env[ENV.BATCH_CHUNK_BYTES], BATCH_CHUNK_BYTES_DEFAULT, BATCH_CHUNK_BYTES_MIN, Number.MAX_SAFE_INTEGER),
    batchRows: intInRange(ENV.BATCH_ROWS, env[ENV.BATCH_ROWS], BATCH_ROWS_DEFAULT, 1, MAX_INSTANCES_PER_REQUEST),
    ...coalescingFromEnv(env),
    jobs: jobsFromEnv(env),
    corsAllowOrigins: corsOrigins(env[ENV.CORS_ALLOW_ORIGINS]),
  };
}

function corsOrigins(value: string | undefined): readonly string[] | undefined {
  const origins = (value ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of origins) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new ConfigurationError(`${ENV.CORS_ALLOW_ORIGINS} must list origins such as https://app.example.com (scheme and host, no path), or *; got "${o}".`);
    }
  }
  return origins.length ? origins : undefined;
}

/** Jobs are on when the table, the bucket and the queue are all named; some but not all is a deployment error. */
function jobsFromEnv(env: Env): JobsConfig | undefined {
  const required = [ENV.JOBS_TABLE, ENV.JOBS_BUCKET, ENV.JOBS_QUEUE_URL] as const;
  const missing = required.filter((name) => !env[name]);
  if (missing.length === required.length) return undefined;
  if (missing.length > 0) {
    throw new ConfigurationError(`Asynchronous jobs need ${required.join(', ')} together; ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set.`);
  }
  return {
    table: env[ENV.JOBS_TABLE]!,
    bucket: env[ENV.JOBS_BUCKET]!,
    queueUrl: env[ENV.JOBS_QUEUE_URL]!,
    topicArn: env[ENV.JOBS_TOPIC_ARN] || undefined,
    eventBus: env[ENV.JOBS_EVENT_BUS] || undefined,
    ttlDays: positiveInt(ENV.JOBS_TTL_DAYS, env[ENV.JOBS_TTL_DAYS], JOBS_TTL_DAYS_DEFAULT),
    uploadExpirySeconds: uploadExpiry(env[ENV.JOBS_UPLOAD_EXPIRY_SECONDS]),
  };
}

function uploadExpiry(value: string | undefined): number {
  const seconds = positiveInt(ENV.JOBS_UPLOAD_EXPIRY_SECONDS, value, JOBS_UPLOAD_EXPIRY_SECONDS_DEFAULT);
  if (seconds > JOBS_UPLOAD_EXPIRY_SECONDS_MAX) {
    throw new ConfigurationError(`${ENV.JOBS_UPLOAD_EXPIRY_SECONDS} must be at most ${JOBS_UPLOAD_EXPIRY_SECONDS_MAX} (12 hours: a presigned URL ends with the role session that signed it); got "${value}".`);
  }
  return seconds;
}

/** The defaults for everything but the model and the task, for callers that build a config in code. */
export function configWithDefaults(config: Pick<RuntimeConfig, 'modelUri' | 'task'> & Partial<RuntimeConfig>): RuntimeConfig {
  return {
    modelFormat: 'auto',
    modelName: MODEL_NAME_DEFAULT,
    backend: 'auto',
    maxBodyBytes: MAX_BODY_BYTES_DEFAULT,
    maxImagePixels: MAX_IMAGE_PIXELS_DEFAULT,
    cacheDir: CACHE_DIR_DEFAULT,
    outputPrefix: 'predictions/',
    batchChunkBytes: BATCH_CHUNK_BYTES_DEFAULT,
    batchRows: BATCH_ROWS_DEFAULT,
    coalesceMaxRows: 'auto',
    coalesceMaxWaitMs: 'auto',
    ...config,
    task: validateTaskConfig(config.task, 'task'),
  };
}

/** Parses and validates a task configuration given as JSON text. */
export function parseTaskConfig(json: string, source: string): TaskConfig {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ConfigurationError(`${source} is not valid JSON (${(err as Error).message}). Example: {"type":"image-classification","inputSize":224,"labels":["cat","dog"]}`);
  }
  return validateTaskConfig(value, source);
}

export function validateTaskConfig(value: unknown, source: string): TaskConfig {
  if (!isObject(value)) throw new ConfigurationError(`${source} must be a JSON object with a "type".`);
  const type = value.type;
  switch (type) {
    case 'image-classification': {
      const size = value.inputSize;
      const sizes = Array.isArray(size) ? size : [size];
      if (!(sizes.length === 1 || sizes.length === 2) || !sizes.every((n) => Number.isInteger(n) && (n as number) > 0 && (n as number) <= 8192)) {
        throw new ConfigurationError(`${source}.inputSize must be a positive integer up to 8192 or [height, width]; got ${JSON.stringify(size)}.`);
      }
      if (value.channels !== undefined && value.channels !== 1 && value.channels !== 3) {
        throw new ConfigurationError(`${source}.channels must be 1 or 3; got ${JSON.stringify(value.channels)}.`);
      }
      if (value.resize !== undefined && !(RESIZE_METHODS as readonly unknown[]).includes(value.resize)) {
        throw new ConfigurationError(`${source}.resize must be one of ${RESIZE_METHODS.join(', ')}; got ${JSON.stringify(value.resize)}.`);
      }
      for (const flag of ['alignCorners', 'halfPixelCenters', 'ignoreIccProfile', 'softmax'] as const) {
        if (value[flag] !== undefined && typeof value[flag] !== 'boolean') throw new ConfigurationError(`${source}.${flag} must be true or false; got ${JSON.stringify(value[flag])}.`);
      }
      validateNormalization(value.normalization, (value.channels as number | undefined) ?? 3, source);
      validateLabels(value.labels, source);
      validateTopK(value.topK, source);
      validateWarmUp(value.warmUp, source, false);
      return value as unknown as TaskConfig;
    }
    case 'tabular': {
      const features = value.features;
      if (!Array.isArray(features) || features.length === 0 || !features.every((f) => typeof f === 'string' && f.length > 0)) {
        throw new ConfigurationError(`${source}.features must be a non-empty array of feature names, in the order of the model's input vector.`);
      }
      if (new Set(features).size !== features.length) {
        throw new ConfigurationError(`${source}.features has duplicate names: ${JSON.stringify(features)}.`);
      }
      if (value.labels !== undefined && value.outputNames !== undefined) {
        throw new ConfigurationError(`${source}: give labels (a classifier) or outputNames (a regressor), not both.`);
      }
      validateLabels(value.labels, source);
      validateLabels(value.outputNames, source, 'outputNames');
      validateTopK(value.topK, source);
      validateWarmUp(value.warmUp, source, false);
      return value as unknown as TaskConfig;
    }
    case 'tensor':
      validateWarmUp(value.warmUp, source, true);
      return value as unknown as TaskConfig;
    default:
      throw new ConfigurationError(`${source}.type must be "image-classification", "tabular" or "tensor"; got ${JSON.stringify(type)}.`);
  }
}

function validateNormalization(n: unknown, channels: number, source: string): asserts n is Normalization | undefined {
  if (n === undefined || n === 'zero-one' || n === 'minus-one-one' || n === 'none') return;
  if (isObject(n) && Array.isArray(n.mean) && Array.isArray(n.std)
    && n.mean.length === channels && n.std.length === channels
    && n.mean.every((x) => typeof x === 'number') && n.std.every((x) => typeof x === 'number' && x > 0)) return;
  throw new ConfigurationError(`${source}.normalization must be "zero-one", "minus-one-one", "none" or {"mean":[...],"std":[...]} with ${channels} values each (std > 0); got ${JSON.stringify(n)}.`);
}

/** `warmUp`: false, or {"inputs": {"<input>": [shape]}} (tensor tasks: the others know their input). */
function validateWarmUp(warmUp: unknown, source: string, shapes: boolean): void {
  if (warmUp === undefined || warmUp === false) return;
  const example = '{"warmUp": false} or {"warmUp": {"inputs": {"input_ids": [1, 128]}}}';
  if (!isObject(warmUp) || Object.keys(warmUp).some((k) => k !== 'inputs')) {
    throw new ConfigurationError(`${source}.warmUp must be false (no warm-up) or {"inputs": {...}}; got ${JSON.stringify(warmUp)}. Example: ${example}.`);
  }
  if (warmUp.inputs === undefined) return;
  if (!shapes) {
    throw new ConfigurationError(`${source}.warmUp.inputs is for tensor tasks: this task warms up on an input of its own size. Use {"warmUp": false} to turn the warm-up off.`);
  }
  const inputs = warmUp.inputs;
  const fits = (s: unknown) => Array.isArray(s) && s.length <= 32 && s.every((d) => Number.isSafeInteger(d) && (d as number) >= 1 && (d as number) <= 65536)
    && s.reduce((n: number, d: number) => n * d, 1) <= 100_000_000;
  if (!isObject(inputs) || !Object.values(inputs).every(fits)) {
    throw new ConfigurationError(`${source}.warmUp.inputs must map input names to shapes of whole numbers from 1 to 65536 (batch dimension included, at most 100,000,000 values); got ${JSON.stringify(inputs)}. Example: ${example}.`);
  }
}

function validateLabels(labels: unknown, source: string, name = 'labels'): void {
  if (labels === undefined) return;
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
    throw new ConfigurationError(`${source}.${name} must be a non-empty array of strings.`);
  }
}

function validateTopK(topK: unknown, source: string): void {
  if (topK === undefined) return;
  if (!Number.isInteger(topK) || (topK as number) < 1) {
    throw new ConfigurationError(`${source}.topK must be a positive integer; got ${JSON.stringify(topK)}.`);
  }
}

export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigurationError(`${name} must be one of ${allowed.join(', ')}; got "${value}".`);
  }
  return value as T;
}

/**
 * The default pixel limit: under Lambda, what IMAGE_MEMORY_SHARE of the function's memory
 * holds at IMAGE_BYTES_PER_PIXEL (at most MAX_IMAGE_PIXELS_DEFAULT, at least 1 MP); elsewhere
 * (the local server, tests) MAX_IMAGE_PIXELS_DEFAULT.
 */
export function defaultMaxImagePixels(memoryMb: string | undefined): number {
  const mb = Number(memoryMb);
  if (!memoryMb || !Number.isFinite(mb) || mb <= 0) return MAX_IMAGE_PIXELS_DEFAULT;
  const pixels = Math.floor((mb * 1024 * 1024 * IMAGE_MEMORY_SHARE) / IMAGE_BYTES_PER_PIXEL);
  return Math.max(1_000_000, Math.min(MAX_IMAGE_PIXELS_DEFAULT, pixels));
}

export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigurationError(`${name} must be a positive whole number; got "${value}".`);
  return n;
}

/**
 * The coalescing settings, from SERVERLESS_TF_COALESCE_MAX_ROWS and _MAX_WAIT_MS, or from the
 * names they had before (SERVERLESS_TF_BATCH_MAX_SIZE, _BATCH_MAX_WAIT_MS), which still work
 * with a deprecation warning; the new name wins when both are set.
 */
function coalescingFromEnv(env: Env): Pick<RuntimeConfig, 'coalesceMaxRows' | 'coalesceMaxWaitMs' | 'deprecations'> {
  const deprecations: string[] = [];
  const read = (name: string, old: string, min: number, max: number): CoalesceSetting => {
    if (env[name] === undefined && env[old] !== undefined) {
      deprecations.push(`${old} is deprecated: set ${name} instead (same values).`);
      return coalesceSetting(old, env[old], min, max);
    }
    return coalesceSetting(name, env[name], min, max);
  };
  const coalesceMaxRows = read(RuntimeEnvironment.COALESCE_MAX_ROWS, RuntimeEnvironment.BATCH_MAX_SIZE, 1, COALESCE_MAX_ROWS_LIMIT);
  const coalesceMaxWaitMs = read(RuntimeEnvironment.COALESCE_MAX_WAIT_MS, RuntimeEnvironment.BATCH_MAX_WAIT_MS, 0, COALESCE_MAX_WAIT_MS_LIMIT);
  return { coalesceMaxRows, coalesceMaxWaitMs, ...(deprecations.length ? { deprecations } : {}) };
}

/** 'auto' (or unset), or a whole number in [min, max]. */
export function coalesceSetting(name: string, value: string | undefined, min: number, max: number): CoalesceSetting {
  if (value === undefined || value.trim() === '' || value.trim() === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigurationError(`${name} must be "auto" or a whole number from ${min} to ${max}; got "${value}".`);
  }
  return n;
}

/** A whole number in [min, max], or the fallback when unset. */
function intInRange(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigurationError(`${name} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}; got "${value}".`);
  }
  return n;
}

/**
 * A model file setting: the name of a .json file in the model folder (no folder part: point
 * the model URI at the folder that holds it, whose weight files sit beside it).
 */
export function modelFile(file: string, source: string = ENV.MODEL_FILE): string {
  if (/[\\/]/.test(file) || file.includes('\0') || !/^.+\.json$/i.test(file)) {
    throw new ConfigurationError(`${source} must be the name of the TF.js model file in the model folder, ending in .json, without a folder (e.g. "blazeface.json"; point the model at the folder that holds it); got ${JSON.stringify(file)}.`);
  }
  return file;
}

export function modelName(name: string, source: string = ENV.MODEL_NAME): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new ConfigurationError(`${source} must be 1-128 letters, digits, '.', '_' or '-' (it appears in URLs); got "${name}".`);
  }
  return name;
}
