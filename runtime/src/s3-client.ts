// One S3 client per process, loaded on first use: the SDK is most of the bundle and only
// s3:// models and S3/SQS events need it, so a /classify cold start does not load it.
// S3-compatible servers (tests on loopback, MinIO) are named by the SDK's own
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and need path-style addressing.
import type { S3Client } from '@aws-sdk/client-s3';

let client: Promise<S3Client> | undefined;

export function s3Client(): Promise<S3Client> {
  client ??= import('@aws-sdk/client-s3').then(({ S3Client: Client }) => new Client({
    forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL),
  }));
  return client;
}

/** The S3 commands, loaded with the client. */
export function s3Commands(): Promise<typeof import('@aws-sdk/client-s3')> {
  return import('@aws-sdk/client-s3');
}
