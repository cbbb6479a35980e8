// Dashboard rows for each monitored target: a header naming it, its graphs, and the state
// of its alarms. Graphs only read the metric factories.
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { FunctionMetricFactory, FunctionUrlMetricFactory, HttpApiMetricFactory, QueueMetricFactory, RestApiMetricFactory } from './metric-factories';
import { ERROR_KINDS } from './runtime-metrics';
import type { TensorFlowFunction } from '../../tensorflow-function';

const WIDTH = 8;
const HEIGHT = 6;

function graph(title: string, left: cloudwatch.IMetric[], options: Partial<cloudwatch.GraphWidgetProps> = {}): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...options });
}

function header(markdown: string): cloudwatch.TextWidget {
  return new cloudwatch.TextWidget({ markdown, width: 24, height: 2 });
}

function alarmStatus(title: string, alarms: cloudwatch.IAlarm[]): cloudwatch.AlarmStatusWidget {
  return new cloudwatch.AlarmStatusWidget({ title, alarms, width: WIDTH, height: HEIGHT });
}

export function functionSection(fn: TensorFlowFunction, metrics: FunctionMetricFactory, alarms: cloudwatch.IAlarm[]): cloudwatch.IWidget[][] {
  const model = fn.modelName;
  const timeoutMs = fn.timeout.toMilliseconds();
  const rows: cloudwatch.IWidget[][] = [
    [header(`## Model \`${model}\`\n${fn.computeType} compute, ${fn.memorySize} MiB, timeout ${fn.timeout.toHumanString()}; Lambda metrics are of the \`live\` alias, runtime metrics of namespace ServerlessTensorFlow, model ${model}.`)],
    [
      graph(`${model}: invocations, errors, throttles`, [metrics.metricInvocations()], { right: [metrics.metricErrors(), metrics.metricThrottles()] }),
      graph(`${model}: duration percentiles (ms)`, ['p50', 'p90', 'p99', 'Maximum'].map((s) => metrics.metricDuration(s)), {
        leftAnnotations: [{ value: timeoutMs, label: 'Timeout', color: cloudwatch.Color.RED }],
      }),
      graph(`${model}: errors by kind`, ERROR_KINDS.map((k) => metrics.metricErrorsOfKind(k)).concat(metrics.metricOutOfMemoryKills()), { stacked: true }),
    ],
    [
      graph(`${model}: cold starts and model load time (ms)`, [metrics.metricModelLoadTime('Average'), metrics.metricModelLoadTime('Maximum')], { right: [metrics.metricColdStarts()] }),
      graph(`${model}: inference time (ms) and batch size`, [metrics.metricInferenceTime('p50'), metrics.metricInferenceTime('p99')], {
        right: [metrics.metricBatchSize('Average'), metrics.metricBatchSize('Maximum')],
      }),
      graph(`${model}: concurrency`, [metrics.metricConcurrentExecutions()], {
        right: metrics.provisionedConcurrency === undefined ? [] : [
          metrics.metricProvisionedConcurrencyUtilization(),
          metrics.metricProvisionedConcurrencySpillover(),
        ],
      }),
    ],
  ];
  const last: cloudwatch.IWidget[] = [];
  const cpu = metrics.metricCapacityProvider('CPUUtilization');
  const memory = metrics.metricCapacityProvider('MemoryUtilization');
  if (cpu && memory) {
    last.push(graph(`${model}: GPU capacity provider utilisation (%)`, [cpu, memory], { leftYAxis: { min: 0, max: 100 } }));
  }
  last.push(alarmStatus(`${model}: alarms`, alarms));
  rows.push(last);
  return rows;
}

export function queueSection(name: string, metrics: QueueMetricFactory, alarms: cloudwatch.IAlarm[]): cloudwatch.IWidget[][] {
  const dlq = metrics.metricDeadLetterMessages();
  return [
    [header(`## Queue \`${name}\``)],
    [
      graph(`${name}: queue depth`, [metrics.metricVisibleMessages(), metrics.metricInFlightMessages()], { right: dlq ? [dlq] : [] }),
      graph(`${name}: oldest message age (s)`, [metrics.metricOldestMessageAge()]),
      alarmStatus(`${name}: alarms`, alarms),
    ],
  ];
}

export function restApiSection(name: string, metrics: RestApiMetricFactory, alarms: cloudwatch.IAlarm[]): cloudwatch.IWidget[][] {
  return frontDoorSection(`## API \`${name}\`, stage \`${metrics.stageName}\``, name, alarms, [metrics.metricRequests()],
    [metrics.metricErrorRate('4XXError'), metrics.metricErrorRate('5XXError')],
    [metrics.metricLatency('p50'), metrics.metricLatency('p90'), metrics.metricLatency('p99'), metrics.metricIntegrationLatency('p99')]);
}

export function httpApiSection(name: string, metrics: HttpApiMetricFactory, alarms: cloudwatch.IAlarm[]): cloudwatch.IWidget[][] {
  const stage = metrics.stageName === undefined ? '' : `, stage \`${metrics.stageName}\``;
  return frontDoorSection(`## HTTP API \`${name}\`${stage}`, name, alarms, [metrics.metricRequests()],
    [metrics.metricErrorRate('4xx'), metrics.metricErrorRate('5xx')],
    [metrics.metricLatency('p50'), metrics.metricLatency('p90'), metrics.metricLatency('p99'), metrics.metricIntegrationLatency('p99')]);
}

export function functionUrlSection(name: string, metrics: FunctionUrlMetricFactory, alarms: cloudwatch.IAlarm[]): cloudwatch.IWidget[][] {
  return frontDoorSection(`## Function URL \`${name}\` (the \`live\` alias)`, name, alarms, [metrics.metricRequests()],
    [metrics.metricClientErrorRate(), metrics.metricServerErrorRate()],
    [metrics.metricLatency('p50'), metrics.metricLatency('p90'), metrics.metricLatency('p99')]);
}

/** A front door's rows: requests with their error rates, latency percentiles, and its alarms. */
function frontDoorSection(
  title: string, name: string, alarms: cloudwatch.IAlarm[],
  requests: cloudwatch.IMetric[], errorRates: cloudwatch.IMetric[], latencies: cloudwatch.IMetric[],
): cloudwatch.IWidget[][] {
  return [
    [header(title)],
    [
      graph(`${name}: requests and error rates (%)`, requests, { right: errorRates }),
      graph(`${name}: latency (ms)`, latencies),
      alarmStatus(`${name}: alarms`, alarms),
    ],
  ];
}

export function batchRowsSection(name: string, metrics: FunctionMetricFactory, alarms: cloudwatch.IAlarm[]): cloudwatch.IWidget[][] {
  return [
    [header(`## Batch rows \`${name}\` (model \`${metrics.modelName}\`)`)],
    [
      graph(`${name}: rows read and failed`, [metrics.metricBatchRows(), metrics.metricBatchFailedRows()]),
      graph(`${name}: failed row rate (%)`, [metrics.metricBatchFailedRowRate()], { leftYAxis: { min: 0, max: 100 } }),
      alarmStatus(`${name}: alarms`, alarms),
    ],
  ];
}
