// Recognises the events one Lambda handler receives and turns HTTP-shaped ones into
// HttpRequest: API Gateway REST (v1) and HTTP API (v2) proxy events, Function URL
// events (the v2 shape), S3 notifications, SQS batches, the warm-up ping, and direct
// invocation with a JSON body.
import { callerOf } from './caller';
import { BadRequestError } from './errors';
import { isObject } from './guards';
import { normalizeHeaders } from './http';
import type { HttpRequest, HttpResponse } from './http';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';

/** The payload the warmer sends; `holdMs` keeps the environment busy so N pings reach N environments. */
export interface WarmUpEvent {
  readonly warmup: true;
  readonly holdMs?: number;
}

/** Longest a warm-up ping may hold its environment. */
export const MAX_WARMUP_HOLD_MS = 1000;

export type EventKind = 'warmup' | 'apigw-v1' | 'apigw-v2' | 's3' | 'sqs' | 'direct';

export function eventKind(event: unknown): EventKind {
  if (!isObject(event)) return 'direct';
  if (event.warmup === true || event.source === 'serverless-tf.warmup' || (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event')) return 'warmup';
  if (event.version === '2.0' && isObject(event.requestContext) && isObject(event.requestContext.http)) return 'apigw-v2';
  if (typeof event.httpMethod === 'string' && isObject(event.requestContext)) return 'apigw-v1';
  if (Array.isArray(event.Records) && event.Records.length > 0 && isObject(event.Records[0])) {
    const source = event.Records[0].eventSource ?? event.Records[0].EventSource;
    if (source === 'aws:s3') return 's3';
    if (source === 'aws:sqs') return 'sqs';
  }
  return 'direct';
}

function bodyOf(body: string | null | undefined, isBase64Encoded: boolean | undefined): Buffer {
  if (body === null || body === undefined) return Buffer.alloc(0);
  if (typeof body !== 'string') throw new BadRequestError(`The event's body must be a string (base64 when isBase64Encoded is true); got ${Array.isArray(body) ? 'an array' : typeof body}.`);
  if (!isBase64Encoded) return Buffer.from(body, 'utf8');
  // Node's decoder skips characters outside the alphabet, so a decoded length that matches
  // the text's length proves every character was valid, without a regex over megabytes.
  const decoded = Buffer.from(body, 'base64');
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  if (body.length % 4 !== 1 && decoded.length === Math.floor((body.length * 3) / 4) - padding) return decoded;
  // Slow path: line-wrapped base64 is valid too.
  const clean = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new BadRequestError('The request body is marked base64 but is not valid base64.');
  return Buffer.from(clean, 'base64');
}

// Events are untrusted JSON: a field of the wrong type is a 400 that names it, not a TypeError.
function method(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new BadRequestError(`The event's ${field} must be an HTTP method such as "POST"; got ${value === undefined ? 'none' : JSON.stringify(typeof value === 'string' ? value : typeof value)}.`);
  }
  return value;
}

function pathOf(value: unknown, field: string): string {
  if (value === undefined || value === null) return '/';
  if (typeof value !== 'string') throw new BadRequestError(`The event's ${field} must be a string; got ${typeof value}.`);
  return value;
}

export function fromApiGatewayV1(event: APIGatewayProxyEvent): HttpRequest {
  return {
    method: method(event.httpMethod, 'httpMethod'),
    path: pathOf(event.path, 'path'),
    headers: normalizeHeaders(event.multiValueHeaders as Record<string, string[]> | null, event.headers as Record<string, string> | null),
    body: bodyOf(event.body, event.isBase64Encoded),
    ...withCaller(event.requestContext),
  };
}

/** HTTP API (v2) and Function URL events. A named stage prefixes rawPath; it is removed. */
export function fromApiGatewayV2(event: APIGatewayProxyEventV2): HttpRequest {
  const stage: unknown = event.requestContext.stage;
  const httpMethod = method(event.requestContext.http.method, 'requestContext.http.method');
  let path = pathOf(event.rawPath, 'rawPath');
  if (typeof stage === 'string' && stage && stage !== '$default' && (path === `/${stage}` || path.startsWith(`/${stage}/`))) path = path.slice(stage.length + 1) || '/';
  const headers = normalizeHeaders(event.headers as Record<string, string>);
  const cookies: unknown = event.cookies;
  if (cookies !== undefined && cookies !== null && !(Array.isArray(cookies) && cookies.every((c) => typeof c === 'string'))) {
    throw new BadRequestError(`The event's cookies must be a list of strings; got ${Array.isArray(cookies) ? 'a list with other values' : typeof cookies}.`);
  }
  if (Array.isArray(cookies) && cookies.length) headers.cookie = cookies.join('; ');
  return {
    method: httpMethod,
    path,
    headers,
    body: bodyOf(event.body, event.isBase64Encoded),
    ...withCaller(event.requestContext),
  };
}

/** The proxy integration response; the same shape serves v1, v2 and Function URLs. */
function withCaller(requestContext: unknown): { caller?: string } {
  const caller = callerOf(requestContext);
  return caller === undefined ? {} : { caller };
}

/** A binary answer (KServe V2 binary outputs) travels base64 with isBase64Encoded, as Lambda proxy integrations carry binary bodies. */
export function toProxyResponse(res: HttpResponse): { statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: boolean } {
  return { statusCode: res.statusCode, headers: res.headers, body: res.body, isBase64Encoded: res.isBase64Encoded === true };
}

/** S3 event keys are URL-encoded with '+' for spaces. A key that is not valid %-encoding is a 400. */
export function decodeS3Key(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new BadRequestError(`The S3 object key ${JSON.stringify(key.slice(0, 200))} in the event is not valid URL encoding (a % not followed by two hex digits, or bytes that are not UTF-8).`);
  }
}

/** The object an S3 event record names. */
export interface S3RecordObject {
  readonly bucket: string;
  /** Decoded. */
  readonly key: string;
  readonly etag?: string;
  readonly size?: number;
}

/** Reads the bucket and key of an S3 event record (untrusted JSON): a 400 that names what is missing. */
export function s3RecordObject(record: unknown): S3RecordObject {
  const s3 = isObject(record) ? record.s3 : undefined;
  const bucket = isObject(s3) && isObject(s3.bucket) ? s3.bucket.name : undefined;
  const object = isObject(s3) ? s3.object : undefined;
  const key = isObject(object) ? object.key : undefined;
  if (typeof bucket !== 'string' || bucket === '' || typeof key !== 'string' || key === '') {
    throw new BadRequestError('The S3 event record has no s3.bucket.name and s3.object.key strings: it is not an S3 event notification record.');
  }
  const o = object as Record<string, unknown>;
  return {
    bucket,
    key: decodeS3Key(key),
    ...(typeof o.eTag === 'string' ? { etag: o.eTag } : {}),
    ...(typeof o.size === 'number' ? { size: o.size } : {}),
  };
}
