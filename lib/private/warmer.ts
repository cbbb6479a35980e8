// The warm-up schedule: an EventBridge rule runs a small function that sends N
// concurrent warm-up pings to the `live` alias, each holding its environment briefly
// so the pings land on N different environments. The runtime answers them without
// running the model.
import * as path from 'path';
import { Duration, Tokenization } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './acknowledge';
import { requireRuntimeFile } from './runtime-package';

/** How long each ping holds its environment. */
export const WARM_HOLD_MS = 250;

export interface WarmerProps {
  readonly target: lambda.Alias;
  readonly concurrency: number;
  readonly schedule: events.Schedule;
}

export class Warmer extends Construct {
  public readonly function: lambda.Function;
  public readonly rule: events.Rule;

  public constructor(scope: Construct, id: string, props: WarmerProps) {
    super(scope, id);
    const code = path.dirname(requireRuntimeFile(this, 'dist/warmer/index.mjs'));
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logs.RetentionDays.ONE_MONTH });
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Warm-up pings for ${props.target.node.path}`,
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:*`],
    }));
    acknowledgeWildcardResource(role, `${logGroup.logGroupArn}:*`, 'Log streams are created at run time with generated names, inside the warmer\'s own log group only.');
    props.target.grantInvoke(role);
    this.function = new lambda.Function(this, 'Function', {
      description: `Keeps ${props.concurrency} environment(s) of ${props.target.node.path} warm`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(code),
      memorySize: 256,
      // The pings run at once; each answers within about its hold time once warm, but a
      // cold target may take its init (model load) first.
      timeout: Duration.minutes(2),
      role,
      logGroup,
      environment: {
        WARM_TARGET: props.target.functionArn,
        WARM_CONCURRENCY: Tokenization.stringifyNumber(props.concurrency),
        WARM_HOLD_MS: String(WARM_HOLD_MS),
      },
    });
    this.rule = new events.Rule(this, 'Schedule', {
      description: `Warm-up pings for ${props.target.node.path}`,
      schedule: props.schedule,
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
