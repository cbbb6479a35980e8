// Templates that CloudFormation would refuse, or that would deploy badly, found by review
// (issue 14): each case built through the public API and checked on the synthesized template.
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AsyncInference, BatchInference, JobNotification, Model, TensorFlowFunction } from '../lib';
import { layersModelDir, newStack, statementsOf } from './support';

/** Template.fromStack refuses a template with a dependency cycle, as CloudFormation does: the synthesized template, checked. */
const deployable = (stack: Stack) => Template.fromStack(stack);

const fn = (stack: Stack) => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), timeout: undefined });

describe('no dependency cycle between a key, a bucket and a queue', () => {
  test('AsyncInference with one in-stack key for the table, the bucket and the queue', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new AsyncInference(stack, 'Jobs', { function: fn(stack), encryptionKey: key, queueEncryptionKey: key });
    expect(() => deployable(stack)).not.toThrow();
  });

  test('BatchInference on an in-stack KMS bucket whose key is also the queue key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const bucket = new s3.Bucket(stack, 'Inputs', { encryption: s3.BucketEncryption.KMS, encryptionKey: key, enforceSSL: true });
    new BatchInference(stack, 'Batch', { function: fn(stack), inputBucket: bucket, queueEncryptionKey: key });
    expect(() => deployable(stack)).not.toThrow();
  });

  test('the check finds a cycle where there is one', () => {
    const stack = newStack();
    const a = new s3.CfnBucket(stack, 'A');
    const b = new s3.CfnBucket(stack, 'B', { bucketName: a.ref });
    a.bucketName = b.ref;
    expect(() => deployable(stack)).toThrow(/dependency cycle: A -> B -> A/);
  });
});

describe('S3 may send to the queue only for the bucket, in the account', () => {
  test('an imported bucket named only by name: the queue policy checks aws:SourceArn and aws:SourceAccount; the key policy names the account, not the bucket', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const bucket = s3.Bucket.fromBucketName(stack, 'Uploads', 'uploads-of-another-team');
    new BatchInference(stack, 'Batch', { function: fn(stack), inputBucket: bucket, queueEncryptionKey: key });
    const template = deployable(stack);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 's3.amazonaws.com' },
          Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
          Condition: {
            ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::uploads-of-another-team']] } },
            StringEquals: { 'aws:SourceAccount': stack.account },
          },
        })]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 's3.amazonaws.com' },
          Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          Condition: { StringEquals: { 'aws:SourceAccount': stack.account } },
        })]),
      },
    });
    const keyPolicy = JSON.stringify(Object.values(template.findResources('AWS::KMS::Key'))[0]);
    expect(keyPolicy).not.toContain('uploads-of-another-team');
  });

  test('an imported queue key cannot be changed: a warning gives the statement to add', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new BatchInference(stack, 'Batch', { function: fn(stack), queueEncryptionKey: key });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('its key policy cannot be changed: add this statement to it.*kms:GenerateDataKey'));
  });
});

describe('customer managed keys: least-privilege key grants, and cdk-nag AwsSolutions finds nothing unacknowledged', () => {
  /**
   * AsyncInference with one key for the table, bucket and created topic, a queue key and a topic of
   * the user's under a third key; BatchInference on an SSE-KMS input bucket, into an SSE-KMS output
   * bucket and a table under customer managed keys, with a queue key.
   */
  function withKeys(app: App): Stack {
    const stack = new Stack(app, 'Keys', { env: { account: '123456789012', region: 'us-east-1' } });
    const key = (id: string) => new kms.Key(stack, id, { enableKeyRotation: true });
    const bucket = (id: string, encryptionKey: kms.IKey) => new s3.Bucket(stack, id, {
      encryption: s3.BucketEncryption.KMS, encryptionKey, enforceSSL: true, serverAccessLogsBucket: s3.Bucket.fromBucketName(stack, `${id}Logs`, 'access-logs'),
    });
    const jobsKey = key('JobsKey');
    new AsyncInference(stack, 'Jobs', { function: fn(stack), encryptionKey: jobsKey, queueEncryptionKey: key('JobsQueueKey'), notification: JobNotification.sns() });
    const batchFn = new TensorFlowFunction(stack, 'BatchFn', { model: Model.fromAsset(layersModelDir()) });
    new BatchInference(stack, 'Batch', {
      function: batchFn,
      inputBucket: bucket('Inputs', key('InputKey')),
      outputBucket: bucket('Outputs', key('OutputKey')),
      outputTable: new dynamodb.Table(stack, 'Rows', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key('RowsKey'),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      }),
      queueEncryptionKey: key('BatchQueueKey'),
    });
    const topicKey = key('TopicKey');
    new AsyncInference(stack, 'MoreJobs', {
      function: new TensorFlowFunction(stack, 'MoreFn', { model: Model.fromAsset(layersModelDir()) }),
      notification: JobNotification.sns(new sns.Topic(stack, 'Topic', { masterKey: topicKey, enforceSSL: true })),
    });
    return stack;
  }

  test('no unacknowledged AwsSolutions errors or warnings', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = withKeys(app);
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} (${v.severity}): ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });

  test('writers of S3 objects, SQS messages and SNS notifications get kms:GenerateDataKey and kms:Decrypt, no wildcard', () => {
    const template = Template.fromStack(withKeys(new App({ context: { 'aws:cdk:bundling-stacks': [] } })));
    // Every action on the key, over all statements (the event source adds kms:Decrypt to consume).
    const keyActions = (functionId: string, keyId: string) => [...new Set(statementsOf(template, functionId)
      .filter((s) => JSON.stringify(s.Resource).includes(`"${keyId}`))
      .flatMap((s) => [s.Action].flat() as string[]))]
      .sort();
    expect(keyActions('Fn', 'JobsQueueKey')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(keyActions('MoreFn', 'TopicKey')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(keyActions('BatchFn', 'OutputKey')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(keyActions('BatchFn', 'BatchQueueKey')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(keyActions('BatchFn', 'InputKey')).toEqual(['kms:Decrypt']);
  });

  test('the one wildcard grant left is a DynamoDB table writer\'s, on that table\'s key, acknowledged by its exact finding ids', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = withKeys(app);
    const template = Template.fromStack(stack);
    const wildcards = (functionId: string) => statementsOf(template, functionId)
      .filter((s) => ([s.Action].flat() as string[]).some((a) => a.startsWith('kms:') && a.endsWith('*')))
      .map((s) => ({ actions: s.Action, key: JSON.stringify(s.Resource) }));
    expect(wildcards('BatchFn')).toEqual([{ actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'], key: expect.stringContaining('"RowsKey') }]);
    expect(wildcards('MoreFn')).toEqual([]);
    const acknowledged = stack.node.findChild('BatchFn').node.findChild('ServiceRole').node.metadata
      .flatMap((m) => Object.keys((m.data ?? {}) as Record<string, unknown>));
    expect(acknowledged).toEqual(expect.arrayContaining(['AwsSolutions-IAM5[Action::kms:ReEncrypt*]', 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]'].map((id) => expect.stringContaining(id))));
  });
});
