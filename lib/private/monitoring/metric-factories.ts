// Metric factories: they only build CloudWatch metrics (no alarms, no widgets), one class
// per monitored resource, in the shape of cdk-monitoring-constructs' `*MetricFactory`.
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  CAPACITY_PROVIDER_NAMESPACE, LAMBDA_OOM_NAMESPACE, RUNTIME_METRIC, RUNTIME_NAMESPACE, runtimeDimensions,
} from './runtime-metrics';
import type { ErrorKindName } from './runtime-metrics';
import { ComputeType } from '../../compute';
import { RuntimeMetrics } from '../../runtime-contract';
import type { TensorFlowFunction } from '../../tensorflow-function';

/** Alarms and graphs look at five-minute periods. */
export const PERIOD = Duration.minutes(5);

/** Below this many invocations in a period, a cold start rate says nothing: it reads 0. */
export const MIN_INVOCATIONS_FOR_COLD_START_RATE = 10;

/** Lambda's metrics of the `live` alias, the runtime's embedded metrics, and the GPU capacity provider's. */
export class FunctionMetricFactory {
  public constructor(private readonly fn: TensorFlowFunction) {}

  public get modelName(): string {
    return this.fn.modelName;
  }

  public get isGpu(): boolean {
    return this.fn.computeType === ComputeType.GPU && this.fn.capacityProvider !== undefined;
  }

  /** Provisioned concurrency of the `live` alias, when it has any. */
  public get provisionedConcurrency(): number | undefined {
    const cfn = this.fn.alias.node.defaultChild as lambda.CfnAlias;
    const config = Stack.of(this.fn).resolve(cfn.provisionedConcurrencyConfig) as { provisionedConcurrentExecutions?: number } | undefined;
    return config?.provisionedConcurrentExecutions;
  }

  public metricInvocations(): cloudwatch.Metric {
    return this.fn.metricInvocations({ period: PERIOD, label: 'Invocations' });
  }

  public metricErrors(): cloudwatch.Metric {
    return this.fn.metricErrors({ period: PERIOD, label: 'Errors' });
  }

  public metricThrottles(): cloudwatch.Metric {
    return this.fn.metricThrottles({ period: PERIOD, label: 'Throttles' });
  }

  /** Function errors as a percentage of invocations. */
  public metricErrorRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'IF(FILL(invocations, 0) > 0, 100 * FILL(errors, 0) / invocations, 0)',
      usingMetrics: { errors: this.metricErrors(), invocations: this.metricInvocations() },
      period: PERIOD,
      label: 'Error rate (%)',
    });
  }

  public metricDuration(statistic: string): cloudwatch.Metric {
    return this.fn.metricDuration({ statistic, period: PERIOD, label: `Duration ${statistic}` });
  }

  public metricConcurrentExecutions(): cloudwatch.Metric {
    return this.fn.metricConcurrentExecutions({ period: PERIOD, label: 'Concurrent executions (max)' });
  }

  public metricProvisionedConcurrencySpillover(): cloudwatch.Metric {
    return this.fn.metricProvisionedConcurrencySpilloverInvocations({ period: PERIOD, label: 'Spillover invocations' });
  }

  public metricProvisionedConcurrencyUtilization(): cloudwatch.Metric {
    return this.fn.metric('ProvisionedConcurrencyUtilization', { statistic: 'Maximum', period: PERIOD, label: 'Provisioned concurrency utilisation (max)' });
  }

  /** Execution environments started (the runtime counts its first invocation). */
  public metricColdStarts(): cloudwatch.Metric {
    return this.runtimeMetric(RUNTIME_METRIC.COLD_START, 'Sum', 'Cold starts');
  }

  /**
   * Cold starts as a percentage of invocations; 0 while there are fewer than
   * MIN_INVOCATIONS_FOR_COLD_START_RATE invocations in the period.
   */
  public metricColdStartRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `IF(invocations >= ${MIN_INVOCATIONS_FOR_COLD_START_RATE}, 100 * FILL(coldStarts, 0) / invocations, 0)`,
      usingMetrics: { coldStarts: this.metricColdStarts(), invocations: this.metricInvocations() },
      period: PERIOD,
      label: 'Cold start rate (%)',
    });
  }

  /** Time to load and warm the model, in the init phase. */
  public metricModelLoadTime(statistic: string): cloudwatch.Metric {
    return this.runtimeMetric(RUNTIME_METRIC.MODEL_LOAD_TIME, statistic, `Model load time ${statistic}`);
  }

  public metricInferenceTime(statistic: string): cloudwatch.Metric {
    return this.runtimeMetric(RUNTIME_METRIC.INFERENCE_TIME, statistic, `Inference time ${statistic}`);
  }

  public metricBatchSize(statistic: string): cloudwatch.Metric {
    return this.runtimeMetric(RUNTIME_METRIC.BATCH_SIZE, statistic, `Batch size ${statistic}`);
  }

  /** Rows read from S3 batch inputs (counted when their chunk is done). */
  public metricBatchRows(): cloudwatch.Metric {
    return this.runtimeMetric(RUNTIME_METRIC.BATCH_ROWS, 'Sum', 'Batch rows');
  }

  /** Rows of S3 batch inputs that went to errors files. */
  public metricBatchFailedRows(): cloudwatch.Metric {
    return this.runtimeMetric(RUNTIME_METRIC.BATCH_FAILED_ROWS, 'Sum', 'Failed batch rows');
  }

  /** Failed batch rows as a percentage of batch rows; 0 in periods without batch rows. */
  public metricBatchFailedRowRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'IF(FILL(rows, 0) > 0, 100 * FILL(failed, 0) / rows, 0)',
      usingMetrics: { rows: this.metricBatchRows(), failed: this.metricBatchFailedRows() },
      period: PERIOD,
      label: 'Failed row rate (%)',
    });
  }

  /** Requests the runtime answered with an error, of one kind. */
  public metricErrorsOfKind(kind: ErrorKindName): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: RUNTIME_NAMESPACE,
      metricName: RUNTIME_METRIC.ERRORS,
      dimensionsMap: { ...runtimeDimensions(this.fn), [RuntimeMetrics.ERROR_KIND_DIMENSION]: kind },
      statistic: 'Sum',
      period: PERIOD,
      label: kind,
    });
  }

  /** Lambda's out-of-memory kills, counted by the log metric filter on the function's log group. */
  public metricOutOfMemoryKills(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: LAMBDA_OOM_NAMESPACE,
      metricName: this.outOfMemoryKillsMetricName,
      statistic: 'Sum',
      period: PERIOD,
      label: 'Out-of-memory kills (Lambda)',
    });
  }

  /** The metric filter's metric name: the function's name, so each function has its own. */
  public get outOfMemoryKillsMetricName(): string {
    return this.fn.function.functionName;
  }

  /**
   * A capacity provider metric (CPUUtilization, MemoryUtilization), the highest over its
   * instance types: Lambda publishes them per CapacityProviderName and InstanceType, so a
   * Metrics Insights query spans the types without naming them.
   */
  public metricCapacityProvider(metricName: string): cloudwatch.MathExpression | undefined {
    const provider = this.fn.capacityProvider;
    if (!this.isGpu || !provider) return undefined;
    return new cloudwatch.MathExpression({
      expression: `SELECT MAX(${metricName}) FROM SCHEMA("${CAPACITY_PROVIDER_NAMESPACE}", CapacityProviderName, InstanceType) WHERE CapacityProviderName = '${provider.capacityProviderName}'`,
      period: PERIOD,
      label: `Capacity provider ${metricName} (max)`,
    });
  }

  private runtimeMetric(metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: RUNTIME_NAMESPACE,
      metricName,
      dimensionsMap: runtimeDimensions(this.fn),
      statistic,
      period: PERIOD,
      label,
    });
  }
}

/** An SQS queue and its dead-letter queue. */
export class QueueMetricFactory {
  public constructor(private readonly queue: sqs.IQueue, private readonly deadLetterQueue?: sqs.IQueue) {}

  public metricVisibleMessages(): cloudwatch.Metric {
    return this.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: PERIOD, label: 'Visible' });
  }

  public metricInFlightMessages(): cloudwatch.Metric {
    return this.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: PERIOD, label: 'In flight' });
  }

  public metricOldestMessageAge(): cloudwatch.Metric {
    return this.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: PERIOD, label: 'Oldest message age (s)' });
  }

  public metricDeadLetterMessages(): cloudwatch.Metric | undefined {
    return this.deadLetterQueue?.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: PERIOD, label: 'Dead-letter messages' });
  }
}

/**
 * What the alarms of a front door (REST API, HTTP API, function URL) read: the share of
 * requests answered with 5xx and with 4xx, and latency percentiles.
 */
export interface ApiMetrics {
  /** 5xx responses as a percentage of requests. */
  metricServerErrorRate(): cloudwatch.IMetric;
  /** 4xx responses as a percentage of requests. */
  metricClientErrorRate(): cloudwatch.IMetric;
  /** End-to-end latency, in milliseconds, at `statistic` (e.g. p99). */
  metricLatency(statistic: string): cloudwatch.IMetric;
}

/** One stage of an API Gateway REST API. */
export class RestApiMetricFactory implements ApiMetrics {
  public constructor(private readonly api: apigw.IRestApi, private readonly stage: string) {}

  public get apiName(): string {
    return this.api.restApiName;
  }

  public get stageName(): string {
    return this.stage;
  }

  public metric(metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName,
      dimensionsMap: { ApiName: this.api.restApiName, Stage: this.stage },
      statistic,
      period: PERIOD,
      label,
    });
  }

  public metricRequests(): cloudwatch.Metric {
    return this.metric('Count', 'Sum', 'Requests');
  }

  /** 4XXError or 5XXError as a percentage of requests. */
  public metricErrorRate(metricName: '4XXError' | '5XXError'): cloudwatch.MathExpression {
    // Distinct ids per kind, so both rates can share a graph.
    const errors = metricName === '4XXError' ? 'clientErrors' : 'serverErrors';
    return new cloudwatch.MathExpression({
      expression: `IF(requests > 0, 100 * ${errors} / requests, 0)`,
      usingMetrics: { [errors]: this.metric(metricName, 'Sum', metricName), requests: this.metricRequests() },
      period: PERIOD,
      label: `${metricName.slice(0, 3)} rate (%)`,
    });
  }

  public metricServerErrorRate(): cloudwatch.MathExpression {
    return this.metricErrorRate('5XXError');
  }

  public metricClientErrorRate(): cloudwatch.MathExpression {
    return this.metricErrorRate('4XXError');
  }

  public metricLatency(statistic: string): cloudwatch.Metric {
    return this.metric('Latency', statistic, `Latency ${statistic}`);
  }

  public metricIntegrationLatency(statistic: string): cloudwatch.Metric {
    return this.metric('IntegrationLatency', statistic, `Integration latency ${statistic}`);
  }
}

/**
 * An API Gateway HTTP API: metrics with the ApiId dimension (every stage) or, for a named
 * stage, ApiId and Stage. Built with IHttpApi's metric helpers; Count as Sum (one per
 * request), like the REST API's, so both rates read the same.
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
 */
export class HttpApiMetricFactory implements ApiMetrics {
  public constructor(private readonly api: apigwv2.IHttpApi, private readonly stage?: string) {}

  /** The stage the metrics are of, if not all of them. */
  public get stageName(): string | undefined {
    return this.stage;
  }

  public metricRequests(): cloudwatch.Metric {
    return this.api.metricCount(this.options('Sum', 'Requests'));
  }

  /** 4xx or 5xx as a percentage of requests. */
  public metricErrorRate(metricName: '4xx' | '5xx'): cloudwatch.MathExpression {
    const [errors, metric] = metricName === '4xx'
      ? ['clientErrors', this.api.metricClientError(this.options('Sum', '4xx'))]
      : ['serverErrors', this.api.metricServerError(this.options('Sum', '5xx'))];
    return new cloudwatch.MathExpression({
      expression: `IF(requests > 0, 100 * ${errors} / requests, 0)`,
      usingMetrics: { [errors]: metric, requests: this.metricRequests() },
      period: PERIOD,
      label: `${metricName} rate (%)`,
    });
  }

  public metricServerErrorRate(): cloudwatch.MathExpression {
    return this.metricErrorRate('5xx');
  }

  public metricClientErrorRate(): cloudwatch.MathExpression {
    return this.metricErrorRate('4xx');
  }

  public metricLatency(statistic: string): cloudwatch.Metric {
    return this.api.metricLatency(this.options(statistic, `Latency ${statistic}`));
  }

  public metricIntegrationLatency(statistic: string): cloudwatch.Metric {
    return this.api.metricIntegrationLatency(this.options(statistic, `Integration latency ${statistic}`));
  }

  private options(statistic: string, label: string): cloudwatch.MetricOptions {
    // The helpers set { ApiId }; a named stage replaces it with { ApiId, Stage }.
    const stage = this.stage === undefined ? {} : { dimensionsMap: { ApiId: this.api.apiId, Stage: this.stage } };
    return { statistic, period: PERIOD, label, ...stage };
  }
}

/**
 * The function URL of a TensorFlowFunction's `live` alias: Lambda's UrlRequestCount,
 * Url4xxCount, Url5xxCount and UrlRequestLatency in AWS/Lambda, with the dimensions of the
 * alias's other metrics, FunctionName and Resource `<function name>:live`.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html
 */
export class FunctionUrlMetricFactory implements ApiMetrics {
  public constructor(private readonly fn: TensorFlowFunction) {}

  public metricRequests(): cloudwatch.Metric {
    return this.fn.metric('UrlRequestCount', { statistic: 'Sum', period: PERIOD, label: 'Requests' });
  }

  /**
   * Url4xxCount or Url5xxCount as a percentage of requests. The counts are filled with 0:
   * whether Lambda publishes zeros for them is not documented.
   */
  public metricErrorRate(metricName: 'Url4xxCount' | 'Url5xxCount'): cloudwatch.MathExpression {
    const errors = metricName === 'Url4xxCount' ? 'clientErrors' : 'serverErrors';
    return new cloudwatch.MathExpression({
      expression: `IF(FILL(requests, 0) > 0, 100 * FILL(${errors}, 0) / requests, 0)`,
      usingMetrics: { [errors]: this.fn.metric(metricName, { statistic: 'Sum', period: PERIOD, label: metricName }), requests: this.metricRequests() },
      period: PERIOD,
      label: `${metricName === 'Url4xxCount' ? '4xx' : '5xx'} rate (%)`,
    });
  }

  public metricServerErrorRate(): cloudwatch.MathExpression {
    return this.metricErrorRate('Url5xxCount');
  }

  public metricClientErrorRate(): cloudwatch.MathExpression {
    return this.metricErrorRate('Url4xxCount');
  }

  public metricLatency(statistic: string): cloudwatch.Metric {
    return this.fn.metric('UrlRequestLatency', { statistic, period: PERIOD, label: `Latency ${statistic}` });
  }
}
