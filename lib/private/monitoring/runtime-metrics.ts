// What the runtime publishes as CloudWatch embedded metrics (runtime/src/observability.ts and
// runtime/src/errors.ts), restated for the monitoring constructs: lib/ cannot import the
// runtime package. test/inference-monitoring.test.ts checks these against the runtime source.
//
// Powertools' singleMetric() publishes each value with exactly one dimension set:
// [service, model] (the default dimensions; `service` is POWERTOOLS_SERVICE_NAME, which
// TensorFlowFunction sets to the model name), plus `errorKind` for Errors. A CloudWatch
// Metric matches only with that exact set, so every runtime metric here carries it.

/** The namespace TensorFlowFunction sets as POWERTOOLS_METRICS_NAMESPACE. */
export const RUNTIME_NAMESPACE = 'ServerlessTensorFlow';

/** Metric names the runtime emits. */
export const RUNTIME_METRIC = {
  COLD_START: 'ColdStart',
  MODEL_LOAD_TIME: 'ModelLoadTime',
  INFERENCE_TIME: 'InferenceTime',
  BATCH_SIZE: 'BatchSize',
  ERRORS: 'Errors',
  /** Rows (CSV rows, JSON lines, images) read by a chunk of S3 batch inference, once the chunk is done. */
  BATCH_ROWS: 'BatchRows',
  /** Of those, the rows written to the chunk's errors file. */
  BATCH_FAILED_ROWS: 'BatchFailedRows',
} as const;

/** The `errorKind` dimension values of the Errors metric, one per HTTP error class. */
export const ERROR_KINDS = [
  'BadRequest',
  'NotFound',
  'PayloadTooLarge',
  'UnsupportedMediaType',
  'Unprocessable',
  'OutOfMemory',
  'NotReady',
  'Internal',
] as const;
export type ErrorKindName = (typeof ERROR_KINDS)[number];

/** The dimension set of every runtime metric of one model. */
export function runtimeDimensions(modelName: string): Record<string, string> {
  return { service: modelName, model: modelName };
}

/**
 * What Lambda writes to the function's log when it kills the runtime for exceeding its
 * memory: `Error: Runtime exited with error: signal: killed` and the error type
 * `Runtime.OutOfMemory` (older platform versions say `Runtime.ExitError` instead, so the
 * signal text is matched too). The runtime cannot report this itself: it is already dead.
 */
export const LAMBDA_OOM_LOG_TERMS = ['Runtime.OutOfMemory', 'signal: killed'] as const;

/** Where the log metric filter of Lambda's out-of-memory kills publishes, one metric per function. */
export const LAMBDA_OOM_NAMESPACE = `${RUNTIME_NAMESPACE}/LambdaOutOfMemory`;

/** Namespace of Lambda Managed Instances capacity provider metrics. */
export const CAPACITY_PROVIDER_NAMESPACE = 'AWS/Lambda';
