// Lambda answers a synchronous invocation of at most 6 MB, counted as the proxy answer's
// JSON (a binary body in base64), and past that API Gateway gets an error and answers 502
// with no word of why. So an answer over the limit becomes a 413 that says what to ask for
// instead, before Lambda refuses it.
import { PayloadTooLargeError } from '../errors';
import type { HttpResponse } from '../http';

/** Bytes of the proxy answer around the body: status, flag and braces (the headers are counted as they are). */
const ENVELOPE_BYTES = 64;

/** The size Lambda counts for an answer: the JSON of `{statusCode, headers, body, isBase64Encoded}`. */
export function proxyResponseBytes(res: HttpResponse): number {
  const headers = Buffer.byteLength(JSON.stringify(res.headers));
  // A base64 body has nothing to escape; text is escaped inside the JSON string.
  const body = res.isBase64Encoded ? res.body.length : Buffer.byteLength(JSON.stringify(res.body));
  return ENVELOPE_BYTES + headers + body;
}

export interface ResponseLimitHints {
  /** Asynchronous jobs are on: their results go to S3, with no such limit. */
  readonly jobs: boolean;
  /** The path asked, for the hint that fits it. */
  readonly path: string;
}

/** Throws a 413 that points at the ways to a smaller answer when `res` is over `limit` bytes. */
export function checkResponseSize(res: HttpResponse, limit: number, hints: ResponseLimitHints): void {
  // Escaping at most doubles ASCII text, and a UTF-16 unit is at most 3 bytes: small answers need no count.
  if (res.body.length * 6 + 16_384 <= limit) return;
  const bytes = proxyResponseBytes(res);
  if (bytes <= limit) return;
  const ways = ['send fewer instances per request'];
  if (/^\/v2\//.test(hints.path)) {
    ways.push('ask only for the outputs you need ("outputs": [{"name": ...}])', 'ask for binary outputs ("parameters": {"binary_data_output": true}: 4 bytes per float32 value before base64, instead of up to 25 characters of JSON)');
  }
  if (hints.jobs) ways.push('or run it as an asynchronous job (POST /jobs with the same body), whose result is stored in S3 with no such limit');
  throw new PayloadTooLargeError(`The answer is ${bytes} bytes, over the ${limit} bytes this function may answer (Lambda answers a synchronous invocation of at most 6 MB, binary bodies counted in base64; SERVERLESS_TF_MAX_RESPONSE_BYTES). To get a smaller answer, ${ways.join('; ')}.`);
}
