// One S3 client per process. S3-compatible servers (tests on loopback, MinIO) are named
// by the SDK's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and need path-style addressing.
import { S3Client } from '@aws-sdk/client-s3';

let client: S3Client | undefined;

export function s3Client(): S3Client {
  client ??= new S3Client({
    forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL),
  });
  return client;
}
