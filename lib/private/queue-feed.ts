// The SQS queue that feeds a TensorFlowFunction's `live` alias, shared by BatchInference and
// AsyncInference: an encrypted, TLS-only queue with a dead-letter queue, the one visibility
// timeout rule, the SQS event source with partial batch failures, S3 notifications into the
// queue, and the SQS and Lambda limits its settings are checked against.
import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import type { TensorFlowFunction } from '../tensorflow-function';
import { acknowledgeManagedPolicy } from './acknowledge';
import { TensorFlowValidationError } from './validation-error';

/**
 * One message per invocation: each can be a whole chunk or job, and a batch shares one timeout.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export const DEFAULT_BATCH_SIZE = 1;
/** Lambda takes 1 to 10 messages per invocation without a batching window... */
export const MAX_BATCH_SIZE_WITHOUT_WINDOW = 10;
/** ...and up to 10,000 with one. */
export const MAX_BATCH_SIZE = 10_000;
/** Lambda's longest batching window. */
export const MAX_BATCHING_WINDOW = Duration.minutes(5);

/**
 * Lambda's range for an SQS event source's maximum concurrency.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */
export const MIN_MAX_CONCURRENCY = 2;
export const MAX_MAX_CONCURRENCY = 1000;

/**
 * Receives of a message before it moves to the dead-letter queue, and SQS's redrive policy limit.
 *
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
 */
export const DEFAULT_MAX_RECEIVE_COUNT = 3;
export const MAX_MAX_RECEIVE_COUNT = 1000;

/** SQS's longest retention: time to look at what failed, and to redrive it. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** AWS: the source queue's visibility timeout should be at least six times the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** SQS's default visibility timeout, kept as a floor for functions with very short timeouts. */
export const MIN_VISIBILITY_TIMEOUT = Duration.seconds(30);
/** SQS's largest visibility timeout. */
export const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);
/** Lambda's longest function timeout, assumed when the timeout is a token. */
const MAX_FUNCTION_TIMEOUT = Duration.minutes(15);

/** The id of aws-cdk-lib's singleton that puts bucket notification configurations. */
const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/**
 * visibilityTimeout = min(12 h, max(30 s, 6 x function timeout + maxBatchingWindow)): AWS's
 * advice for SQS event sources (a message is not redelivered while an invocation that took it,
 * with Lambda's own retries of throttled batches, may still run), plus the time a message may
 * wait in a batching window while it is already invisible; at most SQS's limit. A timeout
 * that is a token is taken as Lambda's longest (15 minutes), a window that is a token as
 * Lambda's longest (5 minutes).
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export function visibilityTimeoutFor(functionTimeout: Duration, batchingWindow?: Duration): Duration {
  const timeout = functionTimeout.toSeconds();
  const seconds = Token.isUnresolved(timeout) ? MAX_FUNCTION_TIMEOUT.toSeconds() : timeout;
  const window = batchingWindow?.toSeconds() ?? 0;
  const waited = Token.isUnresolved(window) ? MAX_BATCHING_WINDOW.toSeconds() : window;
  const total = VISIBILITY_TIMEOUT_FACTOR * seconds + waited;
  return Duration.seconds(Math.min(MAX_VISIBILITY_TIMEOUT.toSeconds(), Math.max(MIN_VISIBILITY_TIMEOUT.toSeconds(), total)));
}

/** The settings of a queue feed, as the construct's props give them. */
export interface QueueFeedSettings {
  /** Receives before the dead-letter queue. @default DEFAULT_MAX_RECEIVE_COUNT */
  readonly maxReceiveCount?: number;
  /** Messages per invocation. @default DEFAULT_BATCH_SIZE */
  readonly batchSize?: number;
  /** How long Lambda gathers messages. @default - none */
  readonly maxBatchingWindow?: Duration;
  /** The most concurrent invocations the queue drives. @default - no limit */
  readonly maxConcurrency?: number;
}

/** How a construct words the limits of its own props. */
export interface QueueFeedLimits {
  /** Whether the construct has a maxBatchingWindow prop, which lifts batchSize's limit from 10 to 10,000. */
  readonly offersBatchingWindow: boolean;
  /** What batchSize counts for this construct, said in its error message. @default - nothing more */
  readonly batchSizeMeaning?: string;
}

/** Checks the settings against SQS's and Lambda's limits, skipping tokens. Call it before any resource. */
export function validateQueueFeed(scope: Construct, settings: QueueFeedSettings, limits: QueueFeedLimits): void {
  const fail = (message: string) => {
    throw new TensorFlowValidationError(scope, message);
  };
  const wholeIn = (name: string, value: number | undefined, min: number, max: number, meaning: string | undefined, then = '') => {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) fail(`${name} must be a whole number from ${min} to ${max}${meaning ? ` (${meaning})` : ''}; got ${value}.${then}`);
  };
  wholeIn('maxReceiveCount', settings.maxReceiveCount, 1, MAX_MAX_RECEIVE_COUNT, 'SQS redrive policy');
  const window = settings.maxBatchingWindow?.toSeconds();
  const hasWindow = window !== undefined && (Token.isUnresolved(window) || window > 0);
  wholeIn('batchSize', settings.batchSize, 1, hasWindow ? MAX_BATCH_SIZE : MAX_BATCH_SIZE_WITHOUT_WINDOW, limits.batchSizeMeaning,
    !hasWindow && limits.offersBatchingWindow ? ` Above ${MAX_BATCH_SIZE_WITHOUT_WINDOW} (up to ${MAX_BATCH_SIZE}), set maxBatchingWindow too.` : '');
  if (window !== undefined && !Token.isUnresolved(window)) {
    if (window > MAX_BATCHING_WINDOW.toSeconds()) fail(`maxBatchingWindow must be at most ${MAX_BATCHING_WINDOW.toHumanString()}; got ${settings.maxBatchingWindow!.toHumanString()}.`);
    if ((settings.batchSize ?? DEFAULT_BATCH_SIZE) <= 1) fail(`maxBatchingWindow (${settings.maxBatchingWindow!.toHumanString()}) only waits for a batch to fill, and batchSize is 1: set batchSize above 1, or remove maxBatchingWindow.`);
  }
  wholeIn('maxConcurrency', settings.maxConcurrency, MIN_MAX_CONCURRENCY, MAX_MAX_CONCURRENCY, 'Lambda\'s range for an SQS event source');
}

/** What a queue feed is made of. */
export interface QueueFeedProps extends QueueFeedSettings {
  /** The function whose `live` alias the queue feeds; its timeout sets the visibility timeout. */
  readonly function: TensorFlowFunction;
  /** A KMS key for both queues. @default - SSE-SQS */
  readonly encryptionKey?: kms.IKey;
}

/**
 * An encrypted, TLS-only queue (`Queue`) and its dead-letter queue (`DeadLetterQueue`),
 * created in the scope given, so that their logical ids are the construct's own. The event
 * source and the S3 notifications are added by the construct when its other resources are
 * in place.
 */
export class QueueFeed {
  /** The queue that feeds the function. */
  public readonly queue: sqs.Queue;
  /** Messages that failed maxReceiveCount times. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The queue's visibility timeout (visibilityTimeoutFor). */
  public readonly visibilityTimeout: Duration;

  public constructor(scope: Construct, private readonly props: QueueFeedProps) {
    this.visibilityTimeout = visibilityTimeoutFor(props.function.timeout, props.maxBatchingWindow);
    const encryption: Pick<sqs.QueueProps, 'encryption' | 'encryptionMasterKey'> = props.encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    this.deadLetterQueue = new sqs.Queue(scope, 'DeadLetterQueue', { ...encryption, enforceSSL: true, retentionPeriod: DEAD_LETTER_RETENTION });
    this.queue = new sqs.Queue(scope, 'Queue', {
      ...encryption,
      enforceSSL: true,
      visibilityTimeout: this.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT },
    });
  }

  /** Objects created in `bucket` under each filter are announced to the queue, one notification each. */
  public notifyOnObjectCreated(bucket: s3.IBucket, ...filters: s3.NotificationKeyFilter[]): void {
    for (const filter of filters) {
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new QueueDestination(this.queue), filter);
    }
    acknowledgeNotificationsHandler(bucket);
  }

  /** The SQS event source on the function's `live` alias, reporting failures message by message. */
  public addEventSource(): sources.SqsEventSource {
    const eventSource = new sources.SqsEventSource(this.queue, {
      batchSize: this.props.batchSize ?? DEFAULT_BATCH_SIZE,
      maxBatchingWindow: this.props.maxBatchingWindow,
      maxConcurrency: this.props.maxConcurrency,
      reportBatchItemFailures: true,
    });
    this.props.function.alias.addEventSource(eventSource);
    return eventSource;
  }
}

/**
 * S3 notifications into the queue, as aws-cdk-lib's SqsDestination sets them up but for two
 * things. The queue policy lets S3 send only for this bucket (aws:SourceArn) in this
 * account (aws:SourceAccount: a bucket name alone can be taken by another account). And the
 * key policy statement for S3 names the account, not the bucket: SqsDestination's grant puts
 * the bucket's ARN in the key policy, and a bucket encrypted with that same key then depends
 * on the key while the key depends on the bucket, a cycle CloudFormation refuses.
 */
class QueueDestination implements s3.IBucketNotificationDestination {
  public constructor(private readonly queue: sqs.IQueue) {}

  public bind(_scope: Construct, bucket: s3.IBucket): s3.BucketNotificationDestinationConfig {
    const s3Service = new iam.ServicePrincipal('s3.amazonaws.com');
    const account = Stack.of(bucket).account;
    this.queue.addToResourcePolicy(new iam.PolicyStatement({
      principals: [s3Service],
      actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      resources: [this.queue.queueArn],
      conditions: { ArnLike: { 'aws:SourceArn': bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': account } },
    }));
    const key = this.queue.encryptionMasterKey;
    if (key) {
      const statement = new iam.PolicyStatement({
        principals: [s3Service],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      });
      if (!key.addToResourcePolicy(statement, true).statementAdded) {
        Annotations.of(key as IConstruct).addWarningV2('cdk-serverless-tensorflow:QueueKeyPolicyNotChanged',
          `The queue's key is imported, so its key policy cannot be changed: add this statement to it, or S3 cannot send notifications to the queue: ${JSON.stringify(statement.toJSON())}`);
      }
    }
    return { arn: this.queue.queueArn, type: s3.BucketNotificationDestinationType.QUEUE, dependencies: [this.queue] };
  }
}

/**
 * S3 bucket notifications are configured by a custom resource whose handler aws-cdk-lib
 * creates once per stack, with the AWS managed basic execution policy: acknowledged in the
 * bucket's stack, once the handler exists.
 */
function acknowledgeNotificationsHandler(bucket: s3.IBucket): void {
  const handler = Stack.of(bucket).node.tryFindChild(NOTIFICATIONS_HANDLER_ID);
  if (!handler) return;
  acknowledgeManagedPolicy(handler, 'service-role/AWSLambdaBasicExecutionRole',
    'aws-cdk-lib\'s bucket notifications handler (a CloudFormation custom resource, run only during deployments) writes its logs with the AWS managed basic execution policy, which is not configurable.');
}
