// BatchInference: what each prop changes in the template, each synth-time error and
// warning, and the batch example stack (snapshot and cdk-nag AwsSolutions).
import { App, Duration, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InferenceTask, RuntimeEnvironment } from '../lib';
import type { TensorFlowFunctionProps } from '../lib';
import { classifierWith, envOf, nagReport, newStack, statementsOf } from './support';
import { AsyncInference } from '../lib/async-inference';
import { BatchInference } from '../lib/batch-inference';
import type { BatchInferenceProps } from '../lib/batch-inference';
import { InferenceMonitoring } from '../lib/inference-monitoring';
import { visibilityTimeoutFor } from '../lib/private/queue-feed';

const MIB = 1024 * 1024;
const TABULAR = () => InferenceTask.tabular({ features: ['sepal_length', 'sepal_width'], labels: ['setosa', 'versicolor'] });
const IMAGES = () => InferenceTask.imageClassification({ inputSize: 224, labels: ['cat', 'dog'] });

/** A tabular function with a batch-sized timeout; `props` override. */
const classifier = classifierWith({ task: TABULAR(), timeout: Duration.minutes(5) });

type BatchProps = Partial<BatchInferenceProps> | ((stack: Stack) => Partial<BatchInferenceProps>);

/** A function with batch inference; `props` are BatchInference's, `fnProps` the function's. */
function withBatch(props: BatchProps = {}, fnProps: Partial<TensorFlowFunctionProps> = {}) {
  const stack = newStack();
  const fn = classifier(stack, fnProps);
  const batch = new BatchInference(stack, 'Batch', { function: fn, ...(typeof props === 'function' ? props(stack) : props) });
  return { stack, fn, batch, template: Template.fromStack(stack) };
}

/** The function's role policy holds each of these statements, exactly. */
function expectStatements(template: Template, ...statements: Record<string, unknown>[]): void {
  for (const statement of statements) {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^FnServiceRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectEquals(statement)]) },
    });
  }
}

/** The S3 notification filters: one [prefix, suffix] per queue configuration. */
function filtersOf(template: Template): [string | undefined, string | undefined][] {
  const [resource] = Object.values(template.findResources('Custom::S3BucketNotifications'));
  type QueueConfiguration = { Events: string[]; Filter: { Key: { FilterRules: { Name: string; Value: string }[] } } };
  const configs = resource.Properties.NotificationConfiguration.QueueConfigurations as QueueConfiguration[];
  return configs.map((c) => {
    expect(c.Events).toEqual(['s3:ObjectCreated:*']);
    const rule = (name: string) => c.Filter.Key.FilterRules.find((r) => r.Name === name)?.Value;
    return [rule('prefix'), rule('suffix')];
  });
}

const ref = (prefix: string) => ({ Ref: Match.stringLikeRegexp(`^${prefix}`) });
const arn = (prefix: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${prefix}`), 'Arn'] });
const objects = (bucket: string, pattern: string) => ({ 'Fn::Join': ['', [arn(bucket), pattern]] });

describe('defaults', () => {
  test('an input bucket: S3-managed encryption, TLS only, public access blocked, access logs to a log bucket through its policy', () => {
    const { template, batch } = withBatch();
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: ref('BatchAccessLogsBucket'), LogFilePrefix: 'input-bucket/' },
      VersioningConfiguration: Match.absent(),
    });
    // No ACL on the log bucket, whatever the app's feature flags: log delivery through its policy.
    template.hasResourceProperties('AWS::S3::Bucket', {
      AccessControl: Match.absent(),
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: Match.absent(),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref('BatchAccessLogsBucket'),
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' })]) },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref('BatchInputBucket'),
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    expect(batch.outputBucket).toBe(batch.inputBucket);
    expect(batch.accessLogsBucket?.node.path).toMatch(/^Test\/Batch\//);
    expect([batch.inputPrefix, batch.outputPrefix]).toEqual(['input/', 'predictions/']);
  });

  test.each<[string, () => InferenceTask, string[]]>([
    ['tabular', TABULAR, ['.csv', '.jsonl', '.ndjson']],
    ['image-classification', IMAGES, ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.jsonl', '.ndjson']],
    ['tensor', () => InferenceTask.tensor(), ['.jsonl', '.ndjson']],
  ])('a %s task: one ObjectCreated notification under input/ for each suffix it reads', (_type, task, suffixes) => {
    const { template, batch } = withBatch({}, { task: task() });
    expect(filtersOf(template)).toEqual(suffixes.map((s) => ['input/', s]));
    expect(batch.inputSuffixes).toEqual(suffixes);
  });

  test('an SQS-managed encrypted, TLS-only queue whose visibility is 6x the function timeout, and a 14-day dead-letter queue after 3 receives', () => {
    const { template, batch } = withBatch();
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * 300,
      RedrivePolicy: { deadLetterTargetArn: arn('BatchDeadLetterQueue'), maxReceiveCount: 3 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600, RedrivePolicy: Match.absent() });
    for (const queue of ['BatchQueue', 'BatchDeadLetterQueue']) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queue)],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
    // S3 may send to the queue, from the input bucket only.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref('BatchQueue')],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 's3.amazonaws.com' }, Condition: { ArnLike: { 'aws:SourceArn': arn('BatchInputBucket') } } })]) },
    });
    expect(batch.visibilityTimeout.toMinutes()).toBe(30);
  });

  test('an event source mapping on the live alias: one message per invocation, at most 10 at once, partial batch failures', () => {
    const { stack, fn, template } = withBatch();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arn('BatchQueue'),
      FunctionName: stack.resolve(fn.alias.functionName),
      BatchSize: 1,
      MaximumBatchingWindowInSeconds: Match.absent(),
      ScalingConfig: { MaximumConcurrency: 10 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(stack.resolve(fn.alias.functionName)).not.toEqual(stack.resolve(fn.function.functionName));
  });

  test('the runtime\'s environment: output bucket and prefix, the queue for chunks, chunk bytes and rows per model call', () => {
    const { template } = withBatch();
    expect(envOf(template)).toEqual(expect.objectContaining({
      [RuntimeEnvironment.OUTPUT_BUCKET]: { Ref: expect.stringMatching(/^BatchInputBucket/) },
      [RuntimeEnvironment.OUTPUT_PREFIX]: 'predictions/',
      [RuntimeEnvironment.BATCH_QUEUE_URL]: { Ref: expect.stringMatching(/^BatchQueue/) },
      [RuntimeEnvironment.BATCH_CHUNK_BYTES]: String(8 * MIB),
      [RuntimeEnvironment.BATCH_ROWS]: '1024',
    }));
  });

  test('least privilege: read under the input prefix; read, write and list under the output prefix; send to the queue; consume it', () => {
    const { template } = withBatch();
    expectStatements(template,
      { Effect: 'Allow', Action: 's3:GetObject', Resource: objects('BatchInputBucket', '/input/*') },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: objects('BatchInputBucket', '/predictions/*') },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: arn('BatchInputBucket'), Condition: { StringLike: { 's3:prefix': ['predictions/*'] } } },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: arn('BatchQueue') },
      { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: arn('BatchQueue') },
    );
    const statements = statementsOf(template);
    const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => /^(s3|sqs|kms):/.test(a)).sort()).toEqual([
      's3:GetObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject',
      'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage',
    ]);
  });
});

describe('props', () => {
  test('a given input bucket: no bucket created, its uploads notify the queue, and outputs go to it', () => {
    const { template, batch } = withBatch((stack) => ({ inputBucket: s3.Bucket.fromBucketName(stack, 'Uploads', 'my-uploads') }));
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('Custom::S3BucketNotifications', { BucketName: 'my-uploads' });
    expect(batch.accessLogsBucket).toBeUndefined();
    expect(envOf(template)[RuntimeEnvironment.OUTPUT_BUCKET]).toBe('my-uploads');
    expectStatements(template,
      { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-uploads/input/*']] } },
    );
  });

  test('a separate output bucket and prefix: outputs, grants and ListBucket condition move there; inputPrefix \'\' takes the whole input bucket', () => {
    const { template } = withBatch((stack) => ({
      inputBucket: s3.Bucket.fromBucketName(stack, 'Uploads', 'my-uploads'),
      inputPrefix: '',
      outputBucket: s3.Bucket.fromBucketName(stack, 'Results', 'my-results'),
      outputPrefix: 'scores/',
    }));
    expect(filtersOf(template)).toEqual([[undefined, '.csv'], [undefined, '.jsonl'], [undefined, '.ndjson']]);
    const env = envOf(template);
    expect([env[RuntimeEnvironment.OUTPUT_BUCKET], env[RuntimeEnvironment.OUTPUT_PREFIX]]).toEqual(['my-results', 'scores/']);
    const bucketArn = (name: string, path = '') => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${name}${path}`]] });
    expectStatements(template,
      { Effect: 'Allow', Action: 's3:GetObject', Resource: bucketArn('my-uploads', '/*') },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: bucketArn('my-results', '/scores/*') },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn('my-results'), Condition: { StringLike: { 's3:prefix': ['scores/*'] } } },
    );
  });

  test('outputPrefix \'\' in a separate bucket lists the whole bucket, with no prefix condition', () => {
    const { template } = withBatch((stack) => ({ outputBucket: s3.Bucket.fromBucketName(stack, 'Results', 'my-results'), outputPrefix: '' }));
    expectStatements(template,
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-results']] } },
    );
  });

  test('inputSuffixes: one notification filter each, as given (S3 compares case-sensitively)', () => {
    const { template } = withBatch({ inputPrefix: 'daily/', inputSuffixes: ['.csv', '.CSV'] });
    expect(filtersOf(template)).toEqual([['daily/', '.csv'], ['daily/', '.CSV']]);
  });

  test('chunkSize and rowsPerBatch reach the runtime', () => {
    const { template } = withBatch({ chunkSize: Size.mebibytes(32), rowsPerBatch: 64 });
    const env = envOf(template);
    expect([env[RuntimeEnvironment.BATCH_CHUNK_BYTES], env[RuntimeEnvironment.BATCH_ROWS]]).toEqual([String(32 * MIB), '64']);
  });

  test('batchSize, maxBatchingWindow and maxConcurrency configure the event source; the window adds to the visibility timeout', () => {
    const { template, batch } = withBatch({ batchSize: 50, maxBatchingWindow: Duration.seconds(30), maxConcurrency: 200 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 30,
      ScalingConfig: { MaximumConcurrency: 200 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * 300 + 30 });
    expect(batch.visibilityTimeout.toSeconds()).toBe(1830);
  });

  test.each([
    [Duration.minutes(1), 360],
    [Duration.minutes(15), 5400],
  ])('a function timeout of %s gives a visibility timeout of %i s', (timeout, visibility) => {
    const { template } = withBatch({}, { timeout });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: visibility });
  });

  test('a token timeout is taken as 15 minutes; the result never exceeds SQS\'s 12 hours', () => {
    expect(visibilityTimeoutFor(Duration.seconds(Token.asNumber({ Ref: 'Timeout' }))).toSeconds()).toBe(5400);
    expect(visibilityTimeoutFor(Duration.hours(3), Duration.minutes(5)).toSeconds()).toBe(12 * 3600);
  });

  test('maxReceiveCount sets the redrive policy', () => {
    const { template } = withBatch({ maxReceiveCount: 5 });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
  });

  test('queueEncryptionKey: both queues use it; S3 may use it to send; the function may use it to send chunks', () => {
    const { template } = withBatch((stack) => ({ queueEncryptionKey: new kms.Key(stack, 'QueueKey', { enableKeyRotation: true }) }));
    const queues = template.findResources('AWS::SQS::Queue', { Properties: { KmsMasterKeyId: arn('QueueKey') } });
    expect(Object.keys(queues)).toHaveLength(2);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 's3.amazonaws.com' }, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'] })]) },
    });
    expectStatements(template,
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: arn('QueueKey') },
    );
  });

  test('KMS-encrypted buckets: decrypt for the input key; decrypt and generate data keys for the output key', () => {
    const { template } = withBatch((stack) => ({
      inputBucket: s3.Bucket.fromBucketAttributes(stack, 'Uploads', { bucketName: 'my-uploads', encryptionKey: kms.Key.fromKeyArn(stack, 'InKey', 'arn:aws:kms:us-east-1:123456789012:key/in') }),
      outputBucket: s3.Bucket.fromBucketAttributes(stack, 'Results', { bucketName: 'my-results', encryptionKey: kms.Key.fromKeyArn(stack, 'OutKey', 'arn:aws:kms:us-east-1:123456789012:key/out') }),
    }));
    expectStatements(template,
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: 'arn:aws:kms:us-east-1:123456789012:key/in' },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: 'arn:aws:kms:us-east-1:123456789012:key/out' },
    );
  });

  test('outputTable: the runtime gets its name; the function may BatchWriteItem and PutItem on it, and use its customer managed key', () => {
    const { template, batch } = withBatch((stack) => ({ outputTable: rowsTable(stack, new kms.Key(stack, 'RowsKey', { enableKeyRotation: true })) }));
    expect(batch.outputTable?.node.path).toBe('Test/Rows');
    expect(envOf(template)[RuntimeEnvironment.OUTPUT_TABLE]).toEqual({ Ref: expect.stringMatching(/^Rows/) });
    expectStatements(template,
      { Effect: 'Allow', Action: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'], Resource: arn('Rows') },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'], Resource: arn('RowsKey') },
    );
  });

  test('outputTable with an AWS owned key: the table grant only, no KMS', () => {
    const { template } = withBatch((stack) => ({ outputTable: rowsTable(stack) }));
    const actions = statementsOf(template).flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => /^(dynamodb|kms):/.test(a)).sort()).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:PutItem']);
  });

  test('without outputTable: no table variable and no DynamoDB permission', () => {
    const { template, batch } = withBatch();
    expect(batch.outputTable).toBeUndefined();
    expect(envOf(template)).not.toHaveProperty(RuntimeEnvironment.OUTPUT_TABLE);
    const actions = statementsOf(template).flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
  });

  test('the same values set through the function\'s environment prop are accepted', () => {
    expect(() => withBatch({}, { environment: { [RuntimeEnvironment.OUTPUT_PREFIX]: 'predictions/', [RuntimeEnvironment.BATCH_ROWS]: '1024' } })).not.toThrow();
  });
});

describe('one visibility rule for BatchInference and AsyncInference: min(12 h, max(30 s, 6 x timeout + window))', () => {
  test.each([
    ['a 3 s timeout is raised to 30 s', Duration.seconds(3), undefined, 30],
    ['a 4 s timeout and a 10 s window: 34 s', Duration.seconds(4), Duration.seconds(10), 34],
    ['a 5 minute timeout and a 30 s window: 1830 s', Duration.minutes(5), Duration.seconds(30), 1830],
    ['a 1 minute timeout and a token window, taken as Lambda\'s longest (5 minutes): 660 s', Duration.minutes(1), Duration.seconds(Token.asNumber({ Ref: 'Window' })), 660],
    ['a token timeout and a 5 minute window: 5700 s', Duration.seconds(Token.asNumber({ Ref: 'Timeout' })), Duration.minutes(5), 5700],
    ['at most SQS\'s 12 hours', Duration.hours(3), undefined, 12 * 3600],
  ])('%s', (_what, timeout, window, seconds) => {
    expect(visibilityTimeoutFor(timeout, window).toSeconds()).toBe(seconds);
  });

  test('a batch function with a 3 s timeout gets a 30 s visibility timeout, as an AsyncInference would', () => {
    const { template, batch } = withBatch({}, { timeout: Duration.seconds(3) });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 30, RedrivePolicy: Match.anyValue() });
    const stack = newStack();
    const jobs = new AsyncInference(stack, 'Jobs', { function: classifier(stack, { timeout: Duration.seconds(3) }) });
    expect(jobs.visibilityTimeout.toSeconds()).toBe(batch.visibilityTimeout.toSeconds());
  });

  test('the same function timeout gives both constructs the same visibility timeout', () => {
    const stack = newStack();
    const fn = classifier(stack, { timeout: Duration.minutes(2) });
    const batch = new BatchInference(stack, 'Batch', { function: fn });
    const jobs = new AsyncInference(stack, 'Jobs', { function: fn });
    expect([batch.visibilityTimeout.toSeconds(), jobs.visibilityTimeout.toSeconds()]).toEqual([720, 720]);
  });
});

/** A table with the keys the runtime writes: `pk` and `sk`, both strings. */
function rowsTable(stack: Stack, key?: kms.IKey): dynamodb.Table {
  return new dynamodb.Table(stack, 'Rows', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    ...(key ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key } : {}),
  });
}

describe('monitor()', () => {
  test('one line monitors the function, the queue and its dead letters, and the failed rows; the alarms are named after the construct', () => {
    const stack = newStack();
    const batch = new BatchInference(stack, 'Batch', { function: classifier(stack) });
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const alarms = batch.monitor(monitoring);
    const functionAlarms = monitoring.addFunction(batch.function);
    expect(alarms).toHaveLength(functionAlarms.length + 3);
    expect(alarms.slice(-3).map((a) => a.node.id)).toEqual(['OldestMessageAge', 'DeadLetterMessages', 'FailedRowRate']);
    const descriptions = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const age = descriptions.find((p) => /oldest message in the Batch queue/.test(p.AlarmDescription));
    const deadLetters = descriptions.find((p) => /dead-letter queue of Batch/.test(p.AlarmDescription));
    expect(JSON.stringify(age.Metrics)).toMatch(/"BatchQueue[0-9A-F]{8}","QueueName"/);
    expect(JSON.stringify(deadLetters.Metrics)).toMatch(/"BatchDeadLetterQueue[0-9A-F]{8}","QueueName"/);
    expect(descriptions.filter((p) => /^\[Batch\] More than 5% of the rows read from batch inputs by model/.test(p.AlarmDescription))).toHaveLength(1);
  });
});

describe('warnings', () => {
  test('a function timeout under a minute is short for a chunk', () => {
    const { stack } = withBatch({}, { timeout: Duration.seconds(30) });
    Annotations.fromStack(stack).hasWarning('/Test/Batch', Match.stringLikeRegexp('timeout is 30 seconds: one chunk \\(8\\.0 MiB\\) may not finish in it'));
  });

  test('suffixes the task cannot read: images for a tabular model', () => {
    const { stack } = withBatch({ inputSuffixes: ['.csv', '.png'] });
    Annotations.fromStack(stack).hasWarning('/Test/Batch', Match.stringLikeRegexp('tabular task cannot read \\.png inputs.*It reads \\.csv, \\.jsonl, \\.ndjson'));
  });

  test('CSV for an image model', () => {
    const { stack } = withBatch({ inputSuffixes: ['.csv'] }, { task: IMAGES() });
    Annotations.fromStack(stack).hasWarning('/Test/Batch', Match.stringLikeRegexp('image-classification task cannot read \\.csv inputs'));
  });

  test('none with the defaults and a timeout of a minute or more', () => {
    const { stack } = withBatch({}, { timeout: Duration.minutes(1) });
    Annotations.fromStack(stack).hasNoWarning('/Test/Batch', Match.anyValue());
  });
});

describe('synth-time errors', () => {
  test.each<[string, (stack: Stack) => Partial<BatchInferenceProps>, RegExp]>([
    ['an output prefix inside the input prefix', () => ({ outputPrefix: 'input/results/' }),
      /^Test\/Batch: inputPrefix "input\/" and outputPrefix "input\/results\/" overlap in the same bucket.*or give a separate outputBucket/],
    ['the whole input bucket with outputs in it', () => ({ inputPrefix: '' }), /inputPrefix "" and outputPrefix "predictions\/" overlap in the same bucket/],
    ['the same bucket given twice, by name', (stack) => ({
      inputBucket: s3.Bucket.fromBucketName(stack, 'A', 'shared'), outputBucket: s3.Bucket.fromBucketName(stack, 'B', 'shared'), inputPrefix: 'p/', outputPrefix: 'p/out/',
    }), /overlap in the same bucket/],
    ['a prefix with a leading slash', () => ({ inputPrefix: '/uploads/' }), /inputPrefix must not start with '\/'.*Use "uploads\/"/],
    ['a chunk under 1 MiB', () => ({ chunkSize: Size.kibibytes(512) }), /chunkSize must be 1 to 256 MiB; got 0\.5 MiB/],
    ['a chunk over 256 MiB', () => ({ chunkSize: Size.mebibytes(512) }), /chunkSize must be 1 to 256 MiB; got 512\.0 MiB/],
    ['no rows per batch', () => ({ rowsPerBatch: 0 }), /rowsPerBatch must be a whole number from 1 to 1024; got 0/],
    ['too many rows per batch', () => ({ rowsPerBatch: 2048 }), /rowsPerBatch must be a whole number from 1 to 1024; got 2048/],
    ['a concurrency of 1', () => ({ maxConcurrency: 1 }), /maxConcurrency must be a whole number from 2 to 1000 \(Lambda's range for an SQS event source\); got 1/],
    ['a concurrency of 1001', () => ({ maxConcurrency: 1001 }), /maxConcurrency must be a whole number from 2 to 1000 \(Lambda's range for an SQS event source\); got 1001/],
    ['zero receives', () => ({ maxReceiveCount: 0 }), /maxReceiveCount must be a whole number from 1 to 1000 \(SQS redrive policy\); got 0/],
    ['a batch of 0', () => ({ batchSize: 0 }), /batchSize must be a whole number from 1 to 10; got 0/],
    ['a batch of 11 without a window', () => ({ batchSize: 11 }), /batchSize must be a whole number from 1 to 10; got 11\. Above 10 \(up to 10000\), set maxBatchingWindow too/],
    ['a batch of 10001 with a window', () => ({ batchSize: 10001, maxBatchingWindow: Duration.seconds(10) }), /batchSize must be a whole number from 1 to 10000; got 10001/],
    ['a window over 5 minutes', () => ({ batchSize: 10, maxBatchingWindow: Duration.minutes(6) }), /maxBatchingWindow must be at most 5 minutes; got 6 minutes/],
    ['a window with a batch of 1', () => ({ maxBatchingWindow: Duration.seconds(20) }), /maxBatchingWindow \(20 seconds\) only waits for a batch to fill, and batchSize is 1/],
    ['no suffixes', () => ({ inputSuffixes: [] }), /inputSuffixes is empty, so no upload would be predicted/],
    ['a suffix the runtime does not read', () => ({ inputSuffixes: ['.csv', '.txt'] }), /inputSuffixes "\.txt" is not an input the runtime reads: every suffix must end with one of \.csv, \.jsonl/],
    ['a suffix twice', () => ({ inputSuffixes: ['.csv', '.csv'] }), /inputSuffixes lists "\.csv" twice/],
    ['overlapping suffixes', () => ({ inputSuffixes: ['features.csv', '.csv'] }), /inputSuffixes "features\.csv" and "\.csv" overlap.*keep "\.csv" only/],
  ])('%s', (_what, props, message) => {
    const stack = newStack();
    const fn = classifier(stack);
    expect(() => new BatchInference(stack, 'Batch', { function: fn, ...props(stack) })).toThrow(message);
  });

  test('a second BatchInference on the same function', () => {
    const stack = newStack();
    const fn = classifier(stack);
    new BatchInference(stack, 'Batch', { function: fn });
    expect(() => new BatchInference(stack, 'MoreBatch', { function: fn, inputPrefix: 'more/' }))
      .toThrow(/^Test\/MoreBatch: Test\/Fn already has SERVERLESS_TF_OUTPUT_BUCKET set to another value by Test\/Batch \(BatchInference\); Test\/MoreBatch \(BatchInference\) needs its own: .*Give Test\/MoreBatch a TensorFlowFunction of its own\.$/);
  });

  test('a batch variable already set, differently, through the function\'s environment prop', () => {
    const stack = newStack();
    const fn = classifier(stack, { environment: { [RuntimeEnvironment.BATCH_ROWS]: '64' } });
    expect(() => new BatchInference(stack, 'Batch', { function: fn })).toThrow(/already has SERVERLESS_TF_BATCH_ROWS set to another value/);
  });

  test('an output table other than the one already in the function\'s environment prop', () => {
    const stack = newStack();
    const fn = classifier(stack, { environment: { [RuntimeEnvironment.OUTPUT_TABLE]: 'other-table' } });
    expect(() => new BatchInference(stack, 'Batch', { function: fn, outputTable: rowsTable(stack) })).toThrow(/already has SERVERLESS_TF_OUTPUT_TABLE set to another value/);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('given KMS-encrypted buckets, a whole-bucket input prefix and a KMS queue key: no unacknowledged findings', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Test');
    const fn = classifier(stack);
    new BatchInference(stack, 'Batch', {
      function: fn,
      inputBucket: s3.Bucket.fromBucketAttributes(stack, 'Uploads', { bucketName: 'my-uploads', encryptionKey: kms.Key.fromKeyArn(stack, 'InKey', 'arn:aws:kms:us-east-1:123456789012:key/in') }),
      inputPrefix: '',
      outputBucket: s3.Bucket.fromBucketName(stack, 'Results', 'my-results'),
      queueEncryptionKey: new kms.Key(stack, 'QueueKey', { enableKeyRotation: true }),
    });
    expect(nagReport(app)).toBe('');
  });
});


