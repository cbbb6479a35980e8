// Alarms of an SQS queue that feeds a TensorFlowFunction (batch or asynchronous inference).
import type { AlarmSpec } from './alarm-factory';
import type { QueueMetricFactory } from './metric-factories';
import type { ResolvedThresholds } from './thresholds';

export function queueAlarmSpecs(name: string, metrics: QueueMetricFactory, t: ResolvedThresholds): AlarmSpec[] {
  const age = t.queueOldestMessageAge;
  const specs: AlarmSpec[] = [{
    id: 'OldestMessageAge',
    metric: metrics.metricOldestMessageAge(),
    threshold: age.toSeconds(),
    evaluationPeriods: 1,
    summary: `The oldest message in the ${name} queue has waited longer than ${age.toHumanString()}: consumers fall behind.`,
    probableCause: 'the function is throttled, failing and retrying the same messages, or too slow for the arrival rate.',
    action: 'check the function\'s throttle, error and duration alarms; raise its concurrency (reserved concurrency, event source maxConcurrency), memorySize or batch size.',
  }];
  const dlq = metrics.metricDeadLetterMessages();
  if (dlq) {
    specs.push({
      id: 'DeadLetterMessages',
      metric: dlq,
      threshold: t.deadLetterQueueMessages,
      evaluationPeriods: 1,
      summary: `${t.deadLetterQueueMessages === 0 ? 'Messages are' : `More than ${t.deadLetterQueueMessages} messages are`} in the dead-letter queue of ${name}: they failed every retry.`,
      probableCause: 'poison inputs (an unreadable image, a malformed row, the wrong shape) or failures that repeat (out-of-memory kills, timeouts).',
      action: 'read a message and the function log for its request, fix the input or the function, then move the messages back to the source queue (SQS StartMessageMoveTask, "redrive").',
    });
  }
  return specs;
}
