// The simplest front door: a Lambda function URL on a TensorFlowFunction's `live` alias.
// No gateway, so no gateway cost and no 29 s cut-off (requests may run to the function's
// timeout), but also no throttling, API keys, WAF or access logs of its own.
import { Annotations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { InferenceMonitoring, MonitoringThresholds } from './inference-monitoring';
import type { TensorFlowFunction } from './tensorflow-function';

/**
 * Properties of an InferenceFunctionUrl.
 */
export interface InferenceFunctionUrlProps {
  /** The function to serve; the URL belongs to its `live` alias. */
  readonly function: TensorFlowFunction;

  /**
   * Who may call the URL: `AWS_IAM` (SigV4-signed requests of principals granted with
   * `grantInvokeUrl`) or, explicitly, `NONE` (anyone with the URL).
   *
   * @default lambda.FunctionUrlAuthType.AWS_IAM
   */
  readonly authType?: lambda.FunctionUrlAuthType;

  /**
   * CORS for browser clients; Lambda adds the headers to every response.
   *
   * @default - no CORS
   */
  readonly cors?: lambda.FunctionUrlCorsOptions;
}

/**
 * A Lambda function URL in front of a TensorFlowFunction (buffered responses, Lambda's
 * 6 MB request and response limits).
 *
 * @example
 * const url = new InferenceFunctionUrl(this, 'Url', { function: fn });
 * url.grantInvokeUrl(callerRole);
 */
export class InferenceFunctionUrl extends Construct {
  /** The function URL. */
  public readonly functionUrl: lambda.FunctionUrl;
  /** The URL, ending in `/`. */
  public readonly url: string;
  /** The function behind the URL. */
  public readonly function: TensorFlowFunction;

  private readonly alias: lambda.IFunction;

  public constructor(scope: Construct, id: string, props: InferenceFunctionUrlProps) {
    super(scope, id);
    const authType = props.authType ?? lambda.FunctionUrlAuthType.AWS_IAM;
    if (authType === lambda.FunctionUrlAuthType.NONE) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:OpenFunctionUrl', 'authType NONE: anyone with the URL can call the model, and every call is paid for; a function URL has no throttle of its own (set reservedConcurrentExecutions on the function to cap it).');
    }
    this.function = props.function;
    this.alias = props.function.alias;
    this.functionUrl = new lambda.FunctionUrl(this, 'Url', {
      function: props.function.alias,
      authType,
      cors: props.cors,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    this.url = this.functionUrl.url;
  }

  /**
   * Monitors the function and its URL in one line: the function's alarms, and the URL's 5xx
   * and 4xx rates and p99 latency (Lambda's Url* metrics of the `live` alias), named after
   * this construct's id. A function already monitored is not added twice.
   *
   * @param monitoring where the alarms and dashboard sections go
   * @param thresholds overrides of the monitoring's thresholds, for the function and the URL
   * @returns the function's alarms and the URL's
   */
  public monitor(monitoring: InferenceMonitoring, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    return [
      ...monitoring.addFunction(this.function, thresholds),
      ...monitoring.addFunctionUrl(this.node.id, this, thresholds),
    ];
  }

  /** Lets `grantee` call the URL (with authType AWS_IAM). */
  public grantInvokeUrl(grantee: iam.IGrantable): iam.Grant {
    return this.alias.grantInvokeUrl(grantee);
  }
}
