// Event factories shaped like the payloads Lambda delivers (the sample events in the
// Lambda and API Gateway documentation), so tests drive the handler with real shapes.
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, S3Event, SQSEvent } from 'aws-lambda';

interface HttpEventInput {
  readonly method?: string;
  readonly path: string;
  readonly body?: Buffer | string;
  readonly contentType?: string;
  /** Send the body base64-encoded, as API Gateway does for binary media types. */
  readonly base64?: boolean;
  readonly headers?: Record<string, string>;
}

function encode(input: HttpEventInput): { body: string | null; isBase64Encoded: boolean } {
  if (input.body === undefined) return { body: null, isBase64Encoded: false };
  const buf = Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body);
  return input.base64 ? { body: buf.toString('base64'), isBase64Encoded: true } : { body: buf.toString('utf8'), isBase64Encoded: false };
}

export function apiGatewayV1Event(input: HttpEventInput): APIGatewayProxyEvent {
  const headers: Record<string, string> = { Host: 'abc123.execute-api.us-east-1.amazonaws.com', 'User-Agent': 'curl/8.5.0', ...(input.contentType ? { 'Content-Type': input.contentType } : {}), ...input.headers };
  return {
    resource: '/{proxy+}',
    path: input.path,
    httpMethod: input.method ?? 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: input.path.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: '123456789012', apiId: 'abc123', authorizer: null, protocol: 'HTTP/1.1', httpMethod: input.method ?? 'POST',
      identity: { sourceIp: '192.0.2.1', userAgent: 'curl/8.5.0' } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/prod${input.path}`, stage: 'prod', requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', requestTimeEpoch: 1700000000000,
      resourceId: 'abcdef', resourcePath: '/{proxy+}',
    },
    ...encode(input),
  };
}

export function apiGatewayV2Event(input: HttpEventInput & { readonly stage?: string }): APIGatewayProxyEventV2 {
  const stage = input.stage ?? '$default';
  const rawPath = stage === '$default' ? input.path : `/${stage}${input.path}`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { host: 'abc123.execute-api.us-east-1.amazonaws.com', 'user-agent': 'curl/8.5.0', ...(input.contentType ? { 'content-type': input.contentType } : {}), ...input.headers },
    requestContext: {
      accountId: '123456789012', apiId: 'abc123', domainName: 'abc123.execute-api.us-east-1.amazonaws.com', domainPrefix: 'abc123',
      http: { method: input.method ?? 'POST', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'curl/8.5.0' },
      requestId: 'JKJaXmPLvHcESHA=', routeKey: '$default', stage, time: '24/Nov/2026:15:00:00 +0000', timeEpoch: 1700000000000,
    },
    ...encode(input),
    body: encode(input).body ?? undefined,
  };
}

/** Function URL events are the v2 payload with stage `$default` and a lambda-url domain. */
export function functionUrlEvent(input: HttpEventInput): APIGatewayProxyEventV2 {
  const event = apiGatewayV2Event(input);
  return { ...event, headers: { ...event.headers, host: 'abcdefg.lambda-url.us-east-1.on.aws' }, requestContext: { ...event.requestContext, domainName: 'abcdefg.lambda-url.us-east-1.on.aws', apiId: 'abcdefg' } };
}

export function s3Event(bucket: string, key: string, etag: string, size = 1024): S3Event {
  return {
    Records: [{
      eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: '2026-11-24T15:00:00.000Z', eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'EXAMPLE' }, requestParameters: { sourceIPAddress: '192.0.2.1' },
      responseElements: { 'x-amz-request-id': 'EXAMPLE123456789', 'x-amz-id-2': 'EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH' },
      s3: {
        s3SchemaVersion: '1.0', configurationId: 'batch',
        bucket: { name: bucket, ownerIdentity: { principalId: 'EXAMPLE' }, arn: `arn:aws:s3:::${bucket}` },
        // S3 URL-encodes keys in notifications, with '+' for spaces.
        object: { key: encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/'), size, eTag: etag.replace(/"/g, ''), sequencer: '0A1B2C3D4E5F678901' },
      },
    }],
  };
}

export function sqsEvent(bodies: readonly string[]): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `059f36b4-87a3-44ab-83d2-66197${String(i).padStart(7, '0')}`,
      receiptHandle: `AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a${i}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000', SenderId: 'AIDAIENQZJOLO23YVJ4VO', ApproximateFirstReceiveTimestamp: '1700000000001' },
      messageAttributes: {},
      md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:batch-queue',
      awsRegion: 'us-east-1',
    })),
  };
}

export const scheduledEvent = {
  version: '0', id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa', 'detail-type': 'Scheduled Event', source: 'aws.events',
  account: '123456789012', time: '2026-11-24T15:00:00Z', region: 'us-east-1', resources: ['arn:aws:events:us-east-1:123456789012:rule/warmer'], detail: {},
};
