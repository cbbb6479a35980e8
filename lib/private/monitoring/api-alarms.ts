// Alarms of the front doors of a TensorFlowFunction (a REST API stage, an HTTP API, a
// function URL): the same three alarms on each (5xx rate, 4xx rate, p99 latency), with
// what each front door's errors probably mean.
import type { AlarmSpec } from './alarm-factory';
import type { ApiMetrics, FunctionUrlMetricFactory, HttpApiMetricFactory, RestApiMetricFactory } from './metric-factories';
import type { ResolvedThresholds } from './thresholds';

/** What a front door's 5xx and 4xx responses probably are, and what to do about them. */
interface FrontDoorAdvice {
  readonly serverErrorCause: string;
  readonly serverErrorAction: string;
  readonly clientErrorCause: string;
  readonly clientErrorAction: string;
}

const REST_API: FrontDoorAdvice = {
  serverErrorCause: '503 from the runtime (out of memory, or the model not loaded yet), 502 (the function crashed or was killed), or 504 (the 29 s integration timeout).',
  serverErrorAction: 'check the function\'s error, out-of-memory and duration alarms; raise memorySize or provisioned concurrency, lower the batch size.',
  clientErrorCause: 'clients send malformed (400), too large (413), wrong content type (415) or wrong-shape (422) requests, or are throttled (429) or refused (403).',
  clientErrorAction: 'see "Errors by kind" on the dashboard; check clients against the model\'s input signature (GET /v2/models/{name}), maxRequestSize, and usage plan limits.',
};

const HTTP_API: FrontDoorAdvice = {
  serverErrorCause: '503 from the runtime (out of memory, or the model not loaded yet) or from the gateway at its 29 s integration timeout, or 500 (the invocation failed: the function crashed or was killed).',
  serverErrorAction: 'check the function\'s error, out-of-memory and duration alarms; raise memorySize or provisioned concurrency, lower the batch size, send long requests as asynchronous jobs.',
  clientErrorCause: 'clients send malformed (400), too large (413), wrong content type (415) or wrong-shape (422) requests, are refused by the authorizer (401, 403), or are throttled by the stage (429).',
  clientErrorAction: 'see "Errors by kind" on the dashboard; check clients against the model\'s input signature (GET /v2/models/{name}), their tokens or SigV4 signatures, and the stage throttle.',
};

const FUNCTION_URL: FrontDoorAdvice = {
  serverErrorCause: '503 from the runtime (out of memory, or the model not loaded yet), or 502 (the function crashed, timed out or was killed).',
  serverErrorAction: 'check the function\'s error, out-of-memory and duration alarms; raise memorySize, timeout or provisioned concurrency, lower the batch size.',
  clientErrorCause: 'clients send malformed (400), too large (413, Lambda\'s 6 MB payload limit), wrong content type (415) or wrong-shape (422) requests, are refused (403: not signed, or not granted lambda:InvokeFunctionUrl), or the function is throttled (429).',
  clientErrorAction: 'see "Errors by kind" on the dashboard; check clients against the model\'s input signature (GET /v2/models/{name}) and their SigV4 signing; for 429, the function\'s throttle alarm and concurrency.',
};

export function restApiAlarmSpecs(metrics: RestApiMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  return apiAlarmSpecs(`stage ${metrics.stageName} of the API`, metrics, REST_API, t);
}

export function httpApiAlarmSpecs(metrics: HttpApiMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  const where = metrics.stageName === undefined ? 'the HTTP API' : `stage ${metrics.stageName} of the HTTP API`;
  return apiAlarmSpecs(where, metrics, HTTP_API, t);
}

export function functionUrlAlarmSpecs(metrics: FunctionUrlMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  return apiAlarmSpecs('the function URL', metrics, FUNCTION_URL, t);
}

function apiAlarmSpecs(where: string, metrics: ApiMetrics, advice: FrontDoorAdvice, t: ResolvedThresholds): AlarmSpec[] {
  const latencyMs = t.apiLatencyP99.toMilliseconds();
  return [
    {
      id: 'ServerErrorRate',
      metric: metrics.metricServerErrorRate(),
      threshold: t.apiServerErrorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      summary: `More than ${t.apiServerErrorRatePercent}% of requests to ${where} failed with 5xx in 2 of 3 five-minute periods.`,
      probableCause: advice.serverErrorCause,
      action: advice.serverErrorAction,
    },
    {
      id: 'ClientErrorRate',
      metric: metrics.metricClientErrorRate(),
      threshold: t.apiClientErrorRatePercent,
      evaluationPeriods: 3,
      summary: `More than ${t.apiClientErrorRatePercent}% of requests to ${where} failed with 4xx for 15 minutes.`,
      probableCause: advice.clientErrorCause,
      action: advice.clientErrorAction,
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
