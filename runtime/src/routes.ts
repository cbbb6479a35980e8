// The HTTP surface of DESIGN.md, the same behind API Gateway, Function URLs and the
// local server: TF Serving REST, KServe V2, /classify and /health.
import { MethodNotAllowedError, NotFoundError, PayloadTooLargeError } from './errors';
import { failureResponse, jsonResponse } from './http';
import { runTask } from './tasks/dispatch';
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
  { pattern: new RegExp(`^/v1/models/${NAME}(?:/versions/1)?$`), methods: { GET: modelStatus } },
  { pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/1)?/infer$`), methods: { POST: inferV2 } },
  { pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/1)?/ready$`), methods: { GET: modelReady } },
  { pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/1)?$`), methods: { GET: metadataV2 } },
  { pattern: /^\/v2\/health\/(?:live|ready)$/, methods: { GET: health } },
  { pattern: /^\/classify$/, methods: { POST: classify } },
  { pattern: /^\/jobs(?:\/classify)?$/, methods: { POST: submitJob } },
  { pattern: new RegExp(`^/jobs/v1/models/${NAME}(?:/versions/1)?:predict$`), methods: { POST: submitJob } },
  { pattern: new RegExp(`^/jobs/v2/models/${NAME}(?:/versions/1)?/infer$`), methods: { POST: submitJob } },
  { pattern: /^\/jobs\/[^/]+$/, methods: { GET: getJob } },
];

/** Routes one request. Never throws: every failure is a JSON error response. */
export async function route(service: InferenceService, req: HttpRequest, options: RouteOptions = {}): Promise<HttpResponse> {
  const settled = { maxBodyBytes: options.maxBodyBytes ?? service.config.maxBodyBytes };
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
      throw new NotFoundError(`No route ${req.method} ${req.path}. Routes: POST /v1/models/${service.modelName}:predict, POST /v2/models/${service.modelName}/infer, POST /classify, GET /v1/models/${service.modelName}, GET /v2/models/${service.modelName}, GET /health.`);
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
    return await handler(service, req, params, options);
  } catch (err) {
    return failureResponse(service.obs, err, { path: req.path });
  }
}

// The health, status and readiness routes answer 503 once the backend has failed, so a
// load balancer or orchestrator stops sending requests and replaces the process.
function health(service: InferenceService): HttpResponse {
  service.checkHealthy();
  const info = service.info;
  return jsonResponse(200, { status: 'ok', model: info.modelName, backend: info.backend.name, format: info.format, task: info.task });
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

async function inferV2(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  return jsonResponse(200, await runTask(service, taskInput('infer', req, options)));
}

async function predict(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  return jsonResponse(200, await runTask(service, taskInput('predict', req, options)));
}

async function classify(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  return jsonResponse(200, await runTask(service, taskInput('classify', req, options)));
}

function taskInput(route: TaskRoute, req: HttpRequest, options: Required<RouteOptions>): TaskInput {
  return { route, contentType: req.headers['content-type'], body: req.body, maxBodyBytes: options.maxBodyBytes };
}
