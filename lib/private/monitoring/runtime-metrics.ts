// What the monitoring constructs read of the runtime's CloudWatch metrics: the names come from
// lib/runtime-contract.ts, which the runtime imports too (observability.ts, errors.ts).
//
import { RuntimeErrorKind, RuntimeMetrics } from '../../runtime-contract';

// Powertools' singleMetric() publishes each value with exactly one dimension set:
// [service, model] (the default dimensions; `service` is POWERTOOLS_SERVICE_NAME, which
// TensorFlowFunction sets to its serviceName, unique per function), plus `errorKind` for Errors. A CloudWatch
// Metric matches only with that exact set, so every runtime metric here carries it.

/** The namespace TensorFlowFunction sets as POWERTOOLS_METRICS_NAMESPACE. */
export const RUNTIME_NAMESPACE = RuntimeMetrics.NAMESPACE;

/** Metric names the runtime emits. */
export const RUNTIME_METRIC = {
  COLD_START: RuntimeMetrics.COLD_START,
  MODEL_LOAD_TIME: RuntimeMetrics.MODEL_LOAD_TIME,
  INFERENCE_TIME: RuntimeMetrics.INFERENCE_TIME,
  BATCH_SIZE: RuntimeMetrics.BATCH_SIZE,
  ERRORS: RuntimeMetrics.ERRORS,
  BATCH_ROWS: RuntimeMetrics.BATCH_ROWS,
  BATCH_FAILED_ROWS: RuntimeMetrics.BATCH_FAILED_ROWS,
} as const;

/** The `errorKind` dimension values of the Errors metric, one per HTTP error class. */
export const ERROR_KINDS: readonly RuntimeErrorKind[] = Object.values(RuntimeErrorKind);
export type ErrorKindName = RuntimeErrorKind;

/** The dimension set of every runtime metric of one function: its service name (unique in the app) and its model name. */
export function runtimeDimensions(fn: { readonly serviceName: string; readonly modelName: string }): Record<string, string> {
  return { service: fn.serviceName, model: fn.modelName };
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
