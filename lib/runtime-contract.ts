// What the runtime publishes, as CloudWatch embedded metrics, for the monitoring constructs
// and for alarms and dashboards of your own: the namespace, the metric names and the error
// kinds. The runtime (runtime/src/observability.ts and errors.ts) imports this file, as it
// imports runtime-environment.ts for its variables, so the two cannot drift apart.
//
// Every runtime metric of a model carries exactly the dimensions `service` (TensorFlowFunction's
// serviceName, unique per function, set as POWERTOOLS_SERVICE_NAME) and `model`; Errors carries
// `errorKind` as well. A CloudWatch metric matches only with that exact dimension set.

/**
 * The CloudWatch metrics the runtime emits (embedded metric format, through Powertools for
 * AWS Lambda), for alarms and dashboards beyond what InferenceMonitoring creates.
 *
 * @example
 * new cloudwatch.Metric({
 *   namespace: RuntimeMetrics.NAMESPACE,
 *   metricName: RuntimeMetrics.INFERENCE_TIME,
 *   dimensionsMap: { service: fn.serviceName, model: fn.modelName },
 *   statistic: 'p99',
 * });
 */
export class RuntimeMetrics {
  /** The namespace TensorFlowFunction sets as POWERTOOLS_METRICS_NAMESPACE. */
  public static readonly NAMESPACE = 'ServerlessTensorFlow';

  /** Count: an invocation that started a new execution environment. */
  public static readonly COLD_START = 'ColdStart';

  /** Milliseconds: loading and warming the model in the init phase. */
  public static readonly MODEL_LOAD_TIME = 'ModelLoadTime';

  /** Milliseconds: one model call (with request coalescing, one call for several requests). */
  public static readonly INFERENCE_TIME = 'InferenceTime';

  /** Count: the rows (images, tabular rows, tensor instances) of one model call. */
  public static readonly BATCH_SIZE = 'BatchSize';

  /** Count: a request or item that failed, with the dimension `errorKind` (a RuntimeErrorKind). */
  public static readonly ERRORS = 'Errors';

  /** Count: rows (CSV rows, JSON lines, images) read by a chunk of S3 batch inference, once the chunk is done. */
  public static readonly BATCH_ROWS = 'BatchRows';

  /** Count: of those, the rows written to the chunk's errors file. */
  public static readonly BATCH_FAILED_ROWS = 'BatchFailedRows';

  /** The dimension of the Errors metric that holds a RuntimeErrorKind. */
  public static readonly ERROR_KIND_DIMENSION = 'errorKind';

  private constructor() {}
}

/**
 * Why a request failed: the `errorKind` dimension of the Errors metric, one per kind of
 * HTTP error the runtime answers.
 */
export enum RuntimeErrorKind {
  /** 400: the body or event cannot be parsed. */
  BAD_REQUEST = 'BadRequest',
  /** 404 (and 405): no such model or route. */
  NOT_FOUND = 'NotFound',
  /** 413: the body is over the limit, or an image has too many pixels. */
  PAYLOAD_TOO_LARGE = 'PayloadTooLarge',
  /** 415: a content type the route does not read. */
  UNSUPPORTED_MEDIA_TYPE = 'UnsupportedMediaType',
  /** 422: well-formed, but the wrong shape, type or features for the model. */
  UNPROCESSABLE = 'Unprocessable',
  /** 503: out of memory (host, wasm heap or GPU). */
  OUT_OF_MEMORY = 'OutOfMemory',
  /** 503: the model is not loaded yet. */
  NOT_READY = 'NotReady',
  /** 500: anything else; the function's log has the details. */
  INTERNAL = 'Internal',
}
