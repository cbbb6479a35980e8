// One S3 object of a model, fetched to a local file within a time bound and checked
// against what S3 knows about its bytes. Each GET has its own limits (response headers,
// a gap between body chunks, a slowest accepted rate) and is retried a few times, so a
// stalled connection costs seconds of the init phase, not all of it; an object whose bytes
// do not match S3's integrity data is never written under its real name.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { s3Commands } from './aws-clients';
import { ConfigurationError } from './errors';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';

/** The time bounds and retries of the requests that fetch a model. */
export interface ModelDownloadLimits {
  /** Longest wait for a response's headers: connection, request and first byte. */
  readonly responseTimeoutMs: number;
  /** Longest gap between two chunks of a body ("no bytes for ..."). */
  readonly stallTimeoutMs: number;
  /**
   * The slowest average rate accepted: one attempt at an object of `size` bytes may take
   * responseTimeoutMs + stallTimeoutMs + size / minBytesPerSecond, however it trickles.
   */
  readonly minBytesPerSecond: number;
  /** Attempts per request after a timeout, a lost connection or a 5xx. Wrong bytes get at most 2. */
  readonly maxAttempts: number;
  /** First pause before a retry; doubled each time, with jitter. */
  readonly retryDelayMs: number;
}

/**
 * Chosen for Lambda's 10 s on-demand init: S3 answers a GET in tens of milliseconds and
 * streams tens of MB/s, so 2 s of silence is a stalled connection, not a slow one. A shard
 * that stalls on every attempt fails the init after about 3 x 2 s, with its name, before
 * Lambda stops the init at 10 s; a stall that clears on the retry costs 2 s.
 */
export const MODEL_DOWNLOAD_LIMITS: ModelDownloadLimits = {
  responseTimeoutMs: 2_000,
  stallTimeoutMs: 2_000,
  minBytesPerSecond: 1024 * 1024,
  maxAttempts: 3,
  retryDelayMs: 100,
};

/** Downloads of an object whose bytes do not match S3's integrity data: the first and one retry. */
const MAX_INTEGRITY_ATTEMPTS = 2;

export interface ModelDownloadLogger {
  info(msg: string, extra?: object): void;
}

/** An object to fetch, as the listing described it. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
}

/** What was checked about the bytes written, and their SHA-256 for checking the cached copy later. */
export interface VerifiedObject {
  /** Hex SHA-256 of the bytes, computed while they streamed. */
  readonly sha256: string;
  /** What the bytes were checked against: 'etag-md5', 's3-checksum-crc32', ...; empty when S3 had nothing to check. */
  readonly verifiedBy: readonly string[];
}

/** The model cannot be fetched: the object, the attempts made and what happened to each. */
export class ModelDownloadError extends Error {
  public constructor(message: string, public readonly objectUri: string) {
    super(message);
    this.name = 'ModelDownloadError';
  }
}

/** The bytes S3 sent do not match the object's own integrity data, on the retry too: a deployment problem. */
export class ModelIntegrityError extends ConfigurationError {
  public constructor(message: string, public readonly objectUri: string) {
    super(message);
    this.name = 'ModelIntegrityError';
  }
}

type FaultKind = 'timeout' | 'network' | 'unavailable' | 'integrity' | 'refused';

/** Why one attempt failed; `kind` decides whether and how often to retry. */
class AttemptFault extends Error {
  public constructor(public readonly kind: FaultKind, message: string) {
    super(message);
    this.name = 'AttemptFault';
  }
}

/**
 * Fetches `object` into `file` (created or truncated) and returns its digest: retried after
 * a timeout, a lost connection or a 5xx; after wrong bytes, once.
 */
export async function downloadVerified(
  s3: S3Client, object: ObjectRef, file: string, limits: ModelDownloadLimits, logger?: ModelDownloadLogger,
): Promise<VerifiedObject> {
  return withRetries(`s3://${object.bucket}/${object.key}`, limits, logger, () => attemptDownload(s3, object, file, limits));
}

/**
 * Sends a small request (a listing page) bounded by the response and stall timeouts
 * together, with the same retries as a download.
 */
export async function sendBounded<T>(
  what: string, limits: ModelDownloadLimits, logger: ModelDownloadLogger | undefined, send: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = limits.responseTimeoutMs + limits.stallTimeoutMs;
  return withRetries(what, limits, logger, async () => {
    const controller = new AbortController();
    let fault: AttemptFault | undefined;
    const timer = setTimeout(() => {
      fault = new AttemptFault('timeout', `no complete response in ${duration(timeoutMs)}`);
      controller.abort();
    }, timeoutMs);
    try {
      return await send(controller.signal);
    } catch (err) {
      throw fault ?? faultOfRequest(err);
    } finally {
      clearTimeout(timer);
    }
  });
}

/** Hex SHA-256 of a file's bytes. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function withRetries<T>(what: string, limits: ModelDownloadLimits, logger: ModelDownloadLogger | undefined, attempt: () => Promise<T>): Promise<T> {
  const faults: AttemptFault[] = [];
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const fault = err instanceof AttemptFault ? err : new AttemptFault('refused', (err as Error).message ?? String(err));
      faults.push(fault);
      const budget = fault.kind === 'integrity' ? Math.min(MAX_INTEGRITY_ATTEMPTS, limits.maxAttempts) : fault.kind === 'refused' ? 1 : limits.maxAttempts;
      if (faults.length >= budget) throw finalError(what, faults);
      logger?.info('Retrying model download', { object: what, attempt: faults.length, maxAttempts: budget, reason: fault.message });
      // Exponential, with jitter so that parallel downloads that failed together do not retry together.
      await sleep(limits.retryDelayMs * 2 ** (faults.length - 1) * (0.5 + Math.random() / 2));
    }
  }
}

function finalError(what: string, faults: readonly AttemptFault[]): Error {
  const last = faults[faults.length - 1];
  const attempts = faults.length === 1 ? '1 attempt' : `${faults.length} attempts`;
  // The earlier attempts, when they failed otherwise than the last.
  const history = faults.some((f) => f.message !== last.message)
    ? ` (${faults.slice(0, -1).map((f, i) => `attempt ${i + 1}: ${f.message}`).join('; ')})`
    : '';
  if (last.kind === 'integrity') {
    return new ModelIntegrityError(
      `${what}: ${last.message}, after ${attempts}${history}. The object in S3 does not match its own integrity data (or was replaced mid-download): upload the model again.`,
      what,
    );
  }
  const hint = last.kind === 'refused'
    ? ' Check that the object exists and that the function\'s role may s3:GetObject (and kms:Decrypt for an SSE-KMS bucket).'
    : ' S3 or the network path to it (NAT gateway, VPC endpoint) is not answering in time; the next init tries again.';
  return new ModelDownloadError(`Could not download ${what} after ${attempts}: ${last.message}${history}.${hint}`, what);
}

async function attemptDownload(s3: S3Client, object: ObjectRef, file: string, limits: ModelDownloadLimits): Promise<VerifiedObject> {
  const { GetObjectCommand } = await s3Commands();
  const controller = new AbortController();
  let received = 0;
  let fault: AttemptFault | undefined;
  let body: Readable | undefined;
  const fail = (f: AttemptFault) => {
    if (fault) return;
    fault = f;
    controller.abort();
    body?.destroy(f);
  };
  const deadlineMs = limits.responseTimeoutMs + limits.stallTimeoutMs + Math.ceil((object.size * 1000) / limits.minBytesPerSecond);
  const deadline = setTimeout(() => fail(new AttemptFault('timeout',
    `not complete ${duration(deadlineMs)} after the request, with ${progress(received, object.size)} (slower than ${bytes(limits.minBytesPerSecond)}/s)`)), deadlineMs);
  let idle = setTimeout(() => fail(new AttemptFault('timeout', `no response in ${duration(limits.responseTimeoutMs)}`)), limits.responseTimeoutMs);
  try {
    let response: GetObjectCommandOutput;
    try {
      // IfMatch: a file replaced after the listing would mix two model versions.
      // ChecksumMode: the SDK then checks the body against a full-object checksum S3 holds.
      response = await s3.send(
        new GetObjectCommand({ Bucket: object.bucket, Key: object.key, IfMatch: object.etag, ChecksumMode: 'ENABLED' }),
        { abortSignal: controller.signal },
      );
    } catch (err) {
      throw fault ?? faultOfRequest(err);
    }
    if (!(response.Body instanceof Readable)) {
      throw new AttemptFault('refused', `unexpected body type ${typeof response.Body}`);
    }
    if (response.ContentLength !== undefined && response.ContentLength !== object.size) {
      discard(response.Body);
      throw new AttemptFault('integrity', `S3 answered with ${response.ContentLength} bytes (Content-Length), but the listing says ${object.size}`);
    }

    const sha256 = createHash('sha256');
    const md5 = createHash('md5');
    const armStall = () => {
      clearTimeout(idle);
      idle = setTimeout(() => fail(new AttemptFault('timeout', `no bytes for ${duration(limits.stallTimeoutMs)} after ${progress(received, object.size)}`)), limits.stallTimeoutMs);
    };
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (received > object.size) {
          callback(new AttemptFault('integrity', `S3 sent more than the ${object.size} bytes the listing says`));
          return;
        }
        sha256.update(chunk);
        md5.update(chunk);
        armStall();
        callback(null, chunk);
      },
    });
    body = response.Body;
    armStall();
    try {
      await pipeline(body, meter, createWriteStream(file));
    } catch (err) {
      throw fault ?? faultOfBody(err, received, object.size);
    }
    if (received !== object.size) {
      throw new AttemptFault('network', `the body ended after ${progress(received, object.size)}`);
    }
    const sha256Hex = sha256.digest('hex');
    return { sha256: sha256Hex, verifiedBy: verify(response, object, md5.digest('hex'), sha256Hex) };
  } finally {
    clearTimeout(deadline);
    clearTimeout(idle);
  }
}

/**
 * Checks the bytes against what S3 says of them, and says what they were checked against.
 * The SDK has already checked a full-object S3 checksum (ChecksumMode: ENABLED; the stream
 * fails at its end otherwise); SHA-256 is checked here as well, as it is computed anyway.
 * A single-part upload's ETag is the MD5 of its bytes, unless the object is encrypted with
 * SSE-KMS or SSE-C; a multipart ETag ('...-3') is a digest of the parts' digests and cannot
 * be checked without the part sizes.
 */
function verify(response: GetObjectCommandOutput, object: ObjectRef, md5Hex: string, sha256Hex: string): string[] {
  const verifiedBy: string[] = [];
  const checksums = {
    sha256: response.ChecksumSHA256,
    sha1: response.ChecksumSHA1,
    crc32: response.ChecksumCRC32,
    crc32c: response.ChecksumCRC32C,
    crc64nvme: response.ChecksumCRC64NVME,
  };
  for (const [algorithm, value] of Object.entries(checksums)) {
    if (!value || /-\d+$/.test(value) || response.ChecksumType === 'COMPOSITE') continue;
    if (algorithm === 'sha256') {
      const got = Buffer.from(sha256Hex, 'hex').toString('base64');
      if (got !== value) throw new AttemptFault('integrity', `the bytes' SHA-256 is ${got}, but S3's checksum is ${value}`);
    }
    verifiedBy.push(`s3-checksum-${algorithm}`);
    break;
  }
  const etag = (response.ETag ?? object.etag ?? '').replace(/"/g, '');
  const encryption = response.ServerSideEncryption ?? '';
  if (/^[0-9a-f]{32}$/i.test(etag) && !encryption.startsWith('aws:kms') && !response.SSECustomerAlgorithm) {
    if (etag.toLowerCase() !== md5Hex) throw new AttemptFault('integrity', `the bytes' MD5 is ${md5Hex}, but the ETag says ${etag.toLowerCase()}`);
    verifiedBy.push('etag-md5');
  }
  return verifiedBy;
}

function faultOfRequest(err: unknown): AttemptFault {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const what = `${e.name ?? 'Error'}${e.message && e.message !== e.name ? `: ${e.message}` : ''}`;
  if (status === undefined) return new AttemptFault('network', `connection failed (${e.code ?? what})`);
  if (status >= 500 || status === 429) return new AttemptFault('unavailable', `S3 answered ${status} (${what})`);
  if (status === 412) return new AttemptFault('refused', 'the object changed after it was listed (412 PreconditionFailed on its ETag)');
  return new AttemptFault('refused', `S3 answered ${status} (${what})`);
}

function faultOfBody(err: unknown, received: number, size: number): AttemptFault {
  if (err instanceof AttemptFault) return err;
  const message = (err as Error).message ?? String(err);
  // The SDK's checksum stream, when S3's full-object checksum does not match the bytes.
  if (/checksum mismatch/i.test(message)) return new AttemptFault('integrity', message.replace(/\.$/, ''));
  return new AttemptFault('network', `the connection broke after ${progress(received, size)} (${(err as NodeJS.ErrnoException).code ?? message})`);
}

/** Drops a body that will not be read, without an 'error' event nobody listens to. */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

function progress(received: number, size: number): string {
  return `${bytes(received)} of ${bytes(size)}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}
