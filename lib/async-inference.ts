// Asynchronous jobs for a TensorFlowFunction: inputs too large or too slow for a synchronous
// request go in through `POST /jobs` on a REST or HTTP API (or a presigned S3 upload),
// travel through an encrypted SQS queue with a dead-letter queue to the same function, and
// leave their status and result location in DynamoDB (with TTL) for `GET /jobs/{id}`;
// optionally a notification on completion.
// The runtime does the job API and the work; this construct builds and wires the resources.
import { Annotations, Duration, Names, RemovalPolicy, Token, Tokenization, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { InferenceApi } from './inference-api';
import type { InferenceHttpApi } from './inference-http-api';
import type { InferenceMonitoring, MonitoringThresholds } from './inference-monitoring';
import { acknowledgeWildcardResource } from './private/acknowledge';
import {
  DEFAULT_RESULT_RETENTION, DEFAULT_UPLOAD_EXPIRY, INPUTS_PREFIX, JOBS_PREFIX, MAX_RESULT_RETENTION_DAYS, MAX_UPLOAD_EXPIRY,
  SHORT_ASYNC_TIMEOUT, TABLE_PARTITION_KEY, TABLE_TTL_ATTRIBUTE, UPLOAD_RETENTION, UPLOADS_PREFIX,
} from './private/async-defaults';
import { grantObjectKey, grantPublish, grantSendMessages, grantTableKey } from './private/key-grants';
import { QueueFeed, validateQueueFeed } from './private/queue-feed';
import { TensorFlowValidationError } from './private/validation-error';
import { RuntimeEnvironment } from './runtime-environment';
import type { TensorFlowFunction } from './tensorflow-function';

/**
 * Options for binding a JobNotification.
 */
export interface JobNotificationBindOptions {
  /**
   * The key that encrypts a topic created for the notification.
   *
   * @default - the AWS managed key for SNS (alias/aws/sns)
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Where a JobNotification goes, once bound.
 */
export interface JobNotificationConfig {
  /**
   * The topic that receives a message when a job completes or fails.
   *
   * @default - none
   */
  readonly topic?: sns.ITopic;

  /**
   * The event bus that receives an event when a job completes or fails.
   *
   * @default - none
   */
  readonly eventBus?: events.IEventBus;
}

/**
 * A notification sent by the function when an asynchronous job completes or fails.
 */
export abstract class JobNotification {
  /**
   * Publish to an SNS topic.
   *
   * @param topic the topic @default - a topic is created: publishers must use TLS, encrypted with the
   * AsyncInference's encryptionKey or else the AWS managed key for SNS
   */
  public static sns(topic?: sns.ITopic): JobNotification {
    return new SnsJobNotification(topic);
  }

  /**
   * Put an event on an EventBridge bus.
   *
   * @param eventBus the bus @default - the account's default event bus
   */
  public static eventBridge(eventBus?: events.IEventBus): JobNotification {
    return new EventBridgeJobNotification(eventBus);
  }

  /** Resolves the notification for an AsyncInference in `scope`, creating what it needs there. */
  public abstract bind(scope: Construct, options: JobNotificationBindOptions): JobNotificationConfig;
}

class SnsJobNotification extends JobNotification {
  public constructor(private readonly topic?: sns.ITopic) {
    super();
  }

  public bind(scope: Construct, options: JobNotificationBindOptions): JobNotificationConfig {
    if (this.topic) return { topic: this.topic };
    const topic = new sns.Topic(scope, 'NotificationTopic', {
      displayName: topicDisplayName(scope.node.path),
      enforceSSL: true,
      masterKey: options.encryptionKey,
    });
    if (!options.encryptionKey) {
      // The AWS managed key lets any principal of the account use it through SNS, so the
      // publisher needs no key grant (CDK's imported alias would grant kms:* on key/*).
      (topic.node.defaultChild as sns.CfnTopic).kmsMasterKeyId = 'alias/aws/sns';
    }
    return { topic };
  }
}

class EventBridgeJobNotification extends JobNotification {
  public constructor(private readonly eventBus?: events.IEventBus) {
    super();
  }

  public bind(scope: Construct): JobNotificationConfig {
    return { eventBus: this.eventBus ?? events.EventBus.fromEventBusName(scope, 'DefaultEventBus', 'default') };
  }
}

/**
 * Properties of AsyncInference.
 */
export interface AsyncInferenceProps {
  /** The function that serves the job API and does the work. */
  readonly function: TensorFlowFunction;

  /**
   * The InferenceApi to add `POST /jobs` and `GET /jobs/{id}` to, with Lambda proxy
   * integrations to the function's `live` alias. The methods take the API's authorization
   * (IAM, API key or Cognito) and integration timeout.
   *
   * @default - no routes (unless restApi or httpApi is given)
   */
  readonly api?: InferenceApi;

  /**
   * A REST API of your own to add `POST /jobs` and `GET /jobs/{id}` to, instead of an
   * InferenceApi. The methods inherit the API's default method options (authorization
   * included); the API must pass image bodies through (binaryMediaTypes).
   *
   * @default - no routes (unless api or httpApi is given)
   */
  readonly restApi?: apigw.IRestApi;

  /**
   * The InferenceHttpApi (API Gateway HTTP API) to add `POST /jobs` and `GET /jobs/{id}`
   * to, instead of a REST API: routes to the function's `live` alias with the authorization
   * of the API's inference routes (IAM, the same JWT authorizer and scopes, or none) and its
   * integration. The HTTP API must front this AsyncInference's function.
   *
   * `POST /jobs` only stores the input and queues the job, so the HTTP API's integration
   * timeout (at most 30 s) bounds the request, not the job. An input sent in the body is held
   * to the synchronous limits (10 MB for an HTTP API, 6 MB for the Lambda event, which
   * carries binary bodies base64-encoded); for a larger input, `POST /jobs` the JSON
   * `{"upload": {"contentType": "image/jpeg"}}` and PUT the input to the `uploadUrl` of
   * the answer (valid for uploadExpiry): the job starts when the upload lands.
   *
   * @default - no routes (unless api or restApi is given)
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
   */
  readonly httpApi?: InferenceHttpApi;

  /**
   * How long a finished job, its input and its result are kept: DynamoDB TTL on the job and
   * an S3 lifecycle expiry on `jobs/`. Whole days.
   *
   * @default Duration.days(7)
   */
  readonly resultRetention?: Duration;

  /**
   * How long a presigned upload URL stays valid (asked for with `POST /jobs` and the JSON
   * `{"upload": {"contentType": "<type>"}}`), 1 second to 12 hours (the URL is signed with
   * the function's temporary credentials and cannot outlive them).
   *
   * @default Duration.minutes(15)
   */
  readonly uploadExpiry?: Duration;

  /**
   * Browser origins (e.g. `https://app.example.com`) allowed to PUT uploads to, and GET
   * results from, the presigned URLs.
   *
   * @default - no CORS: presigned URLs work from servers and CLIs, not from browsers
   */
  readonly uploadCorsOrigins?: string[];

  /**
   * A notification when a job completes or fails.
   *
   * @default - none: clients poll `GET /jobs/{id}`
   */
  readonly notification?: JobNotification;

  /**
   * A customer managed key for the table, the bucket and a notification topic created here.
   *
   * @default - AWS managed keys: aws/dynamodb for the table, SSE-S3 for the bucket, aws/sns for a topic
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * A customer managed key for the jobs queue and its dead-letter queue.
   *
   * @default - SQS managed server-side encryption (SSE-SQS)
   */
  readonly queueEncryptionKey?: kms.IKey;

  /**
   * How many times a job is received (and fails) before it moves to the dead-letter queue.
   *
   * @default 3
   * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
   */
  readonly maxReceiveCount?: number;

  /**
   * Jobs per invocation, 1 to 10. A batch shares the function's timeout, and failed jobs
   * are reported one by one (partial batch responses).
   *
   * @default 1
   */
  readonly batchSize?: number;

  /**
   * The most concurrent invocations the queue drives (2 to 1000). Jobs share the function's
   * `live` alias with the synchronous API: this bounds their share, so that a burst of jobs
   * cannot take every environment (or all of the function's reserved concurrency) from it.
   *
   * @default 10
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
   */
  readonly maxConcurrency?: number;

  /**
   * What happens to the table and the bucket when they leave the stack. They hold callers'
   * inputs and results (until resultRetention expires them), so by default both are kept.
   * DESTROY deletes both, the bucket emptied first by aws-cdk-lib's auto-delete custom
   * resource (whose role may change the bucket policy): for development stacks.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * A bucket for the jobs bucket's server access logs.
   *
   * @default - no server access logs: objects are written and read only through the
   * function's role and its presigned URLs; CloudTrail data events can record them
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

/**
 * Asynchronous inference jobs for a TensorFlowFunction: `POST /jobs` and `GET /jobs/{id}`,
 * presigned uploads for large inputs, an encrypted queue with a dead-letter queue, job
 * status in DynamoDB, and an optional notification on completion.
 *
 * The routes go on an InferenceApi (`api`), a REST API of your own (`restApi`) or an
 * InferenceHttpApi (`httpApi`), e.g.:
 *
 * ```ts
 * new AsyncInference(this, 'Jobs', {
 *   function: fn,
 *   httpApi: new InferenceHttpApi(this, 'HttpApi', { function: fn, authorization: HttpApiAuthorization.iam() }),
 * });
 * ```
 *
 * @example
 * new AsyncInference(this, 'Jobs', {
 *   function: fn,
 *   api: new InferenceApi(this, 'Api', { function: fn, authorization: ApiAuthorization.iam() }),
 *   notification: JobNotification.sns(),
 * });
 */
export class AsyncInference extends Construct {
  /** Jobs: status and result location, keyed by `pk`, expiring at `expiresAt`. */
  public readonly table: dynamodb.Table;
  /** Job inputs (`jobs/inputs/`), presigned uploads (`jobs/uploads/`) and results (`jobs/results/`). */
  public readonly bucket: s3.Bucket;
  /** The queue that carries jobs (and upload notifications) to the function. */
  public readonly queue: sqs.Queue;
  /** Jobs that failed maxReceiveCount times. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The event source mapping of the queue to the function's `live` alias. */
  public readonly eventSource: sources.SqsEventSource;
  /** The notification topic, when notifying through SNS. */
  public readonly topic?: sns.ITopic;
  /** The notification bus, when notifying through EventBridge. */
  public readonly eventBus?: events.IEventBus;
  /** The jobs queue's visibility timeout, derived from the function's timeout. */
  public readonly visibilityTimeout: Duration;
  /** Days a finished job is kept. */
  public readonly resultRetentionDays: number;
  /** The function that serves and runs the jobs. */
  public readonly function: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props: AsyncInferenceProps) {
    super(scope, id);
    this.function = props.function;
    const fn = props.function;
    const retention = props.resultRetention ?? DEFAULT_RESULT_RETENTION;
    const uploadExpiry = props.uploadExpiry ?? DEFAULT_UPLOAD_EXPIRY;
    this.validate(props, retention, uploadExpiry);
    this.resultRetentionDays = retention.toDays();
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.table = this.createTable(props, removalPolicy);
    this.bucket = this.createBucket(props, retention, removalPolicy);
    const feed = new QueueFeed(this, {
      function: fn,
      encryptionKey: props.queueEncryptionKey,
      maxReceiveCount: props.maxReceiveCount,
      batchSize: props.batchSize,
      maxConcurrency: props.maxConcurrency ?? DEFAULT_JOBS_MAX_CONCURRENCY,
    });
    this.queue = feed.queue;
    this.deadLetterQueue = feed.deadLetterQueue;
    this.visibilityTimeout = feed.visibilityTimeout;
    feed.notifyOnObjectCreated(this.bucket, { prefix: UPLOADS_PREFIX });

    const notification = props.notification?.bind(this, { encryptionKey: props.encryptionKey });
    this.topic = notification?.topic;
    this.eventBus = notification?.eventBus;

    this.grantFunction(fn.role);
    this.configureFunction(fn, uploadExpiry);
    this.eventSource = feed.addEventSource();
    if (props.api) this.addRoutes(props.api.restApi, fn.alias, props.api.integrationTimeout);
    if (props.restApi) this.addRoutes(props.restApi, fn.alias);
    // The HTTP API's own integration of the same alias: its authorizer, timeout and permission.
    props.httpApi?.addRoutes({ path: '/jobs', methods: [apigwv2.HttpMethod.POST] });
    props.httpApi?.addRoutes({ path: '/jobs/{id}', methods: [apigwv2.HttpMethod.GET] });

    const timeout = fn.timeout.toSeconds();
    if (!Token.isUnresolved(timeout) && timeout < SHORT_ASYNC_TIMEOUT.toSeconds()) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:AsyncShortTimeout',
        `The function's timeout is ${fn.timeout.toHumanString()}: asynchronous jobs exist for inputs too large or too slow for a synchronous request, and a job that runs out of time is retried and then dead-lettered. Raise the function's timeout (up to 15 minutes; API Gateway still answers synchronous requests within 29 s).`);
    }
  }

  private validate(props: AsyncInferenceProps, retention: Duration, uploadExpiry: Duration): void {
    const fail = (message: string) => {
      throw new TensorFlowValidationError(this, message);
    };
    if (!retention.isUnresolved()) {
      const days = retention.toDays({ integral: false });
      if (!Number.isInteger(days) || days < 1 || days > MAX_RESULT_RETENTION_DAYS) {
        fail(`resultRetention must be a whole number of days from 1 to ${MAX_RESULT_RETENTION_DAYS} (DynamoDB TTL and S3 lifecycle rules count days); got ${retention.toHumanString()}.`);
      }
    }
    if (!uploadExpiry.isUnresolved()) {
      const seconds = uploadExpiry.toSeconds({ integral: false });
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_UPLOAD_EXPIRY.toSeconds()) {
        fail(`uploadExpiry must be a whole number of seconds from 1 second to 12 hours (presigned URLs are signed with the function's temporary credentials and stop working when they expire); got ${uploadExpiry.toHumanString()}.`);
      }
    }
    const apis = (['api', 'restApi', 'httpApi'] as const).filter((name) => props[name] !== undefined);
    if (apis.length > 1) {
      fail(`give one of api (an InferenceApi), restApi (a REST API of your own) or httpApi (an InferenceHttpApi), not ${apis.join(' and ')}: the /jobs routes go on one API.`);
    }
    if (props.httpApi && props.httpApi.function !== props.function) {
      fail(`httpApi fronts ${props.httpApi.function.node.path}, not ${props.function.node.path}: its routes reach only the function it fronts, which does not run these jobs. Give an InferenceHttpApi of ${props.function.node.path}, or an AsyncInference of ${props.httpApi.function.node.path}.`);
    }
    validateQueueFeed(this, props, { offersBatchingWindow: false, batchSizeMeaning: 'jobs per invocation; they share the function\'s timeout' });
    if (props.uploadCorsOrigins !== undefined) {
      if (props.uploadCorsOrigins.length === 0) fail('uploadCorsOrigins must name at least one origin, e.g. "https://app.example.com"; leave it unset for no CORS.');
      for (const origin of props.uploadCorsOrigins) {
        if (!Token.isUnresolved(origin) && origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
          fail(`uploadCorsOrigins: "${origin}" is not an origin: give scheme and host (and port) with no path, e.g. "https://app.example.com", or "*".`);
        }
      }
    }
  }

  private createTable(props: AsyncInferenceProps, removalPolicy: RemovalPolicy): dynamodb.Table {
    return new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy,
    });
  }

  private createBucket(props: AsyncInferenceProps, retention: Duration, removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: props.encryptionKey ? true : undefined,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsBucket ? `${Names.uniqueId(this)}/` : undefined,
      cors: props.uploadCorsOrigins ? [{
        allowedOrigins: props.uploadCorsOrigins,
        allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET],
        allowedHeaders: ['*'],
        exposedHeaders: ['ETag'],
        maxAge: 3000,
      }] : undefined,
      lifecycleRules: [
        { id: 'ExpireUploads', prefix: UPLOADS_PREFIX, expiration: UPLOAD_RETENTION },
        { id: 'ExpireJobs', prefix: JOBS_PREFIX, expiration: retention, abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    if (!props.serverAccessLogsBucket) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'Transient job inputs and results, written and read only by the function\'s role and the presigned URLs it signs (which expire); give serverAccessLogsBucket to log requests, or record them with CloudTrail data events.',
      });
    }
    return bucket;
  }

  /** Least privilege for the job API and the worker, on exactly these resources. */
  private grantFunction(role: iam.IRole): void {
    // Conditional writes (job creation, idempotency keys, status changes) need no extra
    // actions; DeleteItem undoes a job that lost an idempotency-key race.
    this.table.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    grantTableKey(this.table, role);
    // Presigned PUTs to jobs/uploads/ and GETs of jobs/results/ are signed with the role's
    // own credentials, so it needs the object permissions the URLs carry.
    const objects = this.bucket.arnForObjects(`${JOBS_PREFIX}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [objects] }));
    acknowledgeWildcardResource(role, objects, 'Job objects have generated keys under jobs/ (inputs, presigned uploads, results); nothing else in the bucket is readable or writable.');
    // The input of a job that lost an idempotency-key race is deleted; nothing else is.
    const inputs = this.bucket.arnForObjects(`${INPUTS_PREFIX}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [inputs] }));
    acknowledgeWildcardResource(role, inputs, 'Inline job inputs have generated keys under jobs/inputs/; the function deletes only the input of a duplicate (same Idempotency-Key) request.');
    grantObjectKey(this.bucket.encryptionKey, role);
    grantSendMessages(this.queue, role);
    if (this.topic) grantPublish(this.topic, role);
    this.eventBus?.grantPutEventsTo(role);
  }

  /**
   * The runtime's job settings. One function serves one set of asynchronous jobs: another
   * AsyncInference's variables, or different values in the environment prop, are refused.
   */
  private configureFunction(fn: TensorFlowFunction, uploadExpiry: Duration): void {
    fn.addRuntimeEnvironment(this, {
      [RuntimeEnvironment.JOBS_TTL_DAYS]: Tokenization.stringifyNumber(this.resultRetentionDays),
      [RuntimeEnvironment.JOBS_UPLOAD_EXPIRY_SECONDS]: Tokenization.stringifyNumber(uploadExpiry.toSeconds()),
      [RuntimeEnvironment.JOBS_TABLE]: this.table.tableName,
      [RuntimeEnvironment.JOBS_BUCKET]: this.bucket.bucketName,
      [RuntimeEnvironment.JOBS_QUEUE_URL]: this.queue.queueUrl,
      ...(this.topic ? { [RuntimeEnvironment.JOBS_TOPIC_ARN]: this.topic.topicArn } : {}),
      ...(this.eventBus ? { [RuntimeEnvironment.JOBS_EVENT_BUS]: this.eventBus.eventBusName } : {}),
    });
  }


  /** Routes that inherit the API's default method options, authorization included. */
  private addRoutes(restApi: apigw.IRestApi, target: lambda.IFunction, timeout?: Duration): void {
    const integration = new apigw.LambdaIntegration(target, { timeout });
    restApi.root.resourceForPath('jobs').addMethod('POST', integration);
    restApi.root.resourceForPath('jobs/{id}').addMethod('GET', integration, { requestParameters: { 'method.request.path.id': true } });
  }

  /**
   * Alarms and dashboard sections for the queue, its dead-letter queue and the function
   * (a function already monitored is not added twice).
   *
   * @returns the alarms created
   */
  public monitor(monitoring: InferenceMonitoring, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    return [
      ...monitoring.addFunction(this.function, thresholds),
      ...monitoring.addQueue(this.node.id, this.queue, this.deadLetterQueue, thresholds),
    ];
  }
}

/** Concurrent job invocations by default: a bounded share of the function, as BatchInference's default. */
const DEFAULT_JOBS_MAX_CONCURRENCY = 10;

/** SNS limits a topic's display name to 100 characters. */
const MAX_DISPLAY_NAME = 100;

/**
 * `Asynchronous inference jobs of <path>`, shortened for long construct paths: the path's
 * end is kept (it names the construct), its start elided.
 */
function topicDisplayName(path: string): string {
  const prefix = 'Asynchronous inference jobs of ';
  const name = prefix + path;
  if (name.length <= MAX_DISPLAY_NAME) return name;
  return `${prefix}...${path.slice(path.length - (MAX_DISPLAY_NAME - prefix.length - 3))}`;
}
