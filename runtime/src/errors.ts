// One error hierarchy for everything a request can get wrong, and the one place that
// turns any thrown value into an HTTP status and a JSON body. Messages say what was
// wrong and what to do; they never carry a stack trace.
import { RETRY_AFTER_SECONDS } from './constants';
import { RuntimeErrorKind } from '../../lib/runtime-contract';

/** Metric dimension values for errors, by kind: the contract with the monitoring constructs (lib/runtime-contract.ts). */
export const ERROR_KIND = RuntimeErrorKind;
export type ErrorKind = RuntimeErrorKind;

export abstract class InferenceError extends Error {
  public abstract readonly statusCode: number;
  public abstract readonly kind: ErrorKind;
  public constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the body or event cannot be parsed. */
export class BadRequestError extends InferenceError {
  public readonly statusCode = 400;
  public readonly kind = ERROR_KIND.BAD_REQUEST;
}

/** 404: no such model or route. */
export class NotFoundError extends InferenceError {
  public readonly statusCode = 404;
  public readonly kind = ERROR_KIND.NOT_FOUND;
}

/** 413: the body is over the configured limit, or an image claims too many pixels. */
export class PayloadTooLargeError extends InferenceError {
  public readonly statusCode = 413;
  public readonly kind = ERROR_KIND.PAYLOAD_TOO_LARGE;
}

/** 415: the content type is not one this route reads. */
export class UnsupportedMediaTypeError extends InferenceError {
  public readonly statusCode = 415;
  public readonly kind = ERROR_KIND.UNSUPPORTED_MEDIA_TYPE;
}

/** 422: well-formed, but the wrong shape, type or features for this model. */
export class UnprocessableError extends InferenceError {
  public readonly statusCode = 422;
  public readonly kind = ERROR_KIND.UNPROCESSABLE;
}

/** 503: out of memory (host or CUDA) or the model is not loaded yet; retry later. */
export class ServiceUnavailableError extends InferenceError {
  public readonly statusCode = 503;
  public readonly kind: ErrorKind;
  public readonly retryAfterSeconds: number;
  public constructor(message: string, kind: ErrorKind = ERROR_KIND.NOT_READY, retryAfterSeconds = RETRY_AFTER_SECONDS) {
    super(message);
    this.kind = kind;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * 503: the TensorFlow backend failed (a WebAssembly trap such as `memory access out of
 * bounds`), now or during an earlier request. Its heap is in an unknown state, so this
 * environment answers no more inferences and is replaced; a retry reaches a fresh one.
 * Counted as OutOfMemory: a trap is what running out of the wasm heap ends in.
 */
export class BackendFaultError extends ServiceUnavailableError {
  public constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, ERROR_KIND.OUT_OF_MEMORY);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** 405: the route exists but not for this method; `allow` lists the methods it takes. */
export class MethodNotAllowedError extends InferenceError {
  public readonly statusCode = 405;
  public readonly kind = ERROR_KIND.NOT_FOUND;
  public constructor(message: string, public readonly allow: readonly string[]) {
    super(message);
  }
}

// TensorFlow's and V8's wordings of running out of memory, host or device.
const OOM_PATTERNS = [
  /out of memory/i,
  /\bOOM\b/,
  /CUDA_ERROR_OUT_OF_MEMORY/,
  /ResourceExhausted/i,
  /failed to allocate/i,
  /Array buffer allocation failed/i,
  /Cannot allocate/i,
  /RangeError: WebAssembly\.Memory/i,
];

/**
 * A deployment error found at init (a variable, the task against the model): the init
 * phase fails with this message, which names what to change. Not a request error.
 */
export class ConfigurationError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/** The command line of `serverless-tf` is wrong: the usage is printed with the message. */
export class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A CSV line whose quotes are malformed: that row goes to the errors file. */
export class CsvLineError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'CsvLineError';
  }
}

/** Rows that DynamoDB kept refusing (throttling): a 5xx, so the chunk's message is retried. */
export class OutputTableError extends ServiceUnavailableError {
  public constructor(message: string) {
    super(message, ERROR_KIND.INTERNAL);
  }
}

/** A job attempt failed for a reason worth retrying (the environment's fault): SQS redelivers it. */
export class JobAttemptError extends Error {
  public constructor(message: string, public readonly jobId: string, public readonly statusCode: number) {
    super(message);
    this.name = 'JobAttemptError';
  }
}

/**
 * A batched model call failed because the model's outputs are not one row per input row:
 * coalescing stops for the model, and each call of the batch runs again on its own.
 */
export class UnbatchableModelError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UnbatchableModelError';
  }
}

// The messages of WebAssembly traps (V8's wording) and of Emscripten's abort().
const WASM_TRAP = /memory access out of bounds|unreachable|divide by zero|remainder by zero|integer overflow|invalid conversion to integer|table index is out of bounds|null function|function signature mismatch|indirect call|^Aborted\(/i;

/**
 * True when a thrown value is a fault of the backend itself, not of the input: a
 * WebAssembly RuntimeError (a trap in a wasm kernel). Unlike a JavaScript error, a trap
 * can leave the wasm heap corrupt, so the environment must not serve again.
 */
export function isBackendFault(err: unknown): boolean {
  if (typeof WebAssembly !== 'undefined' && err instanceof WebAssembly.RuntimeError) return true;
  // A RuntimeError made in another realm (a test sandbox) fails instanceof: match its name and wording.
  return err instanceof Error && err.name === 'RuntimeError' && WASM_TRAP.test(err.message);
}

/** True when a thrown value is an out-of-memory condition (host, wasm heap or CUDA). */
export function isOutOfMemory(err: unknown): boolean {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return OOM_PATTERNS.some((p) => p.test(text));
}

/** The answer to the request whose model call made the backend fail. */
export const BACKEND_FAULT_MESSAGE = 'The TensorFlow backend failed during inference (its WebAssembly memory is exhausted or corrupt), so this environment is being replaced. Retry the request; if it fails again, send fewer or smaller inputs per request.';

export interface HttpError {
  readonly statusCode: number;
  readonly kind: ErrorKind;
  readonly message: string;
  readonly headers: Record<string, string>;
}

/**
 * Maps any thrown value to a status, a kind and a message fit for a client.
 * Unknown errors become a 500 whose message hides internals.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof InferenceError) {
    const headers: Record<string, string> = {};
    if (err instanceof ServiceUnavailableError) headers['Retry-After'] = String(err.retryAfterSeconds);
    if (err instanceof MethodNotAllowedError) headers.Allow = err.allow.join(', ');
    return { statusCode: err.statusCode, kind: err.kind, message: err.message, headers };
  }
  if (isBackendFault(err)) {
    return {
      statusCode: 503,
      kind: ERROR_KIND.OUT_OF_MEMORY,
      message: BACKEND_FAULT_MESSAGE,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  if (isOutOfMemory(err)) {
    return {
      statusCode: 503,
      kind: ERROR_KIND.OUT_OF_MEMORY,
      message: 'The function ran out of memory during inference. Retry later, send a smaller input or fewer instances, or raise the function\'s memory (or GPU memory).',
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  return {
    statusCode: 500,
    kind: ERROR_KIND.INTERNAL,
    message: 'Internal error during inference. The function log has the details (search for the request id).',
    headers: {},
  };
}

/**
 * Whose fault: true when the request (or one item of it) is at fault and retrying it
 * unchanged would fail again (a 4xx); false when the environment is (a 5xx: out of memory,
 * not ready, an internal error), and a retry may succeed. The one rule for re-running a
 * group item by item (coalesced model calls, batch rows) and for failing a job for good.
 */
export function isClientError(err: unknown): boolean {
  return toHttpError(err).statusCode < 500;
}
