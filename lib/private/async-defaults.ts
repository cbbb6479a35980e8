// Defaults and limits of AsyncInference, in one place: the key layout that the runtime's
// job API shares with the bucket's lifecycle and notification rules, and how long jobs and
// uploads live. The queue's limits and visibility timeout are queue-feed.ts's, shared with
// BatchInference.
import { Duration } from 'aws-cdk-lib';

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

/** Below this function timeout, AsyncInference warns: async jobs exist for long inputs. */
export const SHORT_ASYNC_TIMEOUT = Duration.minutes(1);
