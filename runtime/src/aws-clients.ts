// The AWS clients of the runtime: one of each per process, created on first use, so a
// function that only answers HTTP requests (the /classify cold path) never loads the SDK,
// and one without jobs never loads DynamoDB, SNS or EventBridge. Region and credentials
// come from the environment; endpoints from the SDK's own AWS_ENDPOINT_URL_<SERVICE> /
// AWS_ENDPOINT_URL settings, which is how the tests point them at loopback peers.
// S3-compatible servers (loopback peers, MinIO) need path-style addressing.
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Memoises a client factory: the first call creates the client, later ones share it. */
function once<T>(create: () => Promise<T>): () => Promise<T> {
  let client: Promise<T> | undefined;
  return () => (client ??= create());
}

const pathStyle = () => Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL);

/** S3: models, batch inputs and outputs, job inputs and results. */
export const s3Client: () => Promise<S3Client> = once(() => s3Commands().then(({ S3Client: Client }) => new Client({ forcePathStyle: pathStyle() })));

/**
 * S3, only for the model's download at init: no SDK retries, because model-download.ts
 * bounds and retries each request itself (3 attempts, not 3 SDK attempts in each of 3).
 */
export const modelS3Client: () => Promise<S3Client> = once(() => s3Commands().then(({ S3Client: Client }) => new Client({ forcePathStyle: pathStyle(), maxAttempts: 1 })));

/** The S3 commands, loaded with the client. */
export function s3Commands(): Promise<typeof import('@aws-sdk/client-s3')> {
  return import('@aws-sdk/client-s3');
}

/**
 * S3, only for presigning. The SDK's default integrity protection would sign a CRC32
 * checksum of the empty body into a presigned PUT, and S3 would then refuse every real
 * upload; WHEN_REQUIRED leaves checksums to the uploader.
 */
export const presigningClient: () => Promise<S3Client> = once(() => s3Commands().then(({ S3Client: Client }) => new Client({
  forcePathStyle: pathStyle(),
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
})));

export function presigner(): Promise<typeof import('@aws-sdk/s3-request-presigner')> {
  return import('@aws-sdk/s3-request-presigner');
}

/** SQS: batch chunk messages and job messages. */
export const sqsClient: () => Promise<SQSClient> = once(() => sqsCommands().then(({ SQSClient: Client }) => new Client({})));

export function sqsCommands(): Promise<typeof import('@aws-sdk/client-sqs')> {
  return import('@aws-sdk/client-sqs');
}

/** DynamoDB documents: the jobs table and the batch output table. */
export const documentClient: () => Promise<DynamoDBDocumentClient> = once(() => Promise.all([import('@aws-sdk/client-dynamodb'), dynamoCommands()])
  .then(([{ DynamoDBClient }, { DynamoDBDocumentClient: Documents }]) => Documents.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  })));

export function dynamoCommands(): Promise<typeof import('@aws-sdk/lib-dynamodb')> {
  return import('@aws-sdk/lib-dynamodb');
}

/** SNS: job notifications. */
export const snsClient: () => Promise<SNSClient> = once(() => import('@aws-sdk/client-sns').then(({ SNSClient: Client }) => new Client({})));

/** EventBridge: job notifications. */
export const eventBridgeClient: () => Promise<EventBridgeClient> = once(() => import('@aws-sdk/client-eventbridge').then(({ EventBridgeClient: Client }) => new Client({})));

