// The REST API's own answers (when the request never reaches the function) in the
// runtime's error shape, JSON `{"error": "<what was wrong and what to do>"}`, so a client
// parses one format whichever side refused the request. These templates get simple
// $context substitution only (no VTL), so free text from API Gateway appears only as
// $context.error.messageString, which API Gateway quotes itself.
import type { Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { API_GATEWAY_MAX_PAYLOAD_MB, LAMBDA_SYNC_MAX_PAYLOAD_MB, routeSummary } from './api-defaults';

export interface GatewayResponseOptions {
  readonly modelName: string;
  /** Unsigned requests and unknown routes get the same response type under IAM auth. */
  readonly iam: boolean;
  readonly apiKey: boolean;
  readonly timeout: Duration;
  /** Access-Control-Allow-Origin for browsers to read the error, when CORS has one origin or `*`. */
  readonly allowOrigin?: string;
}

/** A JSON string literal for a template; `$context` variables inside it still resolve. */
function str(text: string): string {
  return JSON.stringify(text);
}

function body(error: string, extra = ''): string {
  return `{"error":${error},"requestId":"$context.requestId"${extra}}`;
}

export function addGatewayResponses(api: apigw.RestApi, o: GatewayResponseOptions): void {
  const headers: Record<string, string> = o.allowOrigin ? { 'Access-Control-Allow-Origin': `'${o.allowOrigin}'` } : {};
  const add = (id: string, type: apigw.ResponseType, statusCode: string | undefined, template: string, extraHeaders: Record<string, string> = {}) => {
    const responseHeaders = { ...headers, ...extraHeaders };
    api.addGatewayResponse(id, {
      type,
      statusCode,
      responseHeaders: Object.keys(responseHeaders).length > 0 ? responseHeaders : undefined,
      templates: { 'application/json': template },
    });
  };
  const seconds = o.timeout.toSeconds();

  add('RequestTooLarge', apigw.ResponseType.REQUEST_TOO_LARGE, '413', body(str(
    `The request is too large. Lambda takes at most ${LAMBDA_SYNC_MAX_PAYLOAD_MB} MB per synchronous request, and binary bodies travel to it base64-encoded, `
    + `so an image or file can be at most about 4.5 MB; API Gateway takes at most ${API_GATEWAY_MAX_PAYLOAD_MB} MB. `
    + 'Send a smaller input (resize images on the client), or submit large inputs as asynchronous jobs.',
  )));
  add('IntegrationTimeout', apigw.ResponseType.INTEGRATION_TIMEOUT, '504', body(str(
    `The model did not answer within the API's ${seconds} s limit for synchronous requests. `
    + 'Send fewer instances per request, keep environments warm (provisioned concurrency), or submit long requests as asynchronous jobs.',
  )));
  add('Throttled', apigw.ResponseType.THROTTLED, '429', body(str(
    'Too many requests: the API\'s throttle limit is reached. Retry after a short wait, with backoff.',
  )), { 'Retry-After': "'1'" });
  add('QuotaExceeded', apigw.ResponseType.QUOTA_EXCEEDED, '429', body(str(
    'The API key\'s request quota for this period is used up. Wait for the next period or ask for a larger quota.',
  )));
  add('BadRequestBody', apigw.ResponseType.BAD_REQUEST_BODY, '400', body(str(
    'The JSON body does not fit the route. POST /v1/models/{name}:predict takes {"instances": [...]} or {"inputs": ...} (TF Serving REST, one of the two); '
    + 'POST /v2/models/{name}/infer takes {"inputs": [{"name", "shape", "datatype", "data"}]} (KServe V2).',
  )));
  add('NotFound', apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, o.iam ? '403' : '404', body(str(
    o.iam
      ? `The request is not signed (sign it with SigV4 for execute-api), or there is no such route. Routes: ${routeSummary(o.modelName)}.`
      : `No such route. Routes: ${routeSummary(o.modelName)}.`,
  )));
  if (o.apiKey) {
    add('InvalidApiKey', apigw.ResponseType.INVALID_API_KEY, '403', body(str(
      'Missing or invalid API key: send a key of this API\'s usage plan in the x-api-key header.',
    )));
  }
  add('Default4xx', apigw.ResponseType.DEFAULT_4XX, undefined, body('$context.error.messageString'));
  add('Default5xx', apigw.ResponseType.DEFAULT_5XX, undefined, body('$context.error.messageString'));
}
