// The HTTP shape shared by every front door: API Gateway REST and HTTP APIs, Function
// URLs and the local server all become an HttpRequest, and get an HttpResponse back.
import { toHttpError } from './errors';
import type { ErrorKind } from './errors';
import type { Observability } from './observability';

export interface HttpRequest {
  readonly method: string;
  /** Path without query string and without an API Gateway stage prefix. */
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /**
   * The caller an authorizer verified (see callerOf in caller.ts), e.g. `jwt:<iss>#<sub>`;
   * undefined without one (no authorizer, the local server). Jobs are bound to it.
   */
  readonly caller?: string;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  /** Text, or binary bytes in base64 when isBase64Encoded: the form a Lambda proxy answer carries. */
  readonly body: string;
  /** The body is binary, in base64 (a KServe V2 answer with binary outputs). */
  readonly isBase64Encoded?: boolean;
  /** Set on errors, for metrics and logs. */
  readonly errorKind?: ErrorKind;
}

/** The bytes an answer's body stands for. */
export function responseBytes(res: HttpResponse): Buffer {
  return Buffer.from(res.body, res.isBase64Encoded ? 'base64' : 'utf8');
}

export function jsonResponse(statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The one place an error becomes a response: `{"error": "..."}`, never a stack trace. */
export function errorResponse(err: unknown): HttpResponse {
  const e = toHttpError(err);
  return { ...jsonResponse(e.statusCode, { error: e.message }, e.headers), errorKind: e.kind };
}

/**
 * The answer to a request that failed, counted in the error metric and logged: a client
 * error as rejected (info), any other as failed (error, with its stack in the log only).
 */
export function failureResponse(obs: Observability, err: unknown, context: Record<string, unknown>): HttpResponse {
  const res = errorResponse(err);
  if (res.errorKind) obs.error(res.errorKind);
  if (res.statusCode >= 500) obs.logger.error('Request failed', { ...context, error: err as Error });
  else obs.logger.info('Request rejected', { ...context, statusCode: res.statusCode, reason: toHttpError(err).message });
  return res;
}

/** Lower-cases header names; joins repeated headers as HTTP does. */
export function normalizeHeaders(...sources: (Record<string, string | string[] | undefined> | null | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const src of sources) {
    if (!src) continue;
    for (const [k, v] of Object.entries(src)) {
      // Events are untrusted JSON: keep strings (and numbers as text), drop anything else.
      const value = Array.isArray(v) ? v.filter((x) => typeof x === 'string' || typeof x === 'number').join(', ') : v;
      if (typeof value === 'string') out[k.toLowerCase()] = value;
      else if (typeof value === 'number' || typeof value === 'boolean') out[k.toLowerCase()] = String(value);
    }
  }
  return out;
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
}
