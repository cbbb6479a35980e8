// Builds every alarm the same way: actions to the alarm topic (ALARM and OK, so on-call
// sees recovery), missing data as not breaching (no traffic, no OOM, empty queue: fine),
// and a description that says what probably happened and what to do.
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** CloudWatch's limit on an alarm description. */
export const MAX_ALARM_DESCRIPTION_LENGTH = 1024;

export interface AlarmSpec {
  /** Construct id, unique within the monitored target. */
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  /** @default GREATER_THAN_THRESHOLD */
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
  readonly evaluationPeriods: number;
  /** @default evaluationPeriods */
  readonly datapointsToAlarm?: number;
  /** What the alarm means. */
  readonly summary: string;
  /** What probably happened. */
  readonly probableCause: string;
  /** What to do. */
  readonly action: string;
  /** For percentiles: keep the state while there are too few samples to mean anything. */
  readonly ignoreLowSampleCount?: boolean;
}

export class AlarmFactory {
  private readonly action: cw_actions.SnsAction;

  public constructor(topic: sns.ITopic) {
    this.action = new cw_actions.SnsAction(topic);
  }

  public createAlarm(scope: Construct, target: string, spec: AlarmSpec): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(scope, spec.id, {
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.datapointsToAlarm ?? spec.evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      evaluateLowSampleCountPercentile: spec.ignoreLowSampleCount ? 'ignore' : undefined,
      alarmDescription: describe(target, spec),
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    return alarm;
  }
}

function describe(target: string, spec: AlarmSpec): string {
  const text = `[${target}] ${spec.summary} Probably: ${spec.probableCause} Do: ${spec.action}`;
  return text.length <= MAX_ALARM_DESCRIPTION_LENGTH ? text : `${text.slice(0, MAX_ALARM_DESCRIPTION_LENGTH - 3)}...`;
}
