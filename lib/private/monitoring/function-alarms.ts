// Alarms of one TensorFlowFunction, by concern: failures, capacity, latency, cold starts,
// memory, and (GPU) the capacity provider. Each says what probably happened and what to do.
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { AlarmSpec } from './alarm-factory';
import type { FunctionMetricFactory } from './metric-factories';
import { MIN_INVOCATIONS_FOR_COLD_START_RATE } from './metric-factories';
import { LAMBDA_OOM_LOG_TERMS, LAMBDA_OOM_NAMESPACE } from './runtime-metrics';
import type { ResolvedThresholds } from './thresholds';
import { RuntimeErrorKind } from '../../runtime-contract';
import type { TensorFlowFunction } from '../../tensorflow-function';

/** Counts Lambda's out-of-memory kills in the function's log group: the runtime dies before it can report them. */
export function addOutOfMemoryKillFilter(scope: Construct, fn: TensorFlowFunction, metrics: FunctionMetricFactory): logs.MetricFilter {
  return new logs.MetricFilter(scope, 'OutOfMemoryKillFilter', {
    logGroup: fn.logGroup,
    filterPattern: logs.FilterPattern.anyTerm(...LAMBDA_OOM_LOG_TERMS),
    metricNamespace: LAMBDA_OOM_NAMESPACE,
    metricName: metrics.outOfMemoryKillsMetricName,
    metricValue: '1',
    defaultValue: 0,
    unit: cloudwatch.Unit.COUNT,
  });
}

export function functionAlarmSpecs(fn: TensorFlowFunction, metrics: FunctionMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  const gpu = metrics.isGpu;
  const timeoutMs = fn.timeout.toMilliseconds();
  const durationThresholdMs = Math.round(timeoutMs * t.durationTimeoutPercent / 100);
  const specs: AlarmSpec[] = [
    {
      id: 'ErrorRate',
      metric: metrics.metricErrorRate(),
      threshold: t.errorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      summary: `More than ${t.errorRatePercent}% of invocations of the live alias failed in 2 of 3 five-minute periods.`,
      probableCause: 'the function crashed, timed out or was killed for memory, or its init failed (model missing or unreadable); a deploy just before points at the new version.',
      action: 'read the log group for "Request failed" and "Init failed" entries and check the out-of-memory and duration alarms; after a bad deploy, point the live alias back to the previous version.',
    },
    {
      id: 'Throttles',
      metric: metrics.metricThrottles(),
      threshold: t.throttles,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      summary: t.throttles === 0
        ? 'Invocations were throttled in 2 of 3 five-minute periods.'
        : `More than ${t.throttles} invocations per five minutes were throttled, in 2 of 3 periods.`,
      probableCause: gpu
        ? 'traffic grew faster than Lambda Managed Instances scale (they scale on CPU, asynchronously: more than double within 5 minutes throttles), or the capacity provider reached maxVCpuCount.'
        : 'concurrency reached the function\'s reserved concurrency or the account\'s concurrency limit.',
      action: gpu
        ? 'raise Compute.gpu minExecutionEnvironments for the base load and maxVCpuCount or maxExecutionEnvironments for peaks; callers should retry with backoff.'
        : 'raise or remove reserved concurrency, request a higher account concurrency quota, or cap queue consumers (event source maxConcurrency); callers should retry with backoff.',
    },
    {
      id: 'DurationNearTimeout',
      metric: metrics.metricDuration('p99'),
      threshold: durationThresholdMs,
      evaluationPeriods: 3,
      ignoreLowSampleCount: true,
      summary: `p99 duration stayed above ${durationThresholdMs} ms (${t.durationTimeoutPercent}% of the ${fn.timeout.toHumanString()} timeout) for 15 minutes: requests are about to time out.`,
      probableCause: gpu
        ? 'inputs or batches grew, or too many concurrent requests share each GPU.'
        : 'inputs or batches grew, the function is short of CPU (Lambda gives CPU in proportion to memory), or cold starts load the model on the request path.',
      action: gpu
        ? 'lower Compute.gpu perExecutionEnvironmentMaxConcurrency, lower the batch size or maxRequestSize, raise minExecutionEnvironments, or raise the timeout (at most 29 s behind API Gateway).'
        : `raise memorySize (now ${fn.memorySize} MiB) for more vCPU, lower the batch size or maxRequestSize, add provisioned concurrency, or raise the timeout (at most 29 s behind API Gateway).`,
    },
    {
      id: 'OutOfMemoryErrors',
      metric: metrics.metricErrorsOfKind(RuntimeErrorKind.OUT_OF_MEMORY),
      threshold: t.outOfMemoryErrors,
      evaluationPeriods: 1,
      summary: `The runtime caught ${t.outOfMemoryErrors === 0 ? 'TensorFlow out-of-memory errors' : `more than ${t.outOfMemoryErrors} TensorFlow out-of-memory errors in five minutes`} (host memory${gpu ? ' or CUDA/GPU memory' : ''}) and answered 503 with Retry-After.`,
      probableCause: 'inputs, images or batches too large for the memory the model runs in.',
      action: `lower the batch size or maxRequestSize, raise memorySize (now ${fn.memorySize} MiB)${gpu ? ' or Compute.gpu acceleratorMemory' : ''}, or quantise the model (tensorflowjs_converter --quantize_float16).`,
    },
    {
      id: 'OutOfMemoryKills',
      metric: metrics.metricOutOfMemoryKills(),
      threshold: t.outOfMemoryKills,
      evaluationPeriods: 1,
      summary: `Lambda killed the runtime ${t.outOfMemoryKills === 0 ? '' : `more than ${t.outOfMemoryKills} times in five minutes `}for using more than its ${fn.memorySize} MiB (Runtime.OutOfMemory, "signal: killed" in the log).`,
      probableCause: 'the model plus the tensors of a large request or batch outgrew memorySize; requests in flight failed with no answer and the next ones pay a cold start.',
      action: 'raise memorySize (a model needs about the runtime plus twice its weights), lower the batch size or maxRequestSize, or serve a smaller, quantised model.',
    },
    {
      id: 'ModelLoadTime',
      metric: metrics.metricModelLoadTime('Maximum'),
      threshold: t.modelLoadTime.toMilliseconds(),
      evaluationPeriods: 1,
      summary: `Loading and warming the model took longer than ${t.modelLoadTime.toHumanString()} (ModelLoadTime, maximum).`,
      probableCause: 'a bigger model, a slow S3 download, or too little CPU; Lambda stops an on-demand init at 10 s and retries it inside the first request, against the function timeout.',
      action: gpu
        ? 'bake the model into the image (Model.fromAsset), quantise the weights, or keep environments initialised with Compute.gpu minExecutionEnvironments.'
        : 'bake the model into the image (Model.fromAsset with Compute.container()), raise memorySize, quantise the weights, or initialise ahead of traffic with provisioned concurrency.',
    },
  ];
  if (!gpu) {
    // Lambda Managed Instances initialise environments before routing to them: no cold starts.
    specs.push({
      id: 'ColdStartRate',
      metric: metrics.metricColdStartRate(),
      threshold: t.coldStartRatePercent,
      evaluationPeriods: 3,
      summary: `More than ${t.coldStartRatePercent}% of invocations started a new execution environment, loading the model on the request path, for 15 minutes (counted from ${MIN_INVOCATIONS_FOR_COLD_START_RATE} invocations per five minutes).`,
      probableCause: 'traffic bursts above the warm capacity, or environments are recycled after errors or out-of-memory kills.',
      action: 'add or raise provisionedConcurrency (or provisionedConcurrencyScaling.maxCapacity), or a warmUp schedule with more concurrency; shorten the model load (bake it into the image, quantise).',
    });
  }
  const provisioned = metrics.provisionedConcurrency;
  if (provisioned !== undefined) {
    specs.push({
      id: 'ProvisionedConcurrencySpillover',
      metric: metrics.metricProvisionedConcurrencySpillover(),
      threshold: t.provisionedConcurrencySpillover,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      summary: `${t.provisionedConcurrencySpillover === 0 ? 'Invocations' : `More than ${t.provisionedConcurrencySpillover} invocations per five minutes`} overflowed ${fn.scalableTarget ? 'the auto-scaled provisioned environments' : `the ${provisioned} provisioned environment${provisioned === 1 ? '' : 's'}`} in 2 of 3 five-minute periods and ran on on-demand ones, with a cold model load.`,
      probableCause: 'traffic above the provisioned concurrency, or auto-scaling too slow or capped for the peak.',
      action: 'raise provisionedConcurrency, or give provisionedConcurrencyScaling a higher maxCapacity, a lower utilizationTarget, or a scheduled range for known peaks.',
    });
  }
  const cpu = metrics.metricCapacityProvider('CPUUtilization');
  if (cpu) {
    specs.push({
      id: 'CapacityProviderCpu',
      metric: cpu,
      threshold: t.capacityProviderCpuPercent,
      evaluationPeriods: 3,
      summary: `An instance type of the GPU capacity provider stayed above ${t.capacityProviderCpuPercent}% CPU for 15 minutes. Lambda Managed Instances scale on CPU, so staying this high means scaling is capped. (Lambda publishes no GPU utilisation metric for capacity providers; GPU memory errors raise the out-of-memory alarm.)`,
      probableCause: 'the capacity provider reached maxVCpuCount or maxExecutionEnvironments, the allowed instance types ran short, or preprocessing (image decoding) on the CPU is the bottleneck.',
      action: 'raise Compute.gpu maxVCpuCount or maxExecutionEnvironments, allow more GPU instance types, or send smaller, already-resized images.',
    });
  }
  return specs;
}
