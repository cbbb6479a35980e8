// Alarms of one stage of an API Gateway REST API in front of a TensorFlowFunction.
import type { AlarmSpec } from './alarm-factory';
import type { RestApiMetricFactory } from './metric-factories';
import type { ResolvedThresholds } from './thresholds';

export function restApiAlarmSpecs(metrics: RestApiMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  const where = `stage ${metrics.stageName} of the API`;
  const latencyMs = t.apiLatencyP99.toMilliseconds();
  return [
    {
      id: 'ServerErrorRate',
      metric: metrics.metricErrorRate('5XXError'),
      threshold: t.apiServerErrorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      summary: `More than ${t.apiServerErrorRatePercent}% of requests to ${where} failed with 5xx in 2 of 3 five-minute periods.`,
      probableCause: '503 from the runtime (out of memory, or the model not loaded yet), 502 (the function crashed or was killed), or 504 (the 29 s integration timeout).',
      action: 'check the function\'s error, out-of-memory and duration alarms; raise memorySize or provisioned concurrency, lower the batch size.',
    },
    {
      id: 'ClientErrorRate',
      metric: metrics.metricErrorRate('4XXError'),
      threshold: t.apiClientErrorRatePercent,
      evaluationPeriods: 3,
      summary: `More than ${t.apiClientErrorRatePercent}% of requests to ${where} failed with 4xx for 15 minutes.`,
      probableCause: 'clients send malformed (400), too large (413), wrong content type (415) or wrong-shape (422) requests, or are throttled (429) or refused (403).',
      action: 'see "Errors by kind" on the dashboard; check clients against the model\'s input signature (GET /v2/models/{name}), maxRequestSize, and usage plan limits.',
    },
    {
      id: 'LatencyP99',
      metric: metrics.metricLatency('p99'),
      threshold: latencyMs,
      evaluationPeriods: 3,
      ignoreLowSampleCount: true,
      summary: `p99 latency of ${where} stayed above ${latencyMs} ms for 15 minutes.`,
      probableCause: 'cold starts (model load on the request path), slower inference on larger inputs, or a function short of CPU.',
      action: 'check the function\'s cold start and duration alarms; add provisioned concurrency, raise memorySize, or send smaller inputs.',
    },
  ];
}
