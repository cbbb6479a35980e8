// InferenceMonitoring: every alarm with its metric, statistic, threshold, comparison,
// evaluation and actions; each threshold override; the alarm topic; the dashboard; each
// synth-time error; cdk-nag; and the contract with the runtime's embedded metrics.
import * as fs from 'fs';
import { App, CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Compute, InferenceFunctionUrl, RuntimeErrorKind, RuntimeMetrics, TensorFlowFunction } from '../lib';
import { classifierWith, masked, nagReport, newStack } from './support';
import { InferenceMonitoring } from '../lib/inference-monitoring';
import type { MonitoringThresholds } from '../lib/inference-monitoring';
import { ERROR_KINDS, RUNTIME_METRIC, RUNTIME_NAMESPACE } from '../lib/private/monitoring/runtime-metrics';

type Props = Record<string, unknown>;

/** A function of model "demo" with the default 30 s timeout, as 'Classifier' unless given an id. */
const classifier = classifierWith({ modelName: 'demo' }, 'Classifier');

/** The CloudFormation properties of each alarm, by construct id (or by `key`). */
function alarmProps(alarms: cloudwatch.Alarm[], key: (alarm: cloudwatch.Alarm) => string = (alarm) => alarm.node.id): Record<string, Props> {
  const out: Record<string, Props> = {};
  for (const alarm of alarms) {
    const stack = Stack.of(alarm);
    const template = Template.fromStack(stack).toJSON();
    out[key(alarm)] = template.Resources[stack.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties;
  }
  return out;
}

/** An alarm's target scope and id, e.g. `HttpApi-Public/LatencyP99`: ids repeat across targets. */
function targetAndId(alarm: cloudwatch.Alarm): string {
  return `${alarm.node.scope!.node.id}/${alarm.node.id}`;
}

/** The expression and the metrics of a metric-math alarm, by id. */
function mathOf(p: Props): { expression: unknown; byId: Record<string, Props> } {
  const metrics = p.Metrics as Props[];
  return {
    expression: metrics.find((m) => m.Expression)?.Expression,
    byId: Object.fromEntries(metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat as Props])),
  };
}

/**
 * The single metric an alarm watches, flattened: CloudFormation has it either as top-level
 * properties or (when the metric has a label) as the only entry of Metrics.
 */
function watched(p: Props): Props {
  const metrics = p.Metrics as Props[] | undefined;
  if (!metrics) {
    const { Namespace, MetricName, Dimensions, Period, Statistic, ExtendedStatistic } = p;
    return { Namespace, MetricName, Dimensions, Period, Stat: Statistic ?? ExtendedStatistic };
  }
  expect(metrics).toHaveLength(1);
  const stat = metrics[0].MetricStat as { Metric: Props; Period: number; Stat: string };
  return { ...stat.Metric, Period: stat.Period, Stat: stat.Stat };
}

function ref(stack: Stack, construct: { node: { defaultChild?: unknown } } | CfnElement): { Ref: string } {
  const element = (construct instanceof CfnElement ? construct : construct.node.defaultChild) as CfnElement;
  return { Ref: stack.getLogicalId(element) };
}

describe('alarms of a TensorFlowFunction, with their defaults', () => {
  const stack = newStack();
  const fn = classifier(stack);
  const monitoring = new InferenceMonitoring(stack, 'Ops', { functions: [fn] });
  const props = alarmProps(monitoring.alarms);
  const topic = ref(stack, monitoring.alarmTopic as sns.Topic);
  const functionName = { Ref: stack.getLogicalId(fn.function.node.defaultChild as CfnElement) };
  const aliasResource = { 'Fn::Join': ['', [functionName, ':live']] };
  const runtimeDims = [{ Name: 'model', Value: 'demo' }, { Name: 'service', Value: fn.serviceName }];

  test('one alarm per concern: no spillover without provisioned concurrency, no capacity provider off GPU', () => {
    expect(Object.keys(props).sort()).toEqual(['ColdStartRate', 'DurationNearTimeout', 'ErrorRate', 'ModelLoadTime', 'OutOfMemoryErrors', 'OutOfMemoryKills', 'Throttles']);
  });

  test('every alarm notifies the topic on ALARM and OK, treats missing data as fine, and says what to do', () => {
    for (const [id, p] of Object.entries(props)) {
      expect({ id, actions: p.AlarmActions, ok: p.OKActions, missing: p.TreatMissingData }).toEqual({ id, actions: [topic], ok: [topic], missing: 'notBreaching' });
      expect(p.AlarmDescription).toMatch(/^\[demo\] .+ Probably: .+ Do: .+/);
      expect((p.AlarmDescription as string).length).toBeLessThanOrEqual(1024);
    }
  });

  test('ErrorRate: 100 * Errors / Invocations of the live alias above 5%, 2 of 3 periods; 0 without invocations (no division by zero)', () => {
    const p = props.ErrorRate;
    expect(p).toEqual(expect.objectContaining({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2 }));
    const metrics = p.Metrics as Props[];
    expect(metrics.find((m) => m.ReturnData !== false)?.Expression).toBe('IF(FILL(invocations, 0) > 0, 100 * FILL(errors, 0) / invocations, 0)');
    const byId = Object.fromEntries(metrics.map((m) => [m.Id, m.MetricStat as Props]));
    expect(byId.errors).toEqual({
      Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: functionName }, { Name: 'Resource', Value: aliasResource }] },
      Period: 300,
      Stat: 'Sum',
    });
    expect(byId.invocations).toEqual(expect.objectContaining({ Metric: expect.objectContaining({ MetricName: 'Invocations' }), Stat: 'Sum' }));
    expect(p.AlarmDescription).toMatch(/point the live alias back/);
  });

  test('Throttles: Sum of the alias above 0, 2 of 3 periods', () => {
    expect(watched(props.Throttles)).toEqual({
      Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: functionName }, { Name: 'Resource', Value: aliasResource }], Period: 300, Stat: 'Sum',
    });
    expect(props.Throttles).toEqual(expect.objectContaining({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2 }));
    expect(props.Throttles.AlarmDescription).toMatch(/reserved concurrency/);
  });

  test('DurationNearTimeout: p99 above 80% of the 30 s timeout (24000 ms) for 3 of 3 periods, ignoring thin samples', () => {
    expect(watched(props.DurationNearTimeout)).toEqual(expect.objectContaining({ Namespace: 'AWS/Lambda', MetricName: 'Duration', Stat: 'p99' }));
    expect(props.DurationNearTimeout).toEqual(expect.objectContaining({
      Threshold: 24000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3, EvaluateLowSampleCountPercentile: 'ignore',
    }));
    expect(props.DurationNearTimeout.AlarmDescription).toMatch(/raise memorySize \(now 2048 MiB\)/);
  });

  test('ColdStartRate: the runtime\'s ColdStart over invocations above 10%, only from 10 invocations, 3 of 3 periods', () => {
    const p = props.ColdStartRate;
    expect(p).toEqual(expect.objectContaining({ Threshold: 10, EvaluationPeriods: 3, DatapointsToAlarm: 3 }));
    const metrics = p.Metrics as Props[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('IF(invocations >= 10, 100 * FILL(coldStarts, 0) / invocations, 0)');
    expect(metrics.find((m) => m.Id === 'coldStarts')?.MetricStat).toEqual({
      Metric: { Namespace: 'ServerlessTensorFlow', MetricName: 'ColdStart', Dimensions: runtimeDims }, Period: 300, Stat: 'Sum',
    });
    expect(p.AlarmDescription).toMatch(/provisionedConcurrency/);
  });

  test('ModelLoadTime: the runtime\'s Maximum above 8000 ms in one period', () => {
    expect(watched(props.ModelLoadTime)).toEqual({ Namespace: 'ServerlessTensorFlow', MetricName: 'ModelLoadTime', Dimensions: runtimeDims, Period: 300, Stat: 'Maximum' });
    expect(props.ModelLoadTime).toEqual(expect.objectContaining({ Threshold: 8000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1 }));
    expect(props.ModelLoadTime.AlarmDescription).toMatch(/10 s/);
  });

  test('OutOfMemoryErrors: the runtime\'s Errors{errorKind=OutOfMemory} Sum above 0 in one period', () => {
    expect(watched(props.OutOfMemoryErrors)).toEqual({
      Namespace: 'ServerlessTensorFlow', MetricName: 'Errors', Dimensions: [{ Name: 'errorKind', Value: 'OutOfMemory' }, ...runtimeDims], Period: 300, Stat: 'Sum',
    });
    expect(props.OutOfMemoryErrors).toEqual(expect.objectContaining({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1 }));
    expect(props.OutOfMemoryErrors.AlarmDescription).toMatch(/lower the batch size/);
  });

  test('OutOfMemoryKills: a log metric filter for Runtime.OutOfMemory or "signal: killed", one metric per function, above 0', () => {
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: stack.getLogicalId(fn.node.findChild('LogGroup').node.defaultChild as CfnElement) },
      FilterPattern: '?"Runtime.OutOfMemory" ?"signal: killed"',
      MetricTransformations: [{ MetricNamespace: 'ServerlessTensorFlow/LambdaOutOfMemory', MetricName: functionName, MetricValue: '1', DefaultValue: 0, Unit: 'Count' }],
    });
    expect(watched(props.OutOfMemoryKills)).toEqual({ Namespace: 'ServerlessTensorFlow/LambdaOutOfMemory', MetricName: functionName, Dimensions: undefined, Period: 300, Stat: 'Sum' });
    expect(props.OutOfMemoryKills).toEqual(expect.objectContaining({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, DatapointsToAlarm: 1 }));
    expect(props.OutOfMemoryKills.AlarmDescription).toMatch(/more than its 2048 MiB/);
  });
});

describe('alarms that depend on the function', () => {
  test('provisioned concurrency adds a spillover alarm: Sum above 0, 2 of 3 periods', () => {
    const stack = newStack();
    const fn = classifier(stack, 'Fn', { provisionedConcurrency: 2 });
    const props = alarmProps(new InferenceMonitoring(stack, 'Ops', { functions: [fn] }).alarms);
    expect(watched(props.ProvisionedConcurrencySpillover)).toEqual(expect.objectContaining({ Namespace: 'AWS/Lambda', MetricName: 'ProvisionedConcurrencySpilloverInvocations', Stat: 'Sum' }));
    expect(props.ProvisionedConcurrencySpillover).toEqual(expect.objectContaining({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2 }));
    expect(props.ProvisionedConcurrencySpillover.AlarmDescription).toMatch(/the 2 provisioned environments/);
  });

  test('GPU compute: a capacity provider CPU alarm through Metrics Insights, no cold start alarm, GPU advice', () => {
    const stack = newStack();
    const fn = classifier(stack, 'Gpu', { compute: Compute.gpu() });
    const props = alarmProps(new InferenceMonitoring(stack, 'Ops', { functions: [fn] }).alarms);
    expect(props.ColdStartRate).toBeUndefined();
    const p = props.CapacityProviderCpu;
    expect(p).toEqual(expect.objectContaining({ Threshold: 90, EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' }));
    const [query] = p.Metrics as Props[];
    expect(query.Period).toBe(300);
    expect(JSON.stringify(query.Expression)).toContain('SELECT MAX(CPUUtilization) FROM SCHEMA(\\"AWS/Lambda\\", CapacityProviderName, InstanceType) WHERE CapacityProviderName = \'');
    expect(JSON.stringify(query.Expression)).toContain(stack.getLogicalId(fn.node.findChild('CapacityProvider').node.defaultChild as CfnElement));
    expect(props.OutOfMemoryErrors.AlarmDescription).toMatch(/CUDA\/GPU memory.*acceleratorMemory/);
    expect(props.Throttles.AlarmDescription).toMatch(/minExecutionEnvironments/);
  });

  test('a function added twice is monitored once; thresholds of the second call are reported as not applied', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const first = monitoring.addFunction(fn);
    expect(monitoring.addFunction(fn, { errorRatePercent: 1 })).toEqual(first);
    Template.fromStack(stack).resourceCountIs('AWS::Logs::MetricFilter', 1);
    Annotations.fromStack(stack).hasWarning('/Test/Ops', Match.stringLikeRegexp('already monitored'));
  });

  test('two functions serving models of the same name get separate alarms', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops', { functions: [classifier(stack, 'A'), classifier(stack, 'B')] });
    expect(monitoring.alarms).toHaveLength(14);
    expect(monitoring.node.tryFindChild('Model-demo-2')?.node.path).toBe('Test/Ops/Model-demo-2');
  });
});

describe('threshold overrides', () => {
  /** Each threshold, a value for it, the alarms (target scope/id) it sets, and the threshold they get. */
  const OVERRIDES: [keyof MonitoringThresholds, MonitoringThresholds[keyof MonitoringThresholds], string[], number][] = [
    ['errorRatePercent', 2, ['Model-demo/ErrorRate'], 2],
    ['throttles', 5, ['Model-demo/Throttles'], 5],
    ['durationTimeoutPercent', 50, ['Model-demo/DurationNearTimeout'], 15000],
    ['coldStartRatePercent', 25, ['Model-demo/ColdStartRate'], 25],
    ['modelLoadTime', Duration.seconds(5), ['Model-demo/ModelLoadTime'], 5000],
    ['outOfMemoryErrors', 3, ['Model-demo/OutOfMemoryErrors'], 3],
    ['outOfMemoryKills', 1, ['Model-demo/OutOfMemoryKills'], 1],
    ['provisionedConcurrencySpillover', 10, ['Model-demo/ProvisionedConcurrencySpillover'], 10],
    ['capacityProviderCpuPercent', 75, ['Model-demo-2/CapacityProviderCpu'], 75],
    ['deadLetterQueueMessages', 4, ['Queue-Jobs/DeadLetterMessages'], 4],
    ['queueOldestMessageAge', Duration.hours(1), ['Queue-Jobs/OldestMessageAge'], 3600],
    ['apiServerErrorRatePercent', 0.5, ['Api-Api/ServerErrorRate', 'HttpApi-Http/ServerErrorRate', 'FunctionUrl-Url/ServerErrorRate'], 0.5],
    ['apiClientErrorRatePercent', 20, ['Api-Api/ClientErrorRate', 'HttpApi-Http/ClientErrorRate', 'FunctionUrl-Url/ClientErrorRate'], 20],
    ['apiLatencyP99', Duration.seconds(2), ['Api-Api/LatencyP99', 'HttpApi-Http/LatencyP99', 'FunctionUrl-Url/LatencyP99'], 2000],
    ['batchFailedRowRatePercent', 1, ['Batch-Nightly/FailedRowRate'], 1],
  ];

  /** Everything that can be monitored, so every alarm exists; by target scope and id. */
  function monitorAll(thresholds: MonitoringThresholds | undefined, perTarget: MonitoringThresholds | undefined): Record<string, Props> {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops', { thresholds });
    const cpu = classifier(stack, 'Cpu', { provisionedConcurrency: 1 });
    const alarms = [
      ...monitoring.addFunction(cpu, perTarget),
      ...monitoring.addBatchRows('Nightly', cpu, perTarget),
      ...monitoring.addFunction(classifier(stack, 'Gpu', { compute: Compute.gpu() }), perTarget).filter((a) => a.node.id === 'CapacityProviderCpu'),
      ...monitoring.addQueue('Jobs', new sqs.Queue(stack, 'Queue'), new sqs.Queue(stack, 'Dlq'), perTarget),
      ...monitoring.addRestApi('Api', apigw.RestApi.fromRestApiAttributes(stack, 'Api', { restApiId: 'abc123', rootResourceId: 'root', restApiName: 'inference' }), 'prod', perTarget),
      ...monitoring.addHttpApi('Http', apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Http', { httpApiId: 'h77p123' }), undefined, perTarget),
      ...monitoring.addFunctionUrl('Url', new InferenceFunctionUrl(stack, 'Url', { function: cpu }), perTarget),
    ];
    return alarmProps(alarms, targetAndId);
  }

  test('every alarm has a threshold prop', () => {
    expect(Object.keys(monitorAll(undefined, undefined)).sort()).toEqual(OVERRIDES.flatMap(([, , alarms]) => alarms).sort());
  });

  test.each(OVERRIDES)('%s on the construct sets the threshold of %j', (key, value, alarms, threshold) => {
    const props = monitorAll({ [key]: value }, undefined);
    expect(alarms.map((alarm) => props[alarm].Threshold)).toEqual(alarms.map(() => threshold));
  });

  test.each(OVERRIDES)('%s on one target overrides the construct\'s, for %j', (key, value, alarms, threshold) => {
    const other = typeof value === 'number' ? value + 1 : Duration.seconds(value!.toSeconds() + 1);
    const props = monitorAll({ [key]: other }, { [key]: value });
    expect(alarms.map((alarm) => props[alarm].Threshold)).toEqual(alarms.map(() => threshold));
  });
});

describe('queues', () => {
  test('oldest message age above 15 minutes (900 s, Maximum) and dead-letter messages above 0, one period each', () => {
    const stack = newStack();
    const queue = new sqs.Queue(stack, 'Queue');
    const dlq = new sqs.Queue(stack, 'Dlq');
    const props = alarmProps(new InferenceMonitoring(stack, 'Ops').addQueue('Nightly', queue, dlq));
    expect(watched(props.OldestMessageAge)).toEqual({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Period: 300,
      Stat: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [stack.getLogicalId(queue.node.defaultChild as CfnElement), 'QueueName'] } }],
    });
    expect(props.OldestMessageAge).toEqual(expect.objectContaining({ Threshold: 900, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' }));
    expect(watched(props.DeadLetterMessages)).toEqual({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Period: 300,
      Stat: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [stack.getLogicalId(dlq.node.defaultChild as CfnElement), 'QueueName'] } }],
    });
    expect(props.DeadLetterMessages).toEqual(expect.objectContaining({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 }));
    expect(props.DeadLetterMessages.AlarmDescription).toMatch(/^\[Nightly\] .*redrive/);
  });

  test('without a dead-letter queue, only the age alarm', () => {
    const stack = newStack();
    const alarms = new InferenceMonitoring(stack, 'Ops').addQueue('Jobs', new sqs.Queue(stack, 'Queue'));
    expect(alarms.map((a) => a.node.id)).toEqual(['OldestMessageAge']);
  });
});

describe('batch rows', () => {
  test('failed rows above 5 % of the rows read in a five-minute period, from the runtime\'s BatchRows and BatchFailedRows of the model', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const alarms = monitoring.addBatchRows('Nightly', fn);
    const props = alarmProps(alarms).FailedRowRate;
    expect(props).toEqual(expect.objectContaining({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' }));
    const metrics = props.Metrics as Props[];
    expect(metrics.find((m) => m.Expression)).toEqual(expect.objectContaining({ Expression: 'IF(FILL(rows, 0) > 0, 100 * FILL(failed, 0) / rows, 0)', ReturnData: true }));
    const dims = [{ Name: 'model', Value: 'demo' }, { Name: 'service', Value: fn.serviceName }];
    type MetricStat = { Metric: Props; Stat: string; Period: number };
    const stat = (id: string) => (metrics.find((m) => m.Id === id)!.MetricStat as MetricStat);
    const byName = (a: Props, b: Props) => String(a.Name).localeCompare(String(b.Name));
    const sorted = (s: MetricStat) => ({ ...s, Metric: { ...s.Metric, Dimensions: [...(s.Metric.Dimensions as Props[])].sort(byName) } });
    expect(sorted(stat('rows'))).toEqual({ Metric: { Namespace: RUNTIME_NAMESPACE, MetricName: 'BatchRows', Dimensions: dims }, Stat: 'Sum', Period: 300 });
    expect(sorted(stat('failed'))).toEqual({ Metric: { Namespace: RUNTIME_NAMESPACE, MetricName: 'BatchFailedRows', Dimensions: dims }, Stat: 'Sum', Period: 300 });
    expect(props.AlarmDescription).toMatch(/^\[Nightly\] More than 5% of the rows .* Probably: the inputs changed.* Do: read the \*\.errors\.jsonl files/);
  });

  test('a function is monitored once: a second call returns the first call\'s alarms, and the dashboard has one batch rows section', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const first = monitoring.addBatchRows('Nightly', fn);
    expect(monitoring.addBatchRows('Hourly', fn)).toEqual(first);
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'))).toHaveLength(1);
    const body = JSON.stringify(stack.resolve((monitoring.dashboard.node.defaultChild as CfnElement & { dashboardBody: unknown }).dashboardBody));
    expect(body.match(/## Batch rows/g)).toHaveLength(1);
    expect(body).toMatch(/Nightly: failed row rate/);
  });

  test('the threshold is a percentage', () => {
    const stack = newStack();
    expect(() => new InferenceMonitoring(stack, 'Ops').addBatchRows('Nightly', classifier(stack), { batchFailedRowRatePercent: 0 }))
      .toThrow(/thresholds\.batchFailedRowRatePercent must be a percentage above 0 and at most 100; got 0/);
  });
});

describe('REST APIs', () => {
  const stack = newStack();
  const api = apigw.RestApi.fromRestApiAttributes(stack, 'Api', { restApiId: 'abc123', rootResourceId: 'root', restApiName: 'inference' });
  const props = alarmProps(new InferenceMonitoring(stack, 'Ops').addRestApi('Public', api, 'prod'));
  const dims = [{ Name: 'ApiName', Value: 'inference' }, { Name: 'Stage', Value: 'prod' }];

  test.each([
    ['ServerErrorRate', '5XXError', 'serverErrors', 1, 2],
    ['ClientErrorRate', '4XXError', 'clientErrors', 10, 3],
  ])('%s: 100 * %s / Count (Sum) above its threshold', (alarm, metricName, id, threshold, datapoints) => {
    const p = props[alarm];
    expect(p).toEqual(expect.objectContaining({ Threshold: threshold, EvaluationPeriods: 3, DatapointsToAlarm: datapoints, ComparisonOperator: 'GreaterThanThreshold' }));
    const metrics = p.Metrics as Props[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(`IF(requests > 0, 100 * ${id} / requests, 0)`);
    expect(metrics.find((m) => m.Id === id)?.MetricStat).toEqual({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: metricName, Dimensions: dims }, Period: 300, Stat: 'Sum' });
    expect(metrics.find((m) => m.Id === 'requests')?.MetricStat).toEqual({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: dims }, Period: 300, Stat: 'Sum' });
  });

  test('LatencyP99: p99 Latency above 5000 ms for 3 of 3 periods', () => {
    expect(watched(props.LatencyP99)).toEqual({ Namespace: 'AWS/ApiGateway', MetricName: 'Latency', Dimensions: dims, Period: 300, Stat: 'p99' });
    expect(props.LatencyP99).toEqual(expect.objectContaining({
      Threshold: 5000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3, EvaluateLowSampleCountPercentile: 'ignore',
    }));
    expect(props.LatencyP99.AlarmDescription).toMatch(/^\[Public\] p99 latency of stage prod/);
  });
});

describe('HTTP APIs', () => {
  const stack = newStack();
  const api = apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Http', { httpApiId: 'h77p123' });
  const monitoring = new InferenceMonitoring(stack, 'Ops');
  const defaultStage = monitoring.addHttpApi('Public', api);
  const namedStage = monitoring.addHttpApi('Beta', api, 'beta');
  const props = alarmProps(defaultStage);
  const staged = alarmProps(namedStage);
  const dims = [{ Name: 'ApiId', Value: 'h77p123' }];

  test('three alarms, like a REST API\'s: 5xx rate, 4xx rate, p99 latency', () => {
    expect(Object.keys(props)).toEqual(['ServerErrorRate', 'ClientErrorRate', 'LatencyP99']);
  });

  test.each([
    ['ServerErrorRate', '5xx', 'serverErrors', 1, 2],
    ['ClientErrorRate', '4xx', 'clientErrors', 10, 3],
  ])('%s: 100 * %s / Count (Sum) of the API (ApiId) above its threshold', (alarm, metricName, id, threshold, datapoints) => {
    const p = props[alarm];
    expect(p).toEqual(expect.objectContaining({ Threshold: threshold, EvaluationPeriods: 3, DatapointsToAlarm: datapoints, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' }));
    const { expression, byId } = mathOf(p);
    expect(expression).toBe(`IF(requests > 0, 100 * ${id} / requests, 0)`);
    expect(byId[id]).toEqual({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: metricName, Dimensions: dims }, Period: 300, Stat: 'Sum' });
    expect(byId.requests).toEqual({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: dims }, Period: 300, Stat: 'Sum' });
  });

  test('LatencyP99: p99 Latency above 5000 ms for 3 of 3 periods, ignoring thin samples', () => {
    expect(watched(props.LatencyP99)).toEqual({ Namespace: 'AWS/ApiGateway', MetricName: 'Latency', Dimensions: dims, Period: 300, Stat: 'p99' });
    expect(props.LatencyP99).toEqual(expect.objectContaining({
      Threshold: 5000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3, EvaluateLowSampleCountPercentile: 'ignore',
    }));
  });

  test('descriptions name the API and say what an HTTP API\'s errors probably are', () => {
    expect(props.ServerErrorRate.AlarmDescription).toMatch(/^\[Public\] More than 1% of requests to the HTTP API failed with 5xx in 2 of 3 five-minute periods\. Probably: .*29 s integration timeout.* Do: .+/);
    expect(props.ClientErrorRate.AlarmDescription).toMatch(/^\[Public\] More than 10% of requests to the HTTP API failed with 4xx for 15 minutes\. Probably: .*authorizer \(401, 403\).* Do: .*stage throttle/);
    expect(props.LatencyP99.AlarmDescription).toMatch(/^\[Public\] p99 latency of the HTTP API stayed above 5000 ms for 15 minutes\. Probably: .+ Do: .+/);
  });

  test('a named stage: the metrics carry ApiId and Stage, and the descriptions name the stage', () => {
    const stageDims = [{ Name: 'ApiId', Value: 'h77p123' }, { Name: 'Stage', Value: 'beta' }];
    expect(watched(staged.LatencyP99).Dimensions).toEqual(stageDims);
    const { byId } = mathOf(staged.ServerErrorRate);
    expect([byId.serverErrors.Metric, byId.requests.Metric]).toEqual([
      { Namespace: 'AWS/ApiGateway', MetricName: '5xx', Dimensions: stageDims },
      { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: stageDims },
    ]);
    expect(staged.ClientErrorRate.AlarmDescription).toMatch(/^\[Beta\] More than 10% of requests to stage beta of the HTTP API/);
  });
});

describe('function URLs', () => {
  const stack = newStack();
  const fn = classifier(stack);
  const url = new InferenceFunctionUrl(stack, 'Url', { function: fn });
  const props = alarmProps(new InferenceMonitoring(stack, 'Ops').addFunctionUrl('Public', url));
  const functionName = { Ref: stack.getLogicalId(fn.function.node.defaultChild as CfnElement) };
  const dims = [{ Name: 'FunctionName', Value: functionName }, { Name: 'Resource', Value: { 'Fn::Join': ['', [functionName, ':live']] } }];

  test('three alarms: 5xx rate, 4xx rate, p99 latency of the URL', () => {
    expect(Object.keys(props)).toEqual(['ServerErrorRate', 'ClientErrorRate', 'LatencyP99']);
  });

  test.each([
    ['ServerErrorRate', 'Url5xxCount', 'serverErrors', 1, 2],
    ['ClientErrorRate', 'Url4xxCount', 'clientErrors', 10, 3],
  ])('%s: 100 * %s / UrlRequestCount (Sum) of the live alias above its threshold, quiet periods as 0', (alarm, metricName, id, threshold, datapoints) => {
    const p = props[alarm];
    expect(p).toEqual(expect.objectContaining({ Threshold: threshold, EvaluationPeriods: 3, DatapointsToAlarm: datapoints, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' }));
    const { expression, byId } = mathOf(p);
    expect(expression).toBe(`IF(FILL(requests, 0) > 0, 100 * FILL(${id}, 0) / requests, 0)`);
    expect(byId[id]).toEqual({ Metric: { Namespace: 'AWS/Lambda', MetricName: metricName, Dimensions: dims }, Period: 300, Stat: 'Sum' });
    expect(byId.requests).toEqual({ Metric: { Namespace: 'AWS/Lambda', MetricName: 'UrlRequestCount', Dimensions: dims }, Period: 300, Stat: 'Sum' });
  });

  test('LatencyP99: p99 UrlRequestLatency of the live alias above 5000 ms for 3 of 3 periods', () => {
    expect(watched(props.LatencyP99)).toEqual({ Namespace: 'AWS/Lambda', MetricName: 'UrlRequestLatency', Dimensions: dims, Period: 300, Stat: 'p99' });
    expect(props.LatencyP99).toEqual(expect.objectContaining({
      Threshold: 5000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3, EvaluateLowSampleCountPercentile: 'ignore',
    }));
  });

  test('descriptions name the URL and say what a function URL\'s errors probably are', () => {
    expect(props.ServerErrorRate.AlarmDescription).toMatch(/^\[Public\] More than 1% of requests to the function URL failed with 5xx.* Probably: .*502 \(the function crashed, timed out or was killed\).* Do: .+/);
    expect(props.ClientErrorRate.AlarmDescription).toMatch(/^\[Public\] More than 10% of requests to the function URL failed with 4xx.* Probably: .*lambda:InvokeFunctionUrl.*throttled \(429\).* Do: .+/);
    expect(props.LatencyP99.AlarmDescription).toMatch(/^\[Public\] p99 latency of the function URL stayed above 5000 ms/);
  });
});

describe('the alarm topic', () => {
  test('created when none is given: a rotated customer managed key CloudWatch may use, TLS only, CloudWatch may publish', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const template = Template.fromStack(stack);
    const key = stack.getLogicalId(monitoring.node.findChild('AlarmTopicKey').node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
  });

  test('a given key encrypts the created topic', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new InferenceMonitoring(stack, 'Ops', { alarmTopicEncryptionKey: key });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnElement), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]) } });
  });

  test('an imported key: a warning that its policy must let CloudWatch use it', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new InferenceMonitoring(stack, 'Ops', { alarmTopicEncryptionKey: key });
    Annotations.fromStack(stack).hasWarning('/Test/Ops', Match.stringLikeRegexp('cloudwatch.amazonaws.com'));
  });

  test('a given topic gets the actions and nothing is created', () => {
    const stack = newStack();
    const topic = new sns.Topic(stack, 'Pager');
    const monitoring = new InferenceMonitoring(stack, 'Ops', { alarmTopic: topic, functions: [classifier(stack)] });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(monitoring.alarmTopic).toBe(topic);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [ref(stack, topic)], OKActions: [ref(stack, topic)] });
  });
});

describe('the dashboard', () => {
  function body(stack: Stack): string {
    const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    return JSON.stringify(dashboard.Properties.DashboardBody);
  }

  test('a section per model: invocations, latency percentiles, cold starts, load and inference time, batch size, errors by kind, concurrency, alarms', () => {
    const stack = newStack();
    new InferenceMonitoring(stack, 'Ops', { dashboardName: 'inference-ops', functions: [classifier(stack)] });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'inference-ops' });
    const text = body(stack);
    for (const title of ['## Model `demo`', 'demo: invocations, errors, throttles', 'demo: duration percentiles (ms)', 'demo: cold starts and model load time (ms)',
      'demo: inference time (ms) and batch size', 'demo: errors by kind', 'demo: concurrency', 'demo: alarms']) {
      expect(text).toContain(title);
    }
    for (const kind of ERROR_KINDS) expect(text).toContain(`\\"errorKind\\",\\"${kind}\\"`);
    for (const stat of ['p50', 'p90', 'p99']) expect(text).toContain(`\\"stat\\":\\"${stat}\\"`);
    expect(text).toContain('\\"InferenceTime\\"');
    expect(text).toContain('\\"BatchSize\\"');
    expect(text).toContain('\\"ConcurrentExecutions\\"');
  });

  test('an HTTP API and a function URL have their sections: requests and error rates, latency, alarms', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    monitoring.addHttpApi('Http', apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Api', { httpApiId: 'h77p123' }));
    monitoring.addHttpApi('Beta', apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Beta', { httpApiId: 'b3ta123' }), 'beta');
    monitoring.addFunctionUrl('Url', new InferenceFunctionUrl(stack, 'Url', { function: fn }));
    const text = body(stack);
    for (const title of ['## HTTP API `Http`', '## HTTP API `Beta`, stage `beta`', 'Http: requests and error rates (%)', 'Http: latency (ms)', 'Http: alarms',
      '## Function URL `Url` (the `live` alias)', 'Url: requests and error rates (%)', 'Url: latency (ms)', 'Url: alarms']) {
      expect(text).toContain(title);
    }
    for (const metric of ['IntegrationLatency', 'UrlRequestCount', 'Url4xxCount', 'Url5xxCount', 'UrlRequestLatency']) expect(text).toContain(`\\"${metric}\\"`);
  });

  test('queue depth, API latency and the GPU capacity provider have their sections', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops', { functions: [classifier(stack, 'Gpu', { compute: Compute.gpu() })] });
    monitoring.addQueue('Nightly', new sqs.Queue(stack, 'Queue'), new sqs.Queue(stack, 'Dlq'));
    monitoring.addRestApi('Public', apigw.RestApi.fromRestApiAttributes(stack, 'Api', { restApiId: 'abc123', rootResourceId: 'root', restApiName: 'inference' }), 'prod');
    const text = body(stack);
    for (const title of ['demo: GPU capacity provider utilisation (%)', '## Queue `Nightly`', 'Nightly: queue depth', 'Nightly: oldest message age (s)',
      '## API `Public`, stage `prod`', 'Public: requests and error rates (%)', 'Public: latency (ms)']) {
      expect(text).toContain(title);
    }
  });
});

describe('synth-time errors', () => {
  test.each<[string, MonitoringThresholds, RegExp]>([
    ['a percentage above 100', { errorRatePercent: 120 }, /thresholds.errorRatePercent must be a percentage above 0 and at most 100; got 120/],
    ['a percentage of 0', { durationTimeoutPercent: 0 }, /thresholds.durationTimeoutPercent must be a percentage above 0 and at most 100; got 0/],
    ['a negative count', { throttles: -1 }, /thresholds.throttles must be a whole number of at least 0 \(the alarm fires above it\); got -1/],
    ['a fractional count', { deadLetterQueueMessages: 0.5 }, /thresholds.deadLetterQueueMessages must be a whole number of at least 0.*got 0.5/],
    ['a zero duration', { apiLatencyP99: Duration.seconds(0) }, /thresholds.apiLatencyP99 must be longer than zero; got 0 seconds/],
  ])('%s on the construct', (_name, thresholds, error) => {
    expect(() => new InferenceMonitoring(newStack(), 'Ops', { thresholds })).toThrow(error);
  });

  test('an invalid override names the target', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    expect(() => monitoring.addQueue('Jobs', new sqs.Queue(stack, 'Queue'), undefined, { queueOldestMessageAge: Duration.seconds(0) }))
      .toThrow(/Ops\/Queue-Jobs: thresholds.queueOldestMessageAge must be longer than zero/);
  });

  test('alarmTopic and alarmTopicEncryptionKey together', () => {
    const stack = newStack();
    expect(() => new InferenceMonitoring(stack, 'Ops', { alarmTopic: new sns.Topic(stack, 'T'), alarmTopicEncryptionKey: new kms.Key(stack, 'K') }))
      .toThrow(/Give alarmTopic or alarmTopicEncryptionKey, not both/);
  });

  test('two queues or two APIs of the same name', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    monitoring.addQueue('Jobs', new sqs.Queue(stack, 'A'));
    expect(() => monitoring.addQueue('Jobs', new sqs.Queue(stack, 'B'))).toThrow(/A queue named "Jobs" is already monitored/);
    const api = apigw.RestApi.fromRestApiAttributes(stack, 'Api', { restApiId: 'abc123', rootResourceId: 'root' });
    monitoring.addRestApi('Public', api, 'prod');
    expect(() => monitoring.addRestApi('Public', api, 'dev')).toThrow(/An? api named "Public" is already monitored/);
  });

  test('two HTTP APIs or two function URLs of the same name; a REST and an HTTP API may share one', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const http = apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Http', { httpApiId: 'h77p123' });
    monitoring.addRestApi('Public', apigw.RestApi.fromRestApiAttributes(stack, 'Api', { restApiId: 'abc123', rootResourceId: 'root' }), 'prod');
    expect(monitoring.addHttpApi('Public', http)).toHaveLength(3);
    expect(() => monitoring.addHttpApi('Public', http, 'beta')).toThrow(/An HTTP API named "Public" is already monitored/);
    const url = new InferenceFunctionUrl(stack, 'Url', { function: classifier(stack) });
    monitoring.addFunctionUrl('Public', url);
    expect(() => monitoring.addFunctionUrl('Public', url)).toThrow(/A function URL named "Public" is already monitored/);
  });

  test('an invalid override of an HTTP API or a function URL names the target', () => {
    const stack = newStack();
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    expect(() => monitoring.addHttpApi('Public', apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Http', { httpApiId: 'h77p123' }), undefined, { apiLatencyP99: Duration.seconds(0) }))
      .toThrow(/Ops\/HttpApi-Public: thresholds.apiLatencyP99 must be longer than zero/);
    expect(() => monitoring.addFunctionUrl('Public', new InferenceFunctionUrl(stack, 'Url', { function: classifier(stack) }), { apiServerErrorRatePercent: 101 }))
      .toThrow(/Ops\/FunctionUrl-Public: thresholds.apiServerErrorRatePercent must be a percentage above 0 and at most 100; got 101/);
    expect(() => monitoring.addHttpApi('bad/name', apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Other', { httpApiId: 'x' }))).toThrow(/The HTTP API name must be 1-64 letters/);
  });

  test('a name that cannot label a dashboard section', () => {
    const stack = newStack();
    expect(() => new InferenceMonitoring(stack, 'Ops').addQueue('jobs/*', new sqs.Queue(stack, 'Q'))).toThrow(/The queue name must be 1-64 letters.*got "jobs\/\*"/);
  });
});

describe('the contract with the runtime', () => {
  test('the monitoring constructs read the names of the public contract, which the runtime imports (lib/runtime-contract.ts)', () => {
    expect(RUNTIME_NAMESPACE).toBe(RuntimeMetrics.NAMESPACE);
    expect(Object.values(RUNTIME_METRIC).sort()).toEqual([
      RuntimeMetrics.BATCH_FAILED_ROWS, RuntimeMetrics.BATCH_ROWS, RuntimeMetrics.BATCH_SIZE, RuntimeMetrics.COLD_START,
      RuntimeMetrics.ERRORS, RuntimeMetrics.INFERENCE_TIME, RuntimeMetrics.MODEL_LOAD_TIME,
    ].sort());
    expect([...ERROR_KINDS]).toEqual(Object.values(RuntimeErrorKind));
  });

  test('TensorFlowFunction sets the namespace and the service name the dimensions expect', () => {
    const stack = newStack();
    const fn = classifier(stack);
    expect(fn.serviceName).toMatch(/^TestClassifier[0-9A-F]{8}$/);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: RUNTIME_NAMESPACE, POWERTOOLS_SERVICE_NAME: fn.serviceName }) },
    });
  });

  test('two functions serving models of the same name read their own runtime metrics (the service dimension differs)', () => {
    const stack = newStack();
    const a = classifier(stack, 'Cats');
    const b = classifier(stack, 'Dogs');
    const monitoring = new InferenceMonitoring(stack, 'Ops', { functions: [a, b] });
    expect(monitoring.alarms.length).toBeGreaterThan(0);
    const alarms = Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm');
    const services = new Set(JSON.stringify(alarms).match(/"Name":"service","Value":"([^"]+)"/g) ?? []);
    expect(a.serviceName).not.toBe(b.serviceName);
    expect([...services].sort()).toEqual([a.serviceName, b.serviceName].map((s) => `"Name":"service","Value":"${s}"`).sort());
  });
});

describe('a small monitored stack', () => {
  function monitoredStack(app: App): Stack {
    const stack = new Stack(app, 'Monitored', { env: { account: '123456789012', region: 'us-east-1' } });
    const monitoring = new InferenceMonitoring(stack, 'Ops', { dashboardName: 'demo-inference', functions: [classifier(stack)] });
    monitoring.addQueue('Jobs', sqs.Queue.fromQueueArn(stack, 'Jobs', 'arn:aws:sqs:us-east-1:123456789012:jobs'), sqs.Queue.fromQueueArn(stack, 'JobsDlq', 'arn:aws:sqs:us-east-1:123456789012:jobs-dlq'));
    monitoring.addRestApi('Public', apigw.RestApi.fromRestApiAttributes(stack, 'Api', { restApiId: 'abc123', rootResourceId: 'root', restApiName: 'inference' }), 'prod');
    return stack;
  }

  test('the monitoring resources match their snapshot', () => {
    const stack = monitoredStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string }>;
    const monitoringTypes = ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Dashboard', 'AWS::Logs::MetricFilter', 'AWS::SNS::Topic', 'AWS::SNS::TopicPolicy', 'AWS::KMS::Key'];
    const monitoring = Object.fromEntries(Object.entries(resources).filter(([, r]) => monitoringTypes.includes(r.Type)));
    expect(masked(monitoring)).toMatchSnapshot();
  });

  test('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    monitoredStack(app);
    let report = '';
    try {
      app.synth();
    } catch (err) {
      const file = /found in: (\S+)/.exec((err as Error).message)?.[1];
      report = file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : (err as Error).message;
    }
    expect(report).toBe('');
  });

  test('with an HTTP API and a function URL monitored, still no unacknowledged cdk-nag finding', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = monitoredStack(app);
    const monitoring = stack.node.findChild('Ops') as InferenceMonitoring;
    monitoring.addHttpApi('Http', apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Http', { httpApiId: 'h77p123' }));
    monitoring.addFunctionUrl('Url', new InferenceFunctionUrl(stack, 'Url', { function: stack.node.findChild('Classifier') as TensorFlowFunction }));
    expect(nagReport(app)).toBe('');
  });
});
