// Example: the container classifier with operations: alarms on an encrypted SNS topic
// (subscribe your on-call to `monitoring.alarmTopic`) and a dashboard for the model.
import { Construct } from 'constructs';
import type { StackProps } from 'aws-cdk-lib';
import { InferenceMonitoring } from '../lib';
import { ContainerClassifierStack } from './container-classifier';

export class MonitoredClassifierStack extends ContainerClassifierStack {
  public readonly monitoring: InferenceMonitoring;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.monitoring = new InferenceMonitoring(this, 'Monitoring', {
      functions: [this.classifier],
      // Image classification on CPU answers in well under a second; a p99 at half the
      // 30 s timeout already deserves a look.
      thresholds: { durationTimeoutPercent: 50 },
    });
  }
}
