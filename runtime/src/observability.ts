// Structured logs and CloudWatch embedded metrics through Powertools for AWS Lambda.
// Metrics are emitted one at a time because one process may serve many invocations at once:
// a buffer published at the end of an invocation would mix requests. One Metrics instance in
// single-metric mode publishes each addMetric at once, with the dimensions added just before
// it (then cleared); both calls are synchronous, so no other request can come between them.
// (metrics.singleMetric() would build a new instance per value: about 30 us each, against
// 2-5 us.)
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { RuntimeMetrics } from '../../lib/runtime-contract';
import type { ErrorKind } from './errors';

export const SERVICE_NAME_DEFAULT = 'serverless-tf';
/** The namespace and metric names are the contract with the monitoring constructs (lib/runtime-contract.ts). */
export const METRICS_NAMESPACE_DEFAULT = RuntimeMetrics.NAMESPACE;

export interface Observability {
  readonly logger: Logger;
  coldStart(): void;
  modelLoaded(ms: number, extra: Record<string, string>): void;
  inference(ms: number, batchSize: number): void;
  error(kind: ErrorKind): void;
  /** One chunk of an S3 batch input done: the rows (lines, images) it read, and of those the ones in its errors file. */
  batchChunk(rows: number, failedRows: number): void;
}

export function createObservability(modelName: string): Observability {
  const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME_DEFAULT;
  const logger = new Logger({ serviceName, persistentKeys: { model: modelName } });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE_DEFAULT,
    serviceName,
    defaultDimensions: { model: modelName },
    singleMetric: true,
  });
  const emit = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, dims: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(dims)) metrics.addDimension(k, v);
    metrics.addMetric(name, unit, value);
  };
  return {
    logger,
    coldStart: () => emit(RuntimeMetrics.COLD_START, MetricUnit.Count, 1),
    modelLoaded: (ms, extra) => {
      emit(RuntimeMetrics.MODEL_LOAD_TIME, MetricUnit.Milliseconds, ms);
      logger.info('Model loaded and warmed', { ...extra, modelLoadMs: Math.round(ms) });
    },
    inference: (ms, batchSize) => {
      emit(RuntimeMetrics.INFERENCE_TIME, MetricUnit.Milliseconds, ms);
      emit(RuntimeMetrics.BATCH_SIZE, MetricUnit.Count, batchSize);
    },
    error: (kind) => emit(RuntimeMetrics.ERRORS, MetricUnit.Count, 1, { [RuntimeMetrics.ERROR_KIND_DIMENSION]: kind }),
    batchChunk: (rows, failedRows) => {
      emit(RuntimeMetrics.BATCH_ROWS, MetricUnit.Count, rows);
      emit(RuntimeMetrics.BATCH_FAILED_ROWS, MetricUnit.Count, failedRows);
    },
  };
}
