// Defaults, limits and derived settings of AsyncInference, in one place: the key layout
// that the runtime's job API shares with the bucket's lifecycle and notification rules,
// and the queue's visibility timeout derived from the function's timeout.
import { Duration, Token } from 'aws-cdk-lib';

/** Every object of a job lives under this prefix (inputs, uploads, results). */
export const JOBS_PREFIX = 'jobs/';

/** Inline inputs of jobs (bodies sent to POST /jobs) as `jobs/inputs/{jobId}`. */
export const INPUTS_PREFIX = 'jobs/inputs/';

/** Presigned uploads land here as `jobs/uploads/{jobId}`; their arrival starts the job. */
export const UPLOADS_PREFIX = 'jobs/uploads/';

/** The DynamoDB table's partition key (String), as the runtime writes it. */
export const TABLE_PARTITION_KEY = 'pk';

/** The DynamoDB table's TTL attribute (epoch seconds), as the runtime writes it. */
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';


export const DEFAULT_RESULT_RETENTION = Duration.days(7);
export const DEFAULT_UPLOAD_EXPIRY = Duration.minutes(15);
/**
 * A presigned URL stops working when the credentials that signed it expire: the
 * function's role session lasts hours, not the 7 days SigV4 allows, so a longer lifetime
 * would promise what the URL cannot keep.
 */
export const MAX_UPLOAD_EXPIRY = Duration.hours(12);
/** An upload is consumed by its job at once; what is left after a day is abandoned. */
export const UPLOAD_RETENTION = Duration.days(1);
/** DynamoDB TTL and S3 lifecycle both work in days; beyond ten years is a mistake. */
export const MAX_RESULT_RETENTION_DAYS = 3650;

export const DEFAULT_MAX_RECEIVE_COUNT = 3;
/** SQS redrive policy limit. */
export const MAX_RECEIVE_COUNT = 1000;
/** One job per invocation: jobs are long, and a batch shares one timeout. */
export const DEFAULT_BATCH_SIZE = 1;
/** Without a batching window (which only delays long jobs) Lambda takes 1 to 10. */
export const MAX_BATCH_SIZE = 10;
/** Lambda's range for an SQS event source's maximum concurrency. */
export const MIN_MAX_CONCURRENCY = 2;
export const MAX_MAX_CONCURRENCY = 1000;

/** Below this function timeout, AsyncInference warns: async jobs exist for long inputs. */
export const SHORT_ASYNC_TIMEOUT = Duration.minutes(1);

/** Lambda's longest function timeout. */
const LAMBDA_MAX_TIMEOUT = Duration.minutes(15);
/** AWS's recommendation for an SQS event source: six times the function's timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
export const MIN_VISIBILITY_TIMEOUT = Duration.seconds(30);
/** SQS's limit. */
export const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);

/**
 * The jobs queue's visibility timeout: 6 x the function's timeout (AWS's recommendation
 * for SQS event sources, so a message is not redelivered while an invocation that took it,
 * with Lambda's own retries of throttled batches, may still be running), at least 30 s and
 * at most 12 hours (SQS's limit). A timeout that is a token is taken as Lambda's largest
 * (15 minutes), which gives 90 minutes.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export function visibilityTimeoutFor(functionTimeout: Duration): Duration {
  const timeout = functionTimeout.toSeconds();
  const seconds = Token.isUnresolved(timeout) ? LAMBDA_MAX_TIMEOUT.toSeconds() : timeout;
  const derived = Math.min(MAX_VISIBILITY_TIMEOUT.toSeconds(), Math.max(MIN_VISIBILITY_TIMEOUT.toSeconds(), VISIBILITY_TIMEOUT_FACTOR * seconds));
  return Duration.seconds(derived);
}
