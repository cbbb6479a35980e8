// Reads and validates the runtime configuration from the environment, once, at init.
// A bad configuration fails the init phase with a message that names the variable,
// what it holds and what it should hold: that is a deployment error, not a request error.
import {
  CACHE_DIR_DEFAULT, ENV, MAX_BODY_BYTES_DEFAULT, MAX_IMAGE_PIXELS_DEFAULT, MODEL_NAME_DEFAULT,
} from './constants';
import { RESIZE_METHODS } from './task-config';
import type { Normalization, TaskConfig } from './task-config';

export const MODEL_FORMATS = ['auto', 'graph', 'layers', 'saved_model'] as const;
export type ModelFormatSetting = (typeof MODEL_FORMATS)[number];

export const BACKEND_SETTINGS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendSetting = (typeof BACKEND_SETTINGS)[number];

export interface RuntimeConfig {
  readonly modelUri: string;
  readonly modelFormat: ModelFormatSetting;
  readonly modelName: string;
  readonly task: TaskConfig;
  readonly backend: BackendSetting;
  readonly maxBodyBytes: number;
  readonly maxImagePixels: number;
  readonly cacheDir: string;
  readonly outputBucket?: string;
  readonly outputPrefix: string;
}

export class ConfigurationError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

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
    modelName: modelName(env[ENV.MODEL_NAME] ?? MODEL_NAME_DEFAULT),
    task: parseTaskConfig(taskJson ?? '{"type":"tensor"}', ENV.TASK),
    backend: oneOf(ENV.BACKEND, env[ENV.BACKEND] ?? 'auto', BACKEND_SETTINGS),
    maxBodyBytes: positiveInt(ENV.MAX_BODY_BYTES, env[ENV.MAX_BODY_BYTES], MAX_BODY_BYTES_DEFAULT),
    maxImagePixels: positiveInt(ENV.MAX_IMAGE_PIXELS, env[ENV.MAX_IMAGE_PIXELS], MAX_IMAGE_PIXELS_DEFAULT),
    cacheDir: env[ENV.CACHE_DIR] ?? CACHE_DIR_DEFAULT,
    outputBucket: env[ENV.OUTPUT_BUCKET] || undefined,
    outputPrefix: env[ENV.OUTPUT_PREFIX] ?? 'predictions/',
  };
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
      for (const flag of ['alignCorners', 'halfPixelCenters', 'softmax'] as const) {
        if (value[flag] !== undefined && typeof value[flag] !== 'boolean') throw new ConfigurationError(`${source}.${flag} must be true or false; got ${JSON.stringify(value[flag])}.`);
      }
      validateNormalization(value.normalization, (value.channels as number | undefined) ?? 3, source);
      validateLabels(value.labels, source);
      validateTopK(value.topK, source);
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
      return value as unknown as TaskConfig;
    }
    case 'tensor':
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

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigurationError(`${name} must be one of ${allowed.join(', ')}; got "${value}".`);
  }
  return value as T;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigurationError(`${name} must be a positive whole number; got "${value}".`);
  return n;
}

function modelName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new ConfigurationError(`${ENV.MODEL_NAME} must be 1-128 letters, digits, '.', '_' or '-' (it appears in URLs); got "${name}".`);
  }
  return name;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
