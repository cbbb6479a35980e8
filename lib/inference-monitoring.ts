// Operations for TensorFlow inference: alarms with thresholds that can be overridden, each
// saying what probably happened and what to do, on one SNS topic, and a CloudWatch
// dashboard with a section per model, queue and API. A thin wiring layer over metric
// factories, alarm specs per concern and dashboard sections (lib/private/monitoring/).
import { Annotations, Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { InferenceFunctionUrl } from './inference-function-url';
import { AlarmFactory } from './private/monitoring/alarm-factory';
import type { AlarmSpec } from './private/monitoring/alarm-factory';
import { createAlarmTopic } from './private/monitoring/alarm-topic';
import { functionUrlAlarmSpecs, httpApiAlarmSpecs, restApiAlarmSpecs } from './private/monitoring/api-alarms';
import { batchAlarmSpecs } from './private/monitoring/batch-alarms';
import { batchRowsSection, functionSection, functionUrlSection, httpApiSection, queueSection, restApiSection } from './private/monitoring/dashboard-sections';
import { addOutOfMemoryKillFilter, functionAlarmSpecs } from './private/monitoring/function-alarms';
import { FunctionMetricFactory, FunctionUrlMetricFactory, HttpApiMetricFactory, QueueMetricFactory, RestApiMetricFactory } from './private/monitoring/metric-factories';
import { queueAlarmSpecs } from './private/monitoring/queue-alarms';
import { resolveThresholds } from './private/monitoring/thresholds';
import type { ResolvedThresholds } from './private/monitoring/thresholds';
import { TensorFlowValidationError } from './private/validation-error';
import type { TensorFlowFunction } from './tensorflow-function';

/**
 * Alarm thresholds. Each alarm fires above its threshold; leave a threshold unset for its default.
 */
export interface MonitoringThresholds {
  /**
   * Function errors (crashes, timeouts, out-of-memory kills) as a percentage of invocations
   * of the `live` alias, in 2 of 3 five-minute periods.
   *
   * @default 5
   */
  readonly errorRatePercent?: number;

  /**
   * Throttled invocations per five minutes, in 2 of 3 periods.
   *
   * @default 0
   */
  readonly throttles?: number;

  /**
   * p99 duration as a percentage of the function's timeout, for 15 minutes.
   *
   * @default 80
   */
  readonly durationTimeoutPercent?: number;

  /**
   * Invocations that started a new execution environment (the runtime's ColdStart metric),
   * as a percentage of invocations, for 15 minutes; periods with fewer than 10 invocations
   * count as 0. Not for GPU compute, whose environments start before they take traffic.
   *
   * @default 10
   */
  readonly coldStartRatePercent?: number;

  /**
   * Longest time to load and warm the model in an environment's init (the runtime's
   * ModelLoadTime metric). Lambda stops an on-demand init at 10 seconds.
   *
   * @default Duration.seconds(8)
   */
  readonly modelLoadTime?: Duration;

  /**
   * Out-of-memory errors the runtime caught and answered with 503 (TensorFlow host or CUDA
   * memory; the runtime's Errors metric with errorKind OutOfMemory) per five minutes.
   *
   * @default 0
   */
  readonly outOfMemoryErrors?: number;

  /**
   * Times Lambda killed the runtime for exceeding memorySize (Runtime.OutOfMemory in the
   * function's log) per five minutes.
   *
   * @default 0
   */
  readonly outOfMemoryKills?: number;

  /**
   * Invocations per five minutes that overflowed provisioned concurrency, in 2 of 3 periods.
   * Only for functions with provisioned concurrency.
   *
   * @default 0
   */
  readonly provisionedConcurrencySpillover?: number;

  /**
   * CPU utilisation of the GPU capacity provider's instances (the highest instance type),
   * for 15 minutes. Only for GPU compute.
   *
   * @default 90
   */
  readonly capacityProviderCpuPercent?: number;

  /**
   * Messages in a queue's dead-letter queue.
   *
   * @default 0
   */
  readonly deadLetterQueueMessages?: number;

  /**
   * Age of the oldest message in a queue.
   *
   * @default Duration.minutes(15)
   */
  readonly queueOldestMessageAge?: Duration;

  /**
   * Rows of S3 batch inputs (CSV rows, JSON lines, images) that went to errors files, as a
   * percentage of the rows read, in a five-minute period (the runtime's BatchRows and
   * BatchFailedRows metrics). Only where batch rows are monitored (addBatchRows, BatchInference.monitor()).
   *
   * @default 5
   */
  readonly batchFailedRowRatePercent?: number;

  /**
   * 5xx responses as a percentage of requests, in 2 of 3 five-minute periods: of a REST
   * API stage, an HTTP API or a function URL.
   *
   * @default 1
   */
  readonly apiServerErrorRatePercent?: number;

  /**
   * 4xx responses as a percentage of requests, for 15 minutes: of a REST API stage, an
   * HTTP API or a function URL.
   *
   * @default 10
   */
  readonly apiClientErrorRatePercent?: number;

  /**
   * p99 latency of a REST API stage, an HTTP API or a function URL, for 15 minutes.
   *
   * @default Duration.seconds(5)
   */
  readonly apiLatencyP99?: Duration;
}

/**
 * Properties of InferenceMonitoring.
 */
export interface InferenceMonitoringProps {
  /**
   * Where alarms (and their return to OK) are sent.
   *
   * @default - a topic encrypted with `alarmTopicEncryptionKey`, accepting TLS only
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * The key that encrypts the created alarm topic. Its key policy must let
   * cloudwatch.amazonaws.com use it (added when the key is defined in this app). The AWS
   * managed key alias/aws/sns cannot be used: CloudWatch alarms cannot publish through it.
   *
   * @default - a customer managed key with rotation
   */
  readonly alarmTopicEncryptionKey?: kms.IKey;

  /**
   * The dashboard's name.
   *
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;

  /**
   * Alarm thresholds for everything monitored; each add* method can override them.
   *
   * @default - the default of each threshold
   */
  readonly thresholds?: MonitoringThresholds;

  /**
   * Functions to monitor; more can be added with addFunction() or their monitor().
   *
   * @default - none
   */
  readonly functions?: TensorFlowFunction[];
}

/**
 * Alarms and a dashboard for TensorFlow inference: functions, their queues and their front
 * doors (REST APIs, HTTP APIs, function URLs).
 *
 * @example
 * const monitoring = new InferenceMonitoring(this, 'Ops', { functions: [classifier] });
 * monitoring.addQueue('Nightly', queue, deadLetterQueue);
 */
export class InferenceMonitoring extends Construct {
  /** The topic alarms are sent to. */
  public readonly alarmTopic: sns.ITopic;
  /** The dashboard: a section per model, queue, API and function URL. */
  public readonly dashboard: cloudwatch.Dashboard;

  private readonly thresholds?: MonitoringThresholds;
  private readonly alarmFactory: AlarmFactory;
  private readonly allAlarms: cloudwatch.Alarm[] = [];
  private readonly functionAlarms = new Map<TensorFlowFunction, cloudwatch.Alarm[]>();
  private readonly batchRowAlarms = new Map<TensorFlowFunction, cloudwatch.Alarm[]>();
  private readonly names = new Set<string>();

  public constructor(scope: Construct, id: string, props: InferenceMonitoringProps = {}) {
    super(scope, id);
    if (props.alarmTopic && props.alarmTopicEncryptionKey) {
      throw new TensorFlowValidationError(this, 'Give alarmTopic or alarmTopicEncryptionKey, not both: the key only encrypts a topic this construct creates.');
    }
    this.thresholds = props.thresholds;
    resolveThresholds(this, 'thresholds', props.thresholds);
    this.alarmTopic = props.alarmTopic ?? createAlarmTopic(this, props.alarmTopicEncryptionKey);
    this.alarmFactory = new AlarmFactory(this.alarmTopic);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    for (const fn of props.functions ?? []) this.addFunction(fn);
  }

  /** Every alarm created so far. */
  public get alarms(): cloudwatch.Alarm[] {
    return [...this.allAlarms];
  }

  /**
   * Monitors a TensorFlowFunction: errors, throttles, duration near the timeout, cold
   * starts, model load time, out of memory (caught by the runtime, or killed by Lambda),
   * provisioned concurrency spillover and, on GPU, the capacity provider.
   *
   * A function already monitored is not monitored twice: the first call's alarms are returned.
   *
   * @returns the function's alarms
   */
  public addFunction(fn: TensorFlowFunction, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    const existing = this.functionAlarms.get(fn);
    if (existing) {
      if (thresholds) {
        Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:AlreadyMonitored',
          `${fn.node.path} is already monitored: the thresholds of this addFunction call are not applied. Give them in the first call.`);
      }
      return [...existing];
    }
    const scope = new Construct(this, this.uniqueId(`Model-${fn.modelName}`));
    const t = this.resolve(scope, thresholds);
    const metrics = new FunctionMetricFactory(fn);
    addOutOfMemoryKillFilter(scope, fn, metrics);
    const alarms = this.createAlarms(scope, fn.modelName, functionAlarmSpecs(fn, metrics, t));
    this.dashboard.addWidgets(...functionSection(fn, metrics, alarms).map((row) => new cloudwatch.Row(...row)));
    this.functionAlarms.set(fn, alarms);
    return [...alarms];
  }

  /**
   * Monitors an SQS queue that feeds inference: the age of its oldest message and, when
   * given, the depth of its dead-letter queue.
   *
   * @param name a name for the queue on the dashboard and in alarm descriptions, unique in this construct
   * @returns the queue's alarms
   */
  public addQueue(name: string, queue: sqs.IQueue, deadLetterQueue?: sqs.IQueue, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    const scope = new Construct(this, this.claimName(name, 'Queue'));
    const t = this.resolve(scope, thresholds);
    const metrics = new QueueMetricFactory(queue, deadLetterQueue);
    const alarms = this.createAlarms(scope, name, queueAlarmSpecs(name, metrics, t));
    this.dashboard.addWidgets(...queueSection(name, metrics, alarms).map((row) => new cloudwatch.Row(...row)));
    return [...alarms];
  }

  /**
   * Monitors the rows of S3 batch inference by a function: the share of rows (CSV rows,
   * JSON lines, images) that went to errors files instead of predictions. Failed rows are
   * not function errors (their chunk succeeds and says why each row failed), so without this
   * a producer that starts sending rows the model cannot read goes unnoticed.
   * BatchInference.monitor() calls it.
   *
   * The runtime counts rows per model, so a function is monitored once: a second call for
   * the same function returns the first call's alarms.
   *
   * @param name a name for the batch pipeline on the dashboard and in alarm descriptions, unique in this construct
   * @returns the alarms created
   */
  public addBatchRows(name: string, fn: TensorFlowFunction, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    const existing = this.batchRowAlarms.get(fn);
    if (existing) return [...existing];
    const scope = new Construct(this, this.claimName(name, 'Batch'));
    const t = this.resolve(scope, thresholds);
    const metrics = new FunctionMetricFactory(fn);
    const alarms = this.createAlarms(scope, name, batchAlarmSpecs(metrics, t));
    this.dashboard.addWidgets(...batchRowsSection(name, metrics, alarms).map((row) => new cloudwatch.Row(...row)));
    this.batchRowAlarms.set(fn, alarms);
    return [...alarms];
  }

  /**
   * Monitors one stage of an API Gateway REST API: 5XX and 4XX rates (metric math over
   * 5XXError, 4XXError and Count) and p99 latency.
   *
   * @param name a name for the API on the dashboard and in alarm descriptions, unique in this construct
   * @param stage the stage name (the metrics' Stage dimension)
   * @returns the API's alarms
   */
  public addRestApi(name: string, api: apigw.IRestApi, stage: string, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    const scope = new Construct(this, this.claimName(name, 'Api'));
    const t = this.resolve(scope, thresholds);
    const metrics = new RestApiMetricFactory(api, stage);
    const alarms = this.createAlarms(scope, name, restApiAlarmSpecs(metrics, t));
    this.dashboard.addWidgets(...restApiSection(name, metrics, alarms).map((row) => new cloudwatch.Row(...row)));
    return [...alarms];
  }

  /**
   * Monitors an API Gateway HTTP API: 5xx and 4xx rates (metric math over its 5xx, 4xx and
   * Count metrics) and p99 latency, with the same thresholds as a REST API.
   * InferenceHttpApi.monitor() calls it.
   *
   * HTTP API metrics carry the ApiId dimension (all stages together) and ApiId with Stage
   * (one stage). Without `stage` the alarms read ApiId alone, which for an API whose only
   * stage is `$default` (InferenceHttpApi's) is that stage's traffic.
   *
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
   * @param name a name for the API on the dashboard and in alarm descriptions, unique in this construct
   * @param api the HTTP API
   * @param stage a stage name, to watch that stage alone (the metrics' Stage dimension); default: every stage of the API
   * @param thresholds overrides of this construct's thresholds, for this API
   * @returns the API's alarms
   */
  public addHttpApi(name: string, api: apigwv2.IHttpApi, stage?: string, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    const scope = new Construct(this, this.claimName(name, 'HttpApi', 'HTTP API'));
    const t = this.resolve(scope, thresholds);
    const metrics = new HttpApiMetricFactory(api, stage);
    const alarms = this.createAlarms(scope, name, httpApiAlarmSpecs(metrics, t));
    this.dashboard.addWidgets(...httpApiSection(name, metrics, alarms).map((row) => new cloudwatch.Row(...row)));
    return [...alarms];
  }

  /**
   * Monitors an InferenceFunctionUrl: 5xx and 4xx rates and p99 latency of the requests to
   * its URL, with the API thresholds (apiServerErrorRatePercent, apiClientErrorRatePercent,
   * apiLatencyP99). InferenceFunctionUrl.monitor() calls it, with the function's alarms.
   *
   * Lambda publishes UrlRequestCount, Url4xxCount, Url5xxCount and UrlRequestLatency in
   * AWS/Lambda; the alarms read them with the dimensions of the `live` alias's other metrics,
   * FunctionName and Resource `<function name>:live` (Lambda documents Resource as the
   * function name and the alias the URL is on). Assumed, as the documentation does not say:
   * that UrlRequestLatency has percentiles (it recommends Average and Maximum; without
   * percentiles the latency alarm stays OK), and that the counts may be absent rather than
   * 0 in quiet periods (they are read as 0).
   *
   * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html
   * @param name a name for the URL on the dashboard and in alarm descriptions, unique in this construct
   * @param url the function URL
   * @param thresholds overrides of this construct's thresholds, for this URL
   * @returns the URL's alarms
   */
  public addFunctionUrl(name: string, url: InferenceFunctionUrl, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    const scope = new Construct(this, this.claimName(name, 'FunctionUrl', 'function URL'));
    const t = this.resolve(scope, thresholds);
    const metrics = new FunctionUrlMetricFactory(url.function);
    const alarms = this.createAlarms(scope, name, functionUrlAlarmSpecs(metrics, t));
    this.dashboard.addWidgets(...functionUrlSection(name, metrics, alarms).map((row) => new cloudwatch.Row(...row)));
    return [...alarms];
  }

  private resolve(scope: Construct, overrides?: MonitoringThresholds): ResolvedThresholds {
    return resolveThresholds(scope, 'thresholds', this.thresholds, overrides);
  }

  private createAlarms(scope: Construct, target: string, specs: AlarmSpec[]): cloudwatch.Alarm[] {
    const alarms = specs.map((spec) => this.alarmFactory.createAlarm(scope, target, spec));
    this.allAlarms.push(...alarms);
    return alarms;
  }

  /** Queue, API and URL names identify them on the dashboard: they must be unique per kind. */
  private claimName(name: string, kind: string, noun: string = kind.toLowerCase()): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name)) {
      throw new TensorFlowValidationError(this, `The ${noun} name must be 1-64 letters, digits, spaces, '.', '_' or '-'; got "${name}".`);
    }
    const id = `${kind}-${name}`;
    if (this.names.has(id)) {
      const article = /^([aeiou]|HTTP)/i.test(noun) ? 'An' : 'A';
      throw new TensorFlowValidationError(this, `${article} ${noun} named "${name}" is already monitored: give each a different name.`);
    }
    this.names.add(id);
    return id;
  }

  /** Two functions may serve models of the same name: number the second. */
  private uniqueId(base: string): string {
    let id = base;
    for (let n = 2; this.node.tryFindChild(id); n++) id = `${base}-${n}`;
    return id;
  }
}
