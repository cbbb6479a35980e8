// The AWS clients jobs use, one per process and loaded on first use, so that a function
// without jobs (and the /classify cold path) never loads these SDK packages. Endpoints
// come from the SDK's own settings (AWS_ENDPOINT_URL_DYNAMODB, _SQS, _SNS, _EVENTBRIDGE,
// _S3), which is how the tests point them at loopback peers.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';

let documents: Promise<DynamoDBDocumentClient> | undefined;
let presigning: Promise<S3Client> | undefined;
let sqs: Promise<SQSClient> | undefined;
let sns: Promise<SNSClient> | undefined;
let events: Promise<EventBridgeClient> | undefined;

export function documentClient(): Promise<DynamoDBDocumentClient> {
  documents ??= Promise.all([import('@aws-sdk/client-dynamodb'), import('@aws-sdk/lib-dynamodb')])
    .then(([{ DynamoDBClient }, { DynamoDBDocumentClient: Documents }]) => Documents.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    }));
  return documents;
}

export function dynamoCommands(): Promise<typeof import('@aws-sdk/lib-dynamodb')> {
  return import('@aws-sdk/lib-dynamodb');
}

/**
 * A client only for presigning. The SDK's default integrity protection would sign a
 * CRC32 checksum of the empty body into a presigned PUT, and S3 would then refuse
 * every real upload; WHEN_REQUIRED leaves checksums to the uploader.
 */
export function presigningClient(): Promise<S3Client> {
  presigning ??= import('@aws-sdk/client-s3').then(({ S3Client: Client }) => new Client({
    forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  }));
  return presigning;
}

export function presigner(): Promise<typeof import('@aws-sdk/s3-request-presigner')> {
  return import('@aws-sdk/s3-request-presigner');
}

export function sqsClient(): Promise<SQSClient> {
  sqs ??= import('@aws-sdk/client-sqs').then(({ SQSClient: Client }) => new Client({}));
  return sqs;
}

export function snsClient(): Promise<SNSClient> {
  sns ??= import('@aws-sdk/client-sns').then(({ SNSClient: Client }) => new Client({}));
  return sns;
}

export function eventBridgeClient(): Promise<EventBridgeClient> {
  events ??= import('@aws-sdk/client-eventbridge').then(({ EventBridgeClient: Client }) => new Client({}));
  return events;
}
