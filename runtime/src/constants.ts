// Names and limits shared by the runtime's modules. The environment variable names
// are the constructs' contract (lib/runtime-environment.ts) and are read from there.
import { RuntimeEnvironment } from '../../lib/runtime-environment';

export const ENV = {
  MODEL_URI: RuntimeEnvironment.MODEL_URI,
  MODEL_FORMAT: RuntimeEnvironment.MODEL_FORMAT,
  MODEL_FILE: RuntimeEnvironment.MODEL_FILE,
  MODEL_NAME: RuntimeEnvironment.MODEL_NAME,
  TASK: RuntimeEnvironment.TASK,
  BACKEND: RuntimeEnvironment.BACKEND,
  MAX_BODY_BYTES: RuntimeEnvironment.MAX_BODY_BYTES,
  MAX_IMAGE_PIXELS: RuntimeEnvironment.MAX_IMAGE_PIXELS,
  CACHE_DIR: RuntimeEnvironment.CACHE_DIR,
  OUTPUT_BUCKET: RuntimeEnvironment.OUTPUT_BUCKET,
  OUTPUT_PREFIX: RuntimeEnvironment.OUTPUT_PREFIX,
  OUTPUT_TABLE: RuntimeEnvironment.OUTPUT_TABLE,
  CORS_ALLOW_ORIGINS: RuntimeEnvironment.CORS_ALLOW_ORIGINS,
  BATCH_QUEUE_URL: RuntimeEnvironment.BATCH_QUEUE_URL,
  BATCH_CHUNK_BYTES: RuntimeEnvironment.BATCH_CHUNK_BYTES,
  BATCH_ROWS: RuntimeEnvironment.BATCH_ROWS,
  JOBS_TABLE: RuntimeEnvironment.JOBS_TABLE,
  JOBS_BUCKET: RuntimeEnvironment.JOBS_BUCKET,
  JOBS_QUEUE_URL: RuntimeEnvironment.JOBS_QUEUE_URL,
  JOBS_TOPIC_ARN: RuntimeEnvironment.JOBS_TOPIC_ARN,
  JOBS_EVENT_BUS: RuntimeEnvironment.JOBS_EVENT_BUS,
  JOBS_TTL_DAYS: RuntimeEnvironment.JOBS_TTL_DAYS,
  /** Set by AsyncInference (presigned upload URL lifetime). */
  JOBS_UPLOAD_EXPIRY_SECONDS: RuntimeEnvironment.JOBS_UPLOAD_EXPIRY_SECONDS,
} as const;

/** Lambda's synchronous invocation payload limit (6 MB), the default body limit. */
export const MAX_BODY_BYTES_DEFAULT = 6 * 1024 * 1024;

/** The variable that sets the largest answer, in bytes. */
export const MAX_RESPONSE_BYTES_ENV = RuntimeEnvironment.MAX_RESPONSE_BYTES;

/**
 * Lambda's synchronous invocation response limit (6 MB): the largest answer by default,
 * counted as Lambda counts it, the proxy answer's JSON (a binary body in base64). The local
 * server applies it too, as it applies the body limit, so an answer too large for Lambda
 * shows before deployment.
 */
export const MAX_RESPONSE_BYTES_DEFAULT = 6 * 1024 * 1024;

/** Largest image accepted before decoding: 40 megapixels (a 6000x6000 photo is 36 MP). */
export const MAX_IMAGE_PIXELS_DEFAULT = 40_000_000;

/**
 * What one pixel of an image being classified costs the process at its peak: sharp's
 * decoded RGB (3 B), the float32 copy TF.js makes of it (12 B) and the float32 tensor it
 * resizes from (12 B, in the wasm heap, which never shrinks). Measured as the peak resident
 * size over the process's size after init: 10 MP 29 B/pixel, 20 MP 29, 40 MP 27; 32 leaves a
 * margin. (Before the tensor was float32 from the start, 40 MP peaked at 1.87 GB.)
 */
export const IMAGE_BYTES_PER_PIXEL = 32;

/**
 * The share of the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE) that images being
 * decoded and resized may take at once; the rest is for the runtime (about 230 MB), the
 * model and its activations. Under Lambda the default pixel limit is this share over
 * IMAGE_BYTES_PER_PIXEL (1024 MB: 20 MP; 2048 MB and more: 40 MP, MAX_IMAGE_PIXELS_DEFAULT),
 * and the images being decoded at once, across concurrent requests, share that many pixels.
 */
export const IMAGE_MEMORY_SHARE = 0.6;

/**
 * Most scans (SOS markers) a JPEG may have. Encoders write one (baseline) or about ten
 * (progressive: libjpeg's and mozjpeg's scripts); libjpeg decodes the whole coefficient
 * buffer once per scan, so a 6000x6000 file of 95,000 tiny scans takes minutes of CPU and a
 * thread of libuv's pool. Counted before decoding.
 */
export const MAX_JPEG_SCANS = 100;

/**
 * The most time sharp may spend decoding and resizing one image: a second bound after the
 * scan count, for any other input that decodes slowly. Lambda's own timeout is minutes.
 */
export const IMAGE_DECODE_TIMEOUT_SECONDS = 10;

/** Most instances accepted in one request, to bound a single tensor's size. */
export const MAX_INSTANCES_PER_REQUEST = 1024;

/**
 * Most images classified in one request (a TF Serving `:predict` body of `{"b64": ...}`
 * instances). Images cost far more than rows: every image is one model input of the full
 * input size whatever its bytes, and MobileNetV2 at 224x224 on the wasm backend takes about
 * 26 MB of wasm heap per image of a batch (32 images: 1 GB resident; 256 exhaust the 4 GB
 * heap, and the trap that follows breaks the backend for good). Their decoded pixels are
 * bounded as well: all of a request's images together may have at most as many pixels as
 * one image may (SERVERLESS_TF_MAX_IMAGE_PIXELS).
 */
export const MAX_IMAGES_PER_REQUEST = 32;

/**
 * Most dimensions a JSON tensor may have: more than any model input takes, and few enough
 * that checking and flattening the nesting never runs deep (a body nested 100,000 deep is
 * refused, not a stack overflow).
 */
export const MAX_TENSOR_RANK = 32;

/** Default cache directory for models read from S3: /tmp is Lambda's only writable path. */
export const CACHE_DIR_DEFAULT = '/tmp/serverless-tf/models';

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

/** Model name used when none is configured. */
export const MODEL_NAME_DEFAULT = 'model';

/** Days an asynchronous job, its input and its result are kept when JOBS_TTL_DAYS is not set. */
export const JOBS_TTL_DAYS_DEFAULT = 7;

/** How long a presigned upload URL for a job is valid, by default (15 minutes). */
export const JOBS_UPLOAD_EXPIRY_SECONDS_DEFAULT = 15 * 60;

/**
 * The longest upload URL lifetime: a presigned URL stops working when the role session
 * that signed it ends, which on Lambda is hours, not the 7 days SigV4 allows.
 */
export const JOBS_UPLOAD_EXPIRY_SECONDS_MAX = 12 * 60 * 60;

/**
 * Batch inputs larger than this are split into chunks of about this size, one queue message
 * each. 8 MiB is about 400,000 short tabular rows or a few dozen base64 images: seconds of
 * work on one core for small models, so a chunk ends far inside a minutes-long timeout even
 * when a batch of chunk messages shares one invocation.
 */
export const BATCH_CHUNK_BYTES_DEFAULT = 8 * 1024 * 1024;

/** Smallest chunk accepted: below this, messages and requests would outweigh the work. */
export const BATCH_CHUNK_BYTES_MIN = 64 * 1024;

/** Rows per tensor call while a batch input is streamed. */
export const BATCH_ROWS_DEFAULT = 1024;
