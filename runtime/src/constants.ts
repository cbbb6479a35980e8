// Names and limits shared by the runtime's modules. The environment variable names
// are the constructs' contract (lib/runtime-environment.ts) and are read from there.
import { RuntimeEnvironment } from '../../lib/runtime-environment';

export const ENV = {
  MODEL_URI: RuntimeEnvironment.MODEL_URI,
  MODEL_FORMAT: RuntimeEnvironment.MODEL_FORMAT,
  MODEL_NAME: RuntimeEnvironment.MODEL_NAME,
  TASK: RuntimeEnvironment.TASK,
  BACKEND: RuntimeEnvironment.BACKEND,
  MAX_BODY_BYTES: RuntimeEnvironment.MAX_BODY_BYTES,
  MAX_IMAGE_PIXELS: RuntimeEnvironment.MAX_IMAGE_PIXELS,
  CACHE_DIR: RuntimeEnvironment.CACHE_DIR,
  OUTPUT_BUCKET: RuntimeEnvironment.OUTPUT_BUCKET,
  OUTPUT_PREFIX: RuntimeEnvironment.OUTPUT_PREFIX,
} as const;

/** Lambda's synchronous invocation payload limit (6 MB), the default body limit. */
export const MAX_BODY_BYTES_DEFAULT = 6 * 1024 * 1024;

/** Largest image accepted before decoding: 40 megapixels (a 6000x6000 photo is 36 MP). */
export const MAX_IMAGE_PIXELS_DEFAULT = 40_000_000;

/** Most instances accepted in one request, to bound a single tensor's size. */
export const MAX_INSTANCES_PER_REQUEST = 1024;

/** Default cache directory for models read from S3: /tmp is Lambda's only writable path. */
export const CACHE_DIR_DEFAULT = '/tmp/serverless-tf/models';

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

/** Model name used when none is configured. */
export const MODEL_NAME_DEFAULT = 'model';
