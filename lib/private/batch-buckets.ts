// The buckets BatchInference creates when none is given: an input bucket and the bucket
// its server access logs go to.
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** aws-cdk-lib's feature flag for server access log delivery through a bucket policy. */
const S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

export interface CreatedInputBucket {
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
}

/**
 * An input bucket with S3-managed encryption (the function and S3 notifications need no
 * key grants), TLS only, public access blocked, and server access logs to a bucket of its own.
 */
export function createInputBucket(scope: Construct): CreatedInputBucket {
  // Log delivery through a bucket policy, as AWS recommends (ACLs are off on new buckets),
  // whatever the app's flags say: without this flag aws-cdk-lib grants it with an ACL.
  // Context can only be set before the scope has children: call this first.
  scope.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
  const accessLogsBucket = new s3.Bucket(scope, 'AccessLogsBucket', {
    // Server access log delivery supports SSE-S3 only.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    // No access logs of its own (that would loop); cdk-nag's S1 exempts log destinations.
  });
  const bucket = new s3.Bucket(scope, 'InputBucket', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: accessLogsBucket,
    serverAccessLogsPrefix: 'input-bucket/',
  });
  return { bucket, accessLogsBucket };
}
