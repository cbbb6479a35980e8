// The HTTP surface of DESIGN.md, the same behind API Gateway, Function URLs and the
// local server: TF Serving REST, KServe V2, /classify and /health.
import { MAX_RESPONSE_BYTES_DEFAULT } from './constants';
import { MethodNotAllowedError, NotFoundError, PayloadTooLargeError } from './errors';
import { failureResponse, jsonResponse } from './http';
import { runInfer, runTask } from './tasks/dispatch';
import { stringifyTfServingJson } from './protocols/tf-serving-json';
import { INFERENCE_HEADER, v2Response } from './protocols/v2-binary';
import { checkResponseSize } from './protocols/response-limit';
import { healthFields, serverLive, serverMetadataV2, serverReady } from './protocols/v2-server';
import type { HttpRequest, HttpResponse } from './http';
import type { TaskInput, TaskRoute } from './tasks/dispatch';
import type { InferenceService } from './service';

type Handler = (service: InferenceService, req: HttpRequest, params: Record<string, string>, options: Required<RouteOptions>) => Promise<HttpResponse> | HttpResponse;

export interface RouteOptions {
  /**
   * The largest body accepted, in bytes (a multipart image included).
   * Default: the service's SERVERLESS_TF_MAX_BODY_BYTES, Lambda's synchronous payload limit.
   */
  readonly maxBodyBytes?: number;
  /**
   * The largest answer, in bytes, as Lambda counts it (the proxy answer's JSON); a larger one
   * is a 413 that says how to ask for less. Default: the service's
   * SERVERLESS_TF_MAX_RESPONSE_BYTES, else Lambda's synchronous limit (6 MB).
   */
  readonly maxResponseBytes?: number;
}

interface Route {
  readonly pattern: RegExp;
  readonly methods: Partial<Record<'GET' | 'POST', Handler>>;
}

const NAME = '([A-Za-z0-9][A-Za-z0-9._-]*)';

// The jobs API loads on its first request (it brings the DynamoDB, SQS and S3 clients).
const submitJob: Handler = async (service, req) => (await import('./jobs/api')).submitJob(service, req);
const getJob: Handler = async (service, req) => (await import('./jobs/api')).getJob(service, req);

const ROUTES: readonly Route[] = [
  { pattern: /^\/health$/, methods: { GET: health } },
  { pattern: new RegExp(`^/v1/models/${NAME}(?:/versions/1)?:predict$`), methods: { POST: predict } },
  { pattern: new RegExp(`^/v1/models/${NAME}(?:/versions/1)?/metadata$`), methods: { GET: metadataTfServing } },
  { pattern: new RegExp(`^/v1/models/${NAME}(?:/versions/1)?$`), methods: { GET: modelStatus } },
  { pattern: /^\/v2$/, methods: { GET: () => jsonResponse(200, serverMetadataV2()) } },
  { pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/1)?/infer$`), methods: { POST: inferV2 } },
  { pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/1)?/ready$`), methods: { GET: modelReady } },
  { pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/1)?$`), methods: { GET: metadataV2 } },
  { pattern: /^\/v2\/health\/live$/, methods: { GET: (service) => jsonResponse(200, serverLive(service)) } },
  { pattern: /^\/v2\/health\/ready$/, methods: { GET: (service) => jsonResponse(200, serverReady(service)) } },
  { pattern: /^\/classify$/, methods: { POST: classify } },
  { pattern: /^\/jobs(?:\/classify)?$/, methods: { POST: submitJob } },
  { pattern: new RegExp(`^/jobs/v1/models/${NAME}(?:/versions/1)?:predict$`), methods: { POST: submitJob } },
  { pattern: new RegExp(`^/jobs/v2/models/${NAME}(?:/versions/1)?/infer$`), methods: { POST: submitJob } },
  { pattern: /^\/jobs\/[^/]+$/, methods: { GET: getJob } },
];

/** Routes one request. Never throws: every failure is a JSON error response. */
export async function route(service: InferenceService, req: HttpRequest, options: RouteOptions = {}): Promise<HttpResponse> {
  const settled = {
    maxBodyBytes: options.maxBodyBytes ?? service.config.maxBodyBytes,
    maxResponseBytes: options.maxResponseBytes ?? service.config.maxResponseBytes ?? MAX_RESPONSE_BYTES_DEFAULT,
  };
  return withCors(service.config.corsAllowOrigins, req, await routeRequest(service, req, settled));
}

/** CORS headers on every answer, errors included, for the configured origins. */
function withCors(allowed: readonly string[] | undefined, req: HttpRequest, res: HttpResponse): HttpResponse {
  if (!allowed) return res;
  const origin = req.headers.origin;
  const value = allowed.includes('*') ? '*' : origin && allowed.includes(origin) ? origin : undefined;
  if (!value) return res;
  return { ...res, headers: { ...res.headers, 'Access-Control-Allow-Origin': value, ...(value === '*' ? {} : { Vary: 'Origin' }) } };
}

async function routeRequest(service: InferenceService, req: HttpRequest, options: Required<RouteOptions>): Promise<HttpResponse> {
  try {
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
    const found = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
    if (!found || !found.m) {
      throw new NotFoundError(`No route ${req.method} ${req.path}. Routes: POST /v1/models/${service.modelName}:predict, POST /v2/models/${service.modelName}/infer, POST /classify, GET /v1/models/${service.modelName}[/metadata], GET /v2/models/${service.modelName}, GET /v2, GET /health.`);
    }
    const method = req.method.toUpperCase() === 'HEAD' ? 'GET' : req.method.toUpperCase();
    const handler = found.r.methods[method as 'GET' | 'POST'];
    if (!handler) {
      const allow = Object.keys(found.r.methods);
      throw new MethodNotAllowedError(`${req.method} is not allowed on ${req.path}; use ${allow.join(' or ')}.`, allow);
    }
    if (req.body.length > options.maxBodyBytes) {
      const large = path.startsWith('/jobs')
        ? 'For a large input, POST /jobs with {"upload":{"contentType":"<type>"}} and PUT the input to the uploadUrl it answers.'
        : 'Send a smaller input, or use asynchronous jobs (POST /jobs) for large inputs.';
      throw new PayloadTooLargeError(`The body is ${req.body.length} bytes; the limit is ${options.maxBodyBytes} bytes (Lambda's synchronous payload limit is 6 MB). ${large}`);
    }
    const params: Record<string, string> = found.m[1] !== undefined ? { name: found.m[1] } : {};
    if (params.name !== undefined) service.checkModelName(params.name);
    const res = await handler(service, req, params, options);
    checkResponseSize(res, options.maxResponseBytes, { jobs: service.config.jobs !== undefined, path });
    return res;
  } catch (err) {
    return failureResponse(service.obs, err, { path: req.path });
  }
}

// The health, status and readiness routes answer 503 once the backend has failed, so a
// load balancer or orchestrator stops sending requests and replaces the process.
function health(service: InferenceService): HttpResponse {
  service.checkHealthy();
  return jsonResponse(200, healthFields(service));
}

function modelStatus(service: InferenceService): HttpResponse {
  service.checkHealthy();
  // The service exists only once the model is loaded and warmed, so it is AVAILABLE.
  return jsonResponse(200, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
}

function modelReady(service: InferenceService): HttpResponse {
  service.checkHealthy();
  return jsonResponse(200, { name: service.modelName, ready: true });
}

function metadataV2(service: InferenceService): HttpResponse {
  const platform = service.model.format === 'saved_model' ? 'tensorflow_savedmodel' : `tensorflowjs_${service.model.format}`;
  return jsonResponse(200, service.tensors.metadataV2(service.modelName, platform));
}

/** TF Serving's model metadata: the serving signature's inputs and outputs (GetModelMetadataResponse in JSON). */
function metadataTfServing(service: InferenceService): HttpResponse {
  return jsonResponse(200, service.tensors.metadataTfServing(service.modelName));
}

async function inferV2(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  const input = { ...taskInput('infer', req, options), inferenceHeaderLength: req.headers[INFERENCE_HEADER] };
  const answer = await runInfer(service, input, { binaryOutputs: true });
  return v2Response(answer.json, answer.binary);
}

/** TF Serving answers NaN, Infinity and -Infinity as those tokens (its JSON allows them). */
async function predict(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  const answer = await runTask(service, taskInput('predict', req, options));
  return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: stringifyTfServingJson(answer) };
}

async function classify(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  return jsonResponse(200, await runTask(service, taskInput('classify', req, options)));
}

function taskInput(route: TaskRoute, req: HttpRequest, options: Required<RouteOptions>): TaskInput {
  return { route, contentType: req.headers['content-type'], body: req.body, maxBodyBytes: options.maxBodyBytes };
}
