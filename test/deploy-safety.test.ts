// Templates that CloudFormation would refuse, or that would deploy badly, found by review
// (issue 14): each case built through the public API and checked on the synthesized template.
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AsyncInference, BatchInference, Model, TensorFlowFunction } from '../lib';
import { layersModelDir, newStack } from './support';

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
