// What the HTTP front doors (REST API, HTTP API, Function URL) share: AWS limits, the
// routes of DESIGN.md's HTTP table as the gateways expose them, defaults, the checks of
// throttle settings, and JSON access log formats.
import { Duration, Token } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { TensorFlowValidationError } from './validation-error';

/**
 * API Gateway's default integration timeout, the longest a synchronous request waits
 * for the function (REST APIs can raise it by a quota request; HTTP APIs cannot).
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
 */
export const MAX_INTEGRATION_TIMEOUT = Duration.seconds(29);

/** API Gateway's payload limit (REST and HTTP APIs), in MB as AWS states it. */
export const API_GATEWAY_MAX_PAYLOAD_MB = 10;

/**
 * Lambda's synchronous invocation payload limit, in MB: the whole event, so a binary
 * body (passed base64-encoded) may be about 4.5 MB.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export const LAMBDA_SYNC_MAX_PAYLOAD_MB = 6;

/** Stage throttling unless the user says otherwise. */
export const DEFAULT_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;

/**
 * Content types API Gateway passes to the function base64-encoded, so image bytes
 * arrive intact. JSON and CSV stay text.
 */
export const BINARY_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'multipart/form-data', 'application/octet-stream'];

/** What a request body on a route must look like, checked at the gateway where cheap. */
export enum RouteBody {
  NONE = 'none',
  /** TF Serving REST predict: `{"instances": [...]}` or `{"inputs": ...}`. */
  PREDICT = 'predict',
  /** KServe V2 infer: `{"inputs": [{"name", "shape", "datatype", "data"}]}`. */
  INFER = 'infer',
  /** Raw image bytes, multipart, or JSON `{"b64": ...}`: left to the runtime. */
  IMAGE = 'image',
}

export interface GatewayRoute {
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly body: RouteBody;
}

/**
 * DESIGN.md's HTTP table as gateway routes. `{name}:predict` cannot be a REST resource
 * (a path parameter must be a whole segment), so each model prefix is a greedy
 * `{proxy+}`: any model name, version or verb under /v1/models and /v2/models reaches
 * the runtime, which answers unknown ones with TF Serving's 404. Anything else is
 * answered by the gateway without invoking the function.
 */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = [
  { path: '/v1/models/{proxy+}', method: 'GET', body: RouteBody.NONE },
  { path: '/v1/models/{proxy+}', method: 'POST', body: RouteBody.PREDICT },
  { path: '/v2/models/{proxy+}', method: 'GET', body: RouteBody.NONE },
  { path: '/v2/models/{proxy+}', method: 'POST', body: RouteBody.INFER },
  { path: '/v2/health/live', method: 'GET', body: RouteBody.NONE },
  { path: '/v2/health/ready', method: 'GET', body: RouteBody.NONE },
  { path: '/classify', method: 'POST', body: RouteBody.IMAGE },
  { path: '/health', method: 'GET', body: RouteBody.NONE },
];

/** The routes as a sentence, for error messages. */
export function routeSummary(modelName: string): string {
  return `POST /v1/models/${modelName}:predict, POST /v2/models/${modelName}/infer, POST /classify, GET /v1/models/${modelName}, GET /v2/models/${modelName}, GET /health`;
}

/** Checks rate (requests per second, > 0) and burst (a whole number >= 1), skipping tokens. */
export function validateThrottle(scope: IConstruct, prop: string, throttle: apigw.ThrottleSettings | undefined): void {
  if (!throttle) return;
  const { rateLimit, burstLimit } = throttle;
  if (rateLimit !== undefined && !Token.isUnresolved(rateLimit) && !(Number.isFinite(rateLimit) && rateLimit > 0)) {
    throw new TensorFlowValidationError(scope, `${prop}.rateLimit must be a number of requests per second greater than 0; got ${rateLimit}.`);
  }
  if (burstLimit !== undefined && !Token.isUnresolved(burstLimit) && !(Number.isInteger(burstLimit) && burstLimit >= 1)) {
    throw new TensorFlowValidationError(scope, `${prop}.burstLimit must be a whole number of requests of at least 1; got ${burstLimit}.`);
  }
}

/** The integration timeout: the function's timeout, capped at API Gateway's 29 s. */
export function integrationTimeout(functionTimeout: Duration): Duration {
  const seconds = functionTimeout.toSeconds();
  if (Token.isUnresolved(seconds)) return MAX_INTEGRATION_TIMEOUT;
  return functionTimeout.toMilliseconds() < MAX_INTEGRATION_TIMEOUT.toMilliseconds() ? functionTimeout : MAX_INTEGRATION_TIMEOUT;
}

/**
 * True when the function may run well past the gateway's cut-off. The library's default
 * timeout (30 s) is sized for API Gateway and does not count.
 */
export function outlivesGateway(functionTimeout: Duration): boolean {
  const seconds = functionTimeout.toSeconds();
  return !Token.isUnresolved(seconds) && seconds > MAX_INTEGRATION_TIMEOUT.toSeconds() + 1;
}

/** One JSON object per line; values are strings, except those already quoted by API Gateway. */
function jsonLine(fields: Record<string, string>, raw: Record<string, string> = {}): string {
  const quoted = Object.entries(fields).map(([k, v]) => `"${k}":"${v}"`);
  const unquoted = Object.entries(raw).map(([k, v]) => `"${k}":${v}`);
  return `{${[...quoted, ...unquoted].join(',')}}`;
}

/**
 * REST API access log: jsonWithStandardFields' fields, plus what explains a failed
 * request (integration status and error, e.g. 413 when Lambda refused a body over 6 MB),
 * latencies, the X-Ray trace, and who called: the IAM principal (ARN and account), the API
 * key id, and a Cognito user's `sub` claim (empty where the authorization gives none).
 */
export function restAccessLogFormat(): apigw.AccessLogFormat {
  const f = apigw.AccessLogField;
  return apigw.AccessLogFormat.custom(jsonLine({
    requestId: f.contextRequestId(),
    ip: f.contextIdentitySourceIp(),
    caller: f.contextIdentityCaller(),
    user: f.contextIdentityUser(),
    requestTime: f.contextRequestTime(),
    httpMethod: f.contextHttpMethod(),
    resourcePath: f.contextResourcePath(),
    path: f.contextPath(),
    status: f.contextStatus(),
    protocol: f.contextProtocol(),
    responseLength: f.contextResponseLength(),
    responseLatency: f.contextResponseLatency(),
    integrationStatus: f.contextIntegrationStatus(),
    integrationLatency: f.contextIntegrationLatency(),
    integrationError: f.contextIntegrationErrorMessage(),
    errorType: f.contextErrorResponseType(),
    apiKeyId: f.contextIdentityApiKeyId(),
    userArn: f.contextIdentityUserArn(),
    accountId: f.contextIdentityAccountId(),
    cognitoSub: f.contextAuthorizerClaims('sub'),
    xrayTraceId: f.contextXrayTraceId(),
  }, { errorMessage: f.contextErrorMessageString() }));
}

/** HTTP API (v2) access log: the same fields under the variables HTTP APIs define; the caller is the IAM principal or the JWT's `sub`. */
export function httpAccessLogFormat(): apigw.AccessLogFormat {
  return apigw.AccessLogFormat.custom(jsonLine({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    httpMethod: '$context.httpMethod',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationStatus: '$context.integrationStatus',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    userArn: '$context.identity.userArn',
    accountId: '$context.identity.accountId',
    jwtSub: '$context.authorizer.claims.sub',
  }, { errorMessage: '$context.error.messageString' }));
}

/** The access log settings both APIs take. */
export interface AccessLogOptions {
  readonly accessLogGroup?: logs.ILogGroup;
  readonly accessLogRetention?: logs.RetentionDays;
}

/**
 * The API's access log group: the one given (encrypted with the operator's key, kept as
 * long as they keep it), else one created here with the retention given.
 */
export function accessLogGroupOf(scope: Construct, props: AccessLogOptions): logs.ILogGroup {
  if (props.accessLogGroup) {
    if (props.accessLogRetention !== undefined) {
      throw new TensorFlowValidationError(scope, 'give accessLogGroup or accessLogRetention, not both: the retention of a log group you give is set on that log group.');
    }
    return props.accessLogGroup;
  }
  return new logs.LogGroup(scope, 'AccessLogs', { retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH });
}
