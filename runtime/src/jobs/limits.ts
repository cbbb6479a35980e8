// The limits of asynchronous jobs, in one place.

/** Largest job input read into memory (inline bodies are held to the synchronous limit before this). */
export const MAX_JOB_INPUT_BYTES = 64 * 1024 * 1024;

/**
 * Results up to this size are kept in the job item too, so GET /jobs/{id} answers them
 * inline without reading S3. DynamoDB items are at most 400 KB.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
 */
export const MAX_INLINE_RESULT_BYTES = 64 * 1024;

/**
 * An upload S3 accepted just before its URL expired may finish a little later: an object
 * created up to this long after the expiry still starts its job.
 */
export const UPLOAD_GRACE_SECONDS = 5 * 60;

/** How long a presigned result URL from GET /jobs/{id} is valid. */
export const RESULT_URL_EXPIRES_SECONDS = 60 * 60;

/** Idempotency-Key: 1 to 128 visible ASCII characters (no spaces). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** A JSON body this small may be an upload request; anything larger is an inline input. */
export const MAX_UPLOAD_REQUEST_BYTES = 4096;
