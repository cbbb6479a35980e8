// What the runtime's role needs of a customer managed KMS key, per service, with no more
// wildcard actions than the service needs. aws-cdk-lib's grants add kms:ReEncrypt* and
// kms:GenerateDataKey* (grantSendMessages, grantPublish, grantReadWrite), each a cdk-nag
// IAM5 finding; S3, SQS and SNS document kms:GenerateDataKey and kms:Decrypt for writers.
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { acknowledgeWildcardActions } from './acknowledge';

/**
 * What a writer of SSE-KMS data needs: a data key to encrypt with (PutObject, SendMessage,
 * Publish), and Decrypt to read it back (GetObject, and the parts of a multipart upload).
 *
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
 */
export const WRITER_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];

/** The KMS actions aws-cdk-lib's DynamoDB grants use for a table's customer managed key, wildcards included. */
export const TABLE_KEY_WILDCARD_ACTIONS = ['kms:ReEncrypt*', 'kms:GenerateDataKey*'];

/** Lets `role` read and write objects encrypted with `key` (SSE-KMS). */
export function grantObjectKey(key: kms.IKey | undefined, role: iam.IRole): void {
  key?.grant(role, ...WRITER_KEY_ACTIONS);
}

/** The actions of aws-cdk-lib's grantSendMessages, with the key actions of a writer only. */
export function grantSendMessages(queue: sqs.IQueue, role: iam.IRole): void {
  iam.Grant.addToPrincipal({ grantee: role, actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], resourceArns: [queue.queueArn] });
  queue.encryptionMasterKey?.grant(role, ...WRITER_KEY_ACTIONS);
}

/** The action of aws-cdk-lib's grantPublish, with the key actions of a writer only. */
export function grantPublish(topic: sns.ITopic, role: iam.IRole): void {
  iam.Grant.addToPrincipal({ grantee: role, actions: ['sns:Publish'], resourceArns: [topic.topicArn] });
  topic.masterKey?.grant(role, ...WRITER_KEY_ACTIONS);
}

/**
 * Lets `role` write items to `table` under its customer managed key, if it has one: aws-cdk-lib's
 * grantEncryptDecrypt, as its Table.grantWriteData gives, whose two wildcard actions are
 * acknowledged by their exact cdk-nag finding ids.
 */
export function grantTableKey(table: dynamodb.ITable, role: iam.IRole): void {
  if (!table.encryptionKey) return;
  table.encryptionKey.grantEncryptDecrypt(role);
  acknowledgeWildcardActions(role, TABLE_KEY_WILDCARD_ACTIONS,
    `DynamoDB uses the table's customer managed key on the caller's behalf; this is the key grant aws-cdk-lib gives a table writer (kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*), on that one key (${table.node.path}) only.`);
}
