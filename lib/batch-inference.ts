// Batch inference on S3 uploads: an object created under the input prefix is announced
// to an SQS queue, which feeds the TensorFlowFunction's `live` alias. The runtime splits
// large objects into chunks that it sends back to the same queue, one message each, and
// writes predictions under deterministic keys in the output bucket.
import { Annotations, Duration, Size, Stack, Token, Tokenization } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { InferenceMonitoring, MonitoringThresholds } from './inference-monitoring';
import { acknowledgeWildcardResource } from './private/acknowledge';
import { createInputBucket } from './private/batch-buckets';
import {
  DEFAULT_CHUNK_SIZE, DEFAULT_INPUT_PREFIX, DEFAULT_MAX_CONCURRENCY, DEFAULT_OUTPUT_PREFIX, DEFAULT_ROWS_PER_BATCH,
  INPUT_SUFFIXES, MAX_CHUNK_SIZE, MAX_ROWS_PER_BATCH, MIN_BATCH_TIMEOUT, MIN_CHUNK_SIZE, defaultSuffixes, formatOfSuffix,
  formatsForTask, prefixesOverlap,
} from './private/batch-defaults';
import { WRITER_KEY_ACTIONS, grantObjectKey, grantTableKey } from './private/key-grants';
import { QueueFeed, validateQueueFeed } from './private/queue-feed';
import { bytesOf, mib } from './private/sizing';
import { TensorFlowValidationError } from './private/validation-error';
import { RuntimeEnvironment } from './runtime-environment';
import type { TensorFlowFunction } from './tensorflow-function';

/**
 * Properties of a BatchInference.
 */
export interface BatchInferenceProps {
  /**
   * The function that predicts. Its timeout bounds one chunk of work: give it minutes
   * (up to 15), not the 30 s of a synchronous API.
   */
  readonly function: TensorFlowFunction;

  /**
   * The bucket whose uploads are predicted.
   *
   * @default - a bucket with S3-managed encryption, TLS only, public access blocked and
   * server access logs to a bucket created beside it
   */
  readonly inputBucket?: s3.IBucket;

  /**
   * Only objects under this key prefix are predicted. `''` selects the whole bucket (only
   * with a separate outputBucket).
   *
   * @default 'input/'
   */
  readonly inputPrefix?: string;

  /**
   * Only keys ending with one of these are predicted: one S3 notification filter each.
   * S3 compares suffixes case-sensitively: add `.JPG` too if uploads use it. The runtime
   * reads `.csv` (tabular task), `.jsonl` and `.ndjson` (any task), and `.jpg`, `.jpeg`,
   * `.png`, `.webp`, `.gif` (image-classification task).
   *
   * @default - the suffixes the function's task reads
   */
  readonly inputSuffixes?: string[];

  /**
   * The bucket that predictions, error rows, manifests and completion markers go to.
   *
   * @default - the input bucket
   */
  readonly outputBucket?: s3.IBucket;

  /**
   * Key prefix of the outputs: each input object's results land under
   * `<outputPrefix><input key>/<ETag>/`. In the input bucket it must not overlap inputPrefix.
   *
   * @default 'predictions/'
   */
  readonly outputPrefix?: string;

  /**
   * A DynamoDB table that every predicted row, and every classified image, is written to as
   * well, one item each (rows and images that failed go only to the errors file).
   *
   * The table must have the partition key `pk` (String), `<bucket>/<key>#<ETag>` of the input
   * object, and the sort key `sk` (String), the row's byte offset in the input, zero-padded to
   * 13 digits. Items hold `prediction` (JSON text), `chunk`, `line` (within the chunk),
   * `offset` and, for CSV, the row's `text`; they have no TTL. An image is one item with `sk`
   * `0000000000000`, chunk 0, line 1, offset 0 and its classification as `prediction`.
   *
   * A row whose item would exceed DynamoDB's 400 KB item limit (a long CSV row, a large
   * tensor output) is written as an oversize item instead: the keys, `chunk`, `line`,
   * `offset`, `oversize` (true), `itemBytes` (the size the full item would have had) and
   * `output`, the s3:// URI of the chunk's output file, which holds the row and its
   * prediction; it has no `text` or `prediction`.
   *
   * A retried chunk overwrites its items, never duplicates them; items that DynamoDB leaves
   * unprocessed are sent again, and a chunk whose items still cannot be written fails and
   * is retried. The function may BatchWriteItem and PutItem on the table, and use its
   * customer managed key if it has one.
   *
   * @default - no table: predictions go to S3 only
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
   */
  readonly outputTable?: dynamodb.ITable;

  /**
   * Inputs larger than this are split into chunks of about this size, each a queue message
   * and an invocation of its own. A token must be given as `Size.bytes(...)`.
   *
   * @default Size.mebibytes(8)
   */
  readonly chunkSize?: Size;

  /**
   * Rows (CSV rows, JSON lines) per model call while a chunk is streamed (1 to 1024).
   * Fewer rows per call cost more calls: on the wasm backend, 256 instead of 1024 took
   * 1.2-1.6x as long for a small (Iris) model; for larger models the difference was within
   * the noise (BENCHMARKS.md).
   * Memory per call is rows x features x 4 bytes; images in JSON Lines go 16 a call anyway.
   *
   * @default 1024
   */
  readonly rowsPerBatch?: number;

  /**
   * Queue messages (S3 notifications or chunks) per invocation: 1 to 10, or up to 10,000
   * with maxBatchingWindow. Each message can be a whole chunk of work, so the function's
   * timeout must cover batchSize chunks.
   *
   * @default 1
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
   */
  readonly batchSize?: number;

  /**
   * How long Lambda gathers messages before it invokes the function (up to 5 minutes);
   * needs batchSize above 1.
   *
   * @default - no batching window: invoke as soon as messages arrive
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * The most concurrent invocations the queue drives (2 to 1000).
   *
   * @default 10
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
   */
  readonly maxConcurrency?: number;

  /**
   * Receives of a message (its first delivery and retries) before it moves to the
   * dead-letter queue (1 to 1000).
   *
   * @default 3
   */
  readonly maxReceiveCount?: number;

  /**
   * A KMS key for the queue and its dead-letter queue. CDK adds a key policy statement
   * that lets S3 send notifications with it (an imported key's policy cannot be changed:
   * add that statement yourself).
   *
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly queueEncryptionKey?: kms.IKey;
}

/**
 * Batch inference on S3 uploads: CSV (tabular), JSON Lines or images in, predictions out
 * under deterministic keys, with large inputs split into chunks that run in parallel.
 *
 * @example
 * new BatchInference(this, 'Nightly', {
 *   function: fn,
 *   inputPrefix: 'uploads/',
 *   maxConcurrency: 20,
 * });
 */
export class BatchInference extends Construct {
  /** The queue of S3 notifications and chunk messages that feeds the function. */
  public readonly queue: sqs.Queue;
  /** Messages that failed maxReceiveCount times. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The bucket whose uploads are predicted. */
  public readonly inputBucket: s3.IBucket;
  /** The bucket that outputs go to. */
  public readonly outputBucket: s3.IBucket;
  /** The server access log bucket, when the input bucket was created here. */
  public readonly accessLogsBucket?: s3.IBucket;
  /** The SQS event source on the function's `live` alias. */
  public readonly eventSource: sources.SqsEventSource;
  /** The key prefix of the inputs. */
  public readonly inputPrefix: string;
  /** The key suffixes of the inputs, one notification filter each. */
  public readonly inputSuffixes: string[];
  /** The key prefix of the outputs. */
  public readonly outputPrefix: string;
  /** The DynamoDB table that predicted rows go to as well, when one was given. */
  public readonly outputTable?: dynamodb.ITable;
  /** The queue's visibility timeout: min(12 hours, max(30 seconds, 6 x the function timeout + maxBatchingWindow)). */
  public readonly visibilityTimeout: Duration;
  /** The function that predicts. */
  public readonly function: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props: BatchInferenceProps) {
    super(scope, id);
    this.function = props.function;
    const fn = props.function;
    this.inputPrefix = props.inputPrefix ?? DEFAULT_INPUT_PREFIX;
    this.outputPrefix = props.outputPrefix ?? DEFAULT_OUTPUT_PREFIX;
    this.inputSuffixes = props.inputSuffixes ?? defaultSuffixes(fn.taskType);
    const chunkSize = props.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.validate(props, chunkSize);

    if (props.inputBucket) {
      this.inputBucket = props.inputBucket;
    } else {
      const created = createInputBucket(this);
      this.inputBucket = created.bucket;
      this.accessLogsBucket = created.accessLogsBucket;
    }
    this.outputBucket = props.outputBucket ?? this.inputBucket;
    this.outputTable = props.outputTable;

    const feed = new QueueFeed(this, {
      function: fn,
      encryptionKey: props.queueEncryptionKey,
      maxReceiveCount: props.maxReceiveCount,
      batchSize: props.batchSize,
      maxBatchingWindow: props.maxBatchingWindow,
      maxConcurrency: props.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    });
    this.queue = feed.queue;
    this.deadLetterQueue = feed.deadLetterQueue;
    this.visibilityTimeout = feed.visibilityTimeout;
    feed.notifyOnObjectCreated(this.inputBucket, ...this.inputSuffixes.map((suffix) => ({
      ...(this.inputPrefix ? { prefix: this.inputPrefix } : {}),
      suffix,
    })));
    this.eventSource = feed.addEventSource();

    this.grantRuntime(fn);
    // A function's environment holds one batch configuration: another BatchInference's, or
    // different values in the environment prop, are refused.
    fn.addRuntimeEnvironment(this, {
      [RuntimeEnvironment.OUTPUT_BUCKET]: this.outputBucket.bucketName,
      [RuntimeEnvironment.OUTPUT_PREFIX]: this.outputPrefix,
      [RuntimeEnvironment.BATCH_QUEUE_URL]: this.queue.queueUrl,
      [RuntimeEnvironment.BATCH_CHUNK_BYTES]: Tokenization.stringifyNumber(bytesOf(this, 'chunkSize', chunkSize)),
      [RuntimeEnvironment.BATCH_ROWS]: Tokenization.stringifyNumber(props.rowsPerBatch ?? DEFAULT_ROWS_PER_BATCH),
      ...(this.outputTable ? { [RuntimeEnvironment.OUTPUT_TABLE]: this.outputTable.tableName } : {}),
    });
  }

  /**
   * Alarms and dashboard sections for the queue, its dead-letter queue, the rows that went
   * to errors files, and the function (a function already monitored is not added twice).
   *
   * @returns the alarms created
   */
  public monitor(monitoring: InferenceMonitoring, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    return [
      ...monitoring.addFunction(this.function, thresholds),
      ...monitoring.addQueue(this.node.id, this.queue, this.deadLetterQueue, thresholds),
      ...monitoring.addBatchRows(this.node.id, this.function, thresholds),
    ];
  }

  /**
   * What the runtime does with its role: read inputs under the input prefix (ranged, with
   * IfMatch); read, write and list its outputs under the output prefix; send chunk
   * messages to the queue; write rows to the output table, when there is one. Receiving
   * from the queue is granted by the event source.
   */
  private grantRuntime(fn: TensorFlowFunction): void {
    const role = fn.role;
    const inputObjects = this.inputBucket.arnForObjects(`${this.inputPrefix}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [inputObjects] }));
    acknowledgeWildcardResource(role, inputObjects, 'Batch inputs are any object under the input prefix, uploaded at run time; nothing else in the bucket is readable.');
    this.inputBucket.encryptionKey?.grantDecrypt(role);

    const outputObjects = this.outputBucket.arnForObjects(`${this.outputPrefix}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [outputObjects] }));
    acknowledgeWildcardResource(role, outputObjects, 'Batch outputs (predictions, error rows, manifests, done markers) are written and read under keys derived at run time from each input key and ETag, all under the output prefix.');
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.outputBucket.bucketArn],
      ...(this.outputPrefix ? { conditions: { StringLike: { 's3:prefix': [`${this.outputPrefix}*`] } } } : {}),
    }));
    grantObjectKey(this.outputBucket.encryptionKey, role);

    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }));
    this.queue.encryptionMasterKey?.grant(role, ...WRITER_KEY_ACTIONS);

    if (this.outputTable) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'], resources: [this.outputTable.tableArn] }));
      grantTableKey(this.outputTable, role);
    }
  }

  private validate(props: BatchInferenceProps, chunkSize: Size): void {
    const fail = (message: string) => {
      throw new TensorFlowValidationError(this, message);
    };
    const fn = props.function;
    for (const [name, prefix] of [['inputPrefix', this.inputPrefix], ['outputPrefix', this.outputPrefix]] as const) {
      if (prefix.startsWith('/')) fail(`${name} must not start with '/': S3 keys have no leading slash, so "${prefix}" would match nothing. Use "${prefix.replace(/^\/+/, '')}".`);
    }
    this.validateSuffixes(fn);
    if (this.sameBucket(props) && prefixesOverlap(this.inputPrefix, this.outputPrefix)) {
      fail(`inputPrefix "${this.inputPrefix}" and outputPrefix "${this.outputPrefix}" overlap in the same bucket: outputs would be predicted again as inputs. Use prefixes where neither starts with the other (e.g. inputPrefix 'input/' and outputPrefix 'predictions/'), or give a separate outputBucket.`);
    }
    const bytes = bytesOf(this, 'chunkSize', chunkSize);
    if (!Token.isUnresolved(bytes) && (bytes < MIN_CHUNK_SIZE.toBytes() || bytes > MAX_CHUNK_SIZE.toBytes())) {
      fail(`chunkSize must be ${MIN_CHUNK_SIZE.toMebibytes()} to ${MAX_CHUNK_SIZE.toMebibytes()} MiB; got ${mib(bytes)}. Smaller chunks cost more messages than they save; larger ones may not finish within one invocation.`);
    }
    const integerIn = (name: string, value: number | undefined, min: number, max: number) => {
      if (value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max)) {
        fail(`${name} must be a whole number from ${min} to ${max}; got ${value}.`);
      }
    };
    integerIn('rowsPerBatch', props.rowsPerBatch, 1, MAX_ROWS_PER_BATCH);
    validateQueueFeed(this, props, { offersBatchingWindow: true });
    const timeout = fn.timeout.toSeconds();
    if (!Token.isUnresolved(timeout) && timeout < MIN_BATCH_TIMEOUT.toSeconds()) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:BatchShortTimeout', `The function's timeout is ${fn.timeout.toHumanString()}: one chunk (${Token.isUnresolved(bytes) ? 'chunkSize' : mib(bytes)}) may not finish in it. Give the TensorFlowFunction a timeout of minutes (up to 15) for batch work, or a smaller chunkSize.`);
    }
  }

  private validateSuffixes(fn: TensorFlowFunction): void {
    const fail = (message: string) => {
      throw new TensorFlowValidationError(this, message);
    };
    const suffixes = this.inputSuffixes;
    const known = Object.values(INPUT_SUFFIXES).flat().join(', ');
    if (suffixes.length === 0) fail(`inputSuffixes is empty, so no upload would be predicted: give at least one of ${known}, or leave it unset.`);
    for (const suffix of suffixes) {
      if (!formatOfSuffix(suffix)) fail(`inputSuffixes "${suffix}" is not an input the runtime reads: every suffix must end with one of ${known}.`);
    }
    const twice = suffixes.find((s, i) => suffixes.indexOf(s) !== i);
    if (twice !== undefined) fail(`inputSuffixes lists "${twice}" twice: list each suffix once.`);
    for (const a of suffixes) {
      const b = suffixes.find((s) => s !== a && a.endsWith(s));
      if (b !== undefined) fail(`inputSuffixes "${a}" and "${b}" overlap (every key ending with the first ends with the second), and S3 refuses overlapping notification filters: keep "${b}" only.`);
    }
    const readable = formatsForTask(fn.taskType);
    const unreadable = suffixes.filter((s) => !readable.includes(formatOfSuffix(s)!));
    if (unreadable.length) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:BatchUnreadableInputs', `The function's ${fn.taskType} task cannot read ${unreadable.join(', ')} inputs: every row of them would end in the errors file. It reads ${readable.flatMap((f) => [...INPUT_SUFFIXES[f]]).join(', ')}. Remove those suffixes or use a task that reads them.`);
    }
  }

  /** Whether inputs and outputs share a bucket: the same construct, or the same name. */
  private sameBucket(props: BatchInferenceProps): boolean {
    if (!props.outputBucket || props.outputBucket === props.inputBucket) return true;
    if (!props.inputBucket) return false;
    const stack = Stack.of(this);
    return JSON.stringify(stack.resolve(props.inputBucket.bucketName)) === JSON.stringify(stack.resolve(props.outputBucket.bucketName));
  }
}
