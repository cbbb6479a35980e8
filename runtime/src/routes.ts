// The HTTP surface of DESIGN.md, the same behind API Gateway, Function URLs and the
// local server: TF Serving REST, KServe V2, /classify and /health.
import { readMultipartFile } from './multipart';
import { BadRequestError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError } from './errors';
import { SUPPORTED_IMAGE_TYPES } from './image-decode';
import { errorResponse, jsonResponse, mediaType } from './http';
import { isObject } from './config';
import type { HttpRequest, HttpResponse } from './http';
import type { InferenceService } from './service';

type Handler = (service: InferenceService, req: HttpRequest, params: Record<string, string>, options: Required<RouteOptions>) => Promise<HttpResponse> | HttpResponse;

export interface RouteOptions {
  /**
   * The largest body accepted, in bytes (a multipart image included).
   * Default: the service's SERVERLESS_TF_MAX_BODY_BYTES, Lambda's synchronous payload limit.
   * The jobs worker passes the job input limit: an input read from S3 is not a Lambda payload.
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
    const res = errorResponse(err);
    if (res.errorKind) service.obs.error(res.errorKind);
    if (res.statusCode >= 500) service.obs.logger.error('Request failed', { path: req.path, error: err as Error });
    else service.obs.logger.info('Request rejected', { path: req.path, statusCode: res.statusCode, reason: JSON.parse(res.body).error });
    return res;
  }
}

function health(service: InferenceService): HttpResponse {
  const info = service.info;
  return jsonResponse(200, { status: 'ok', model: info.modelName, backend: info.backend.name, format: info.format, task: info.task });
}

function modelStatus(): HttpResponse {
  // The service exists only once the model is loaded and warmed, so it is AVAILABLE.
  return jsonResponse(200, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
}

function modelReady(service: InferenceService): HttpResponse {
  return jsonResponse(200, { name: service.modelName, ready: true });
}

function metadataV2(service: InferenceService): HttpResponse {
  const platform = service.model.format === 'saved_model' ? 'tensorflow_savedmodel' : `tensorflowjs_${service.model.format}`;
  return jsonResponse(200, service.tensors.metadataV2(service.modelName, platform));
}

async function inferV2(service: InferenceService, req: HttpRequest): Promise<HttpResponse> {
  return jsonResponse(200, await service.inferV2(parseJson(req)));
}

async function predict(service: InferenceService, req: HttpRequest): Promise<HttpResponse> {
  const type = mediaType(req.headers['content-type']);
  if (service.tabular && (type === 'text/csv' || type === 'application/csv')) {
    const records = await service.tabular.parseCsv(req.body.toString('utf8'));
    if (records.length === 0) throw new BadRequestError('The CSV has a header but no rows.');
    const vectors = records.map((r, i) => service.tabular!.vector(r, `CSV row ${i + 1}`));
    return jsonResponse(200, { predictions: await service.predictRows(vectors) });
  }
  const body = parseJson(req);
  const instances = isObject(body) ? body.instances : undefined;
  if (service.tabular && Array.isArray(instances) && instances.length > 0 && !('inputs' in (body as object))) {
    const vectors = instances.map((x, i) => service.tabular!.vector(x, `instances[${i}]`));
    return jsonResponse(200, { predictions: await service.predictRows(vectors) });
  }
  if (service.images && Array.isArray(instances) && instances.length > 0 && instances.every(isEncodedImage)) {
    const images = instances.map((x, i) => decodeBase64(encodedImage(x), `instances[${i}].b64`));
    const results = await service.classify(images);
    const failed = results.findIndex((r) => r instanceof Error);
    if (failed >= 0) throw withPrefix(results[failed] as Error, `instances[${failed}]: `);
    return jsonResponse(200, { predictions: results });
  }
  return jsonResponse(200, await service.predictRest(body));
}

async function classify(service: InferenceService, req: HttpRequest, _params: Record<string, string>, options: Required<RouteOptions>): Promise<HttpResponse> {
  service.requireImages();
  const image = await imageFrom(req, options.maxBodyBytes);
  const [result] = await service.classify([image]);
  if (result instanceof Error) throw result;
  return jsonResponse(200, { predictions: result });
}

/** The image bytes of a /classify request: raw image body, multipart field `image`, or JSON `{"b64": ...}`. */
async function imageFrom(req: HttpRequest, maxBodyBytes: number): Promise<Uint8Array> {
  const contentType = req.headers['content-type'];
  const type = mediaType(contentType);
  if (req.body.length === 0) throw new BadRequestError('The body is empty: send image bytes (image/jpeg, image/png, image/webp or image/gif) or multipart/form-data with a field "image".');
  if ((SUPPORTED_IMAGE_TYPES as readonly string[]).includes(type) || type === 'application/octet-stream' || type === '') {
    return req.body;
  }
  if (type === 'multipart/form-data') {
    const file = await readMultipartFile(req.body, contentType!, { field: 'image', maxBytes: maxBodyBytes });
    return file.bytes;
  }
  if (type === 'application/json') {
    const body = parseJson(req);
    if (isEncodedImage(body)) return decodeBase64(encodedImage(body), 'b64');
    throw new BadRequestError('A JSON body for /classify must be {"b64": "<base64 image>"}.');
  }
  throw new UnsupportedMediaTypeError(`Content-Type ${type} is not accepted by /classify. Send ${SUPPORTED_IMAGE_TYPES.join(', ')}, application/octet-stream, or multipart/form-data with a field "image".`);
}

function parseJson(req: HttpRequest): unknown {
  const type = mediaType(req.headers['content-type']);
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json') && type !== 'text/plain') {
    throw new UnsupportedMediaTypeError(`Content-Type ${type} is not accepted here; send application/json.`);
  }
  if (req.body.length === 0) throw new BadRequestError('The body is empty; send a JSON object.');
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`The body is not valid JSON: ${(err as Error).message}.`);
  }
}

function isEncodedImage(x: unknown): boolean {
  return isObject(x) && (typeof x.b64 === 'string' || (isObject(x.image_bytes) && typeof x.image_bytes.b64 === 'string') || (isObject(x.image) && typeof x.image.b64 === 'string'));
}

function encodedImage(x: unknown): string {
  const o = x as Record<string, Record<string, string> | string>;
  return (typeof o.b64 === 'string' ? o.b64 : (o.image_bytes as Record<string, string> | undefined)?.b64 ?? (o.image as Record<string, string>).b64);
}

function decodeBase64(text: string, where: string): Buffer {
  const clean = text.replace(/^data:[^,]*,/, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) throw new BadRequestError(`${where} is not valid base64.`);
  return Buffer.from(clean, 'base64');
}

function withPrefix(err: Error, prefix: string): Error {
  if (err instanceof UnprocessableError || err instanceof BadRequestError || err instanceof UnsupportedMediaTypeError || err instanceof PayloadTooLargeError) {
    err.message = prefix + err.message;
  }
  return err;
}
