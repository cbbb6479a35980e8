// Tells the world a job finished: an SNS message (with `status` and `model` message
// attributes for subscription filters) and/or an EventBridge event, when configured.
// Both carry the same JSON; failures throw so the job message is retried (at least once).
import { eventBridgeClient, snsClient } from '../aws-clients';
import { JOB_STATUS } from './job';
import type { JobItem } from './job';
import type { JobsConfig } from '../config';

/** EventBridge `source` of job events. */
export const JOB_EVENT_SOURCE = 'serverless-tf';

export const JOB_EVENT_DETAIL_TYPE = {
  SUCCEEDED: 'Inference Job Completed',
  FAILED: 'Inference Job Failed',
} as const;

/** The notification body: what a subscriber needs to fetch the result or see why it failed. */
export interface JobNotification {
  readonly jobId: string;
  readonly status: JobItem['status'];
  readonly model: string;
  readonly route: JobItem['route'];
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly result?: string;
  readonly error?: string;
  readonly statusCode?: number;
}

export function notificationOf(job: JobItem, bucket: string): JobNotification {
  return {
    jobId: job.jobId,
    status: job.status,
    model: job.model,
    route: job.route,
    createdAt: job.createdAt,
    finishedAt: job.finishedAt,
    ...(job.resultKey ? { result: `s3://${bucket}/${job.resultKey}` } : {}),
    ...(job.status === JOB_STATUS.FAILED ? { error: job.error, statusCode: job.statusCode } : {}),
  };
}

export function notificationsConfigured(config: JobsConfig): boolean {
  return Boolean(config.topicArn || config.eventBus);
}

export async function notify(config: JobsConfig, job: JobItem): Promise<void> {
  const detail = notificationOf(job, config.bucket);
  const sends: Promise<unknown>[] = [];
  if (config.topicArn) sends.push(publish(config.topicArn, detail));
  if (config.eventBus) sends.push(putEvent(config.eventBus, detail));
  // Both settle before a failure is thrown, so no send is still in flight when the
  // message is retried. Delivery is at least once: a retry sends both again.
  const failed = (await Promise.allSettled(sends)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function publish(topicArn: string, detail: JobNotification): Promise<void> {
  const [client, { PublishCommand }] = await Promise.all([snsClient(), import('@aws-sdk/client-sns')]);
  await client.send(new PublishCommand({
    TopicArn: topicArn,
    Subject: `Inference job ${detail.status.toLowerCase()}`,
    Message: JSON.stringify(detail),
    MessageAttributes: {
      status: { DataType: 'String', StringValue: detail.status },
      model: { DataType: 'String', StringValue: detail.model },
    },
  }));
}

async function putEvent(eventBus: string, detail: JobNotification): Promise<void> {
  const [client, { PutEventsCommand }] = await Promise.all([eventBridgeClient(), import('@aws-sdk/client-eventbridge')]);
  const answer = await client.send(new PutEventsCommand({
    Entries: [{
      EventBusName: eventBus,
      Source: JOB_EVENT_SOURCE,
      DetailType: detail.status === JOB_STATUS.SUCCEEDED ? JOB_EVENT_DETAIL_TYPE.SUCCEEDED : JOB_EVENT_DETAIL_TYPE.FAILED,
      Detail: JSON.stringify(detail),
    }],
  }));
  if (answer.FailedEntryCount) {
    const entry = answer.Entries?.find((e) => e.ErrorCode);
    throw new Error(`EventBridge refused the job event: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim());
  }
}
