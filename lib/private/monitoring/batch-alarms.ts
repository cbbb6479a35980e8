// Alarms on the rows of S3 batch inference: rows that end in errors files are not function
// errors (the chunk succeeds and says why each row failed), so nothing else would notice a
// producer that starts sending rows the model cannot read.
import type { AlarmSpec } from './alarm-factory';
import type { FunctionMetricFactory } from './metric-factories';
import type { ResolvedThresholds } from './thresholds';

export function batchAlarmSpecs(metrics: FunctionMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  return [{
    id: 'FailedRowRate',
    metric: metrics.metricBatchFailedRowRate(),
    threshold: t.batchFailedRowRatePercent,
    evaluationPeriods: 1,
    summary: `More than ${t.batchFailedRowRatePercent}% of the rows read from batch inputs by model ${metrics.modelName} went to errors files instead of predictions.`,
    probableCause: 'the inputs changed: a column renamed or missing, values that are not numbers, another delimiter or encoding, JSON Lines of another shape, or files that are not images.',
    action: 'read the *.errors.jsonl files under the output prefix (each row says why it failed), fix the producer or the task\'s features, then upload the inputs again.',
  }];
}
