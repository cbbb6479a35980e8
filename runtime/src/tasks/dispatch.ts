// The one way from an input to the task that answers it, whoever brings the input: the
// HTTP routes (TF Serving :predict, KServe V2 infer, /classify), a direct invocation, a
// job read back from S3, and the JSON Lines rows of S3 batch inference. Each caller turns
// its transport into bytes with a content type (or parsed JSON) for one of the three
// task routes and gets the answer's JSON value back; errors are thrown as InferenceErrors
// and each caller words its own failure (an HTTP answer, a FAILED job, an error row).
import { readMultipartFile } from '../multipart';
import { BadRequestError, PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError, isClientError } from '../errors';
import { SUPPORTED_IMAGE_TYPES } from '../image-decode';
import { mediaType } from '../http';
import { isObject } from '../guards';
import { parseTfServingJson } from '../protocols/tf-serving-json';
import { readV2Request } from '../protocols/v2-binary';
import type { InferenceService } from '../service';
import type { InferAnswer } from './tensor';

/** The synchronous routes an input can take: /classify, TF Serving :predict, KServe V2 infer. */
export const TASK_ROUTES = ['classify', 'predict', 'infer'] as const;
export type TaskRoute = (typeof TASK_ROUTES)[number];

/** An input as bytes, the way a request body carries it. */
export interface TaskInput {
  readonly route: TaskRoute;
  /** The Content-Type header; absent is read as JSON (or raw image bytes for classify). */
  readonly contentType?: string;
  readonly body: Buffer;
  /** The largest multipart body read, in bytes. */
  readonly maxBodyBytes: number;
  /**
   * KServe V2 infer: the Inference-Header-Content-Length header, when the body is a JSON
   * header of that many bytes followed by binary tensor data.
   */
  readonly inferenceHeaderLength?: string;
}

/** The answer of a task route: the JSON value a 200 carries. */
export type TaskAnswer = Record<string, unknown>;

/** Runs an input given as bytes (an HTTP body, a job's stored input). */
export async function runTask(service: InferenceService, input: TaskInput): Promise<TaskAnswer> {
  switch (input.route) {
    case 'classify':
      return classifyOne(service, await imageFrom(service, input));
    case 'predict':
      if (service.tabular && isCsv(input.contentType)) return predictCsv(service, input.body.toString('utf8'));
      return predictJson(service, parseJson(input, parseTfServingJson));
    case 'infer':
      return (await runInfer(service, input, { binaryOutputs: false })).json;
  }
}

/**
 * A KServe V2 infer body as bytes: JSON, or JSON then binary tensor data (binary tensor
 * data extension); binary outputs when `binaryOutputs` and the request asks for them.
 */
export async function runInfer(service: InferenceService, input: TaskInput, options: { readonly binaryOutputs: boolean }): Promise<InferAnswer> {
  const binaryBody = input.inferenceHeaderLength !== undefined;
  const type = mediaType(input.contentType);
  // Binary requests come as application/octet-stream (KServe's client) or with no type (tritonclient).
  if (binaryBody && type !== '' && type !== 'application/octet-stream' && !isJsonType(type)) {
    throw new UnsupportedMediaTypeError(`Content-Type ${type} is not accepted with Inference-Header-Content-Length; send application/octet-stream (a JSON header, then binary tensor data).`);
  }
  const request = binaryBody
    ? readV2Request(input.body, input.inferenceHeaderLength, (text) => parseText(text))
    : { body: parseJson(input, JSON.parse, ['application/octet-stream']), binary: new Map<number, Buffer>() };
  return service.infer(request.body, { binary: request.binary, binaryOutputs: options.binaryOutputs });
}

/** Runs an input given as parsed JSON (a direct invocation's event). */
export async function runJson(service: InferenceService, route: TaskRoute, body: unknown): Promise<TaskAnswer> {
  switch (route) {
    case 'classify':
      service.requireImages();
      if (!isEncodedImage(body)) throw new BadRequestError('A JSON body for /classify must be {"b64": "<base64 image>"}.');
      return classifyOne(service, decodeBase64(encodedImage(body), 'b64'));
    case 'predict':
      return predictJson(service, body);
    case 'infer':
      return service.inferV2(body);
  }
}

/** The route a direct invocation's JSON takes: KServe V2 `inputs` with datatypes, an image, or TF Serving. */
export function routeOfJson(body: unknown): TaskRoute {
  if (isObject(body) && Array.isArray(body.inputs) && body.inputs.every((x) => isObject(x) && 'datatype' in x)) return 'infer';
  if (isObject(body) && (typeof body.b64 === 'string' || isObject(body.image))) return 'classify';
  return 'predict';
}

/** A TF Serving predict body: tabular rows, encoded images, or tensors (row or columnar). */
export async function predictJson(service: InferenceService, body: unknown): Promise<TaskAnswer> {
  const instances = isObject(body) && !('inputs' in body) ? body.instances : undefined;
  if (Array.isArray(instances) && instances.length > 0 && (service.tabular || (service.images && instances.every(isEncodedImage)))) {
    const results = await predictInstances(service, instances, (i) => `instances[${i}]`);
    const failed = results.findIndex((r) => r instanceof Error);
    if (failed >= 0) throw withPrefix(results[failed] as Error, `instances[${failed}]: `);
    return { predictions: results };
  }
  return service.predictRest(body);
}

/**
 * One group of instances in one model call: tabular rows (or their feature vectors), encoded
 * images, or tensor instances. Images are decoded one by one, so an image that cannot be read
 * is its own Error in the results and its neighbours are answered; any other failure throws
 * for the group. `where` names an instance in error messages.
 */
export async function predictInstances(service: InferenceService, instances: readonly unknown[], where: (i: number) => string): Promise<unknown[]> {
  if (service.tabular) {
    const tabular = service.tabular;
    const vectors = instances.map((x, i) => (x instanceof Float32Array ? x : tabular.vector(x, where(i))));
    return service.predictRows(vectors);
  }
  if (service.images && instances.every(isEncodedImage)) {
    return service.classify(instances.map((x, i) => decodeBase64(encodedImage(x), `${where(i)}.b64`)));
  }
  const answer = await service.predictRest({ instances });
  return answer.predictions as unknown[];
}

/**
 * Predicts a group and, when it fails as a whole because of the input (a client error),
 * each item alone, so that only the bad ones fail; an item's failure is its Error in the
 * results. A failure of the environment (5xx) throws for the group.
 */
export async function predictEach<T, R>(items: readonly T[], run: (items: readonly T[]) => Promise<readonly (R | Error)[]>): Promise<(R | Error)[]> {
  try {
    return [...await run(items)];
  } catch (err) {
    if (!isClientError(err)) throw err;
    if (items.length === 1) return [err as Error];
    const results: (R | Error)[] = [];
    for (const item of items) {
      results.push(await run([item]).then((r) => r[0], (e: unknown) => {
        if (!isClientError(e)) throw e;
        return e as Error;
      }));
    }
    return results;
  }
}

async function classifyOne(service: InferenceService, image: Uint8Array): Promise<TaskAnswer> {
  const [result] = await service.classify([image]);
  if (result instanceof Error) throw result;
  return { predictions: result };
}

async function predictCsv(service: InferenceService, text: string): Promise<TaskAnswer> {
  const tabular = service.tabular!;
  const records = await tabular.parseCsv(text);
  if (records.length === 0) throw new BadRequestError('The CSV has a header but no rows.');
  return { predictions: await service.predictRows(records.map((r, i) => tabular.vector(r, `CSV row ${i + 1}`))) };
}

function isCsv(contentType: string | undefined): boolean {
  const type = mediaType(contentType);
  return type === 'text/csv' || type === 'application/csv';
}

/** The image bytes of a /classify input: raw image body, multipart field `image`, or JSON `{"b64": ...}`. */
async function imageFrom(service: InferenceService, input: TaskInput): Promise<Uint8Array> {
  service.requireImages();
  const type = mediaType(input.contentType);
  if (input.body.length === 0) throw new BadRequestError('The body is empty: send image bytes (image/jpeg, image/png, image/webp or image/gif) or multipart/form-data with a field "image".');
  if ((SUPPORTED_IMAGE_TYPES as readonly string[]).includes(type) || type === 'application/octet-stream' || type === '') {
    return input.body;
  }
  if (type === 'multipart/form-data') {
    const file = await readMultipartFile(input.body, input.contentType!, { field: 'image', maxBytes: input.maxBodyBytes });
    return file.bytes;
  }
  if (type === 'application/json') {
    const body = parseJson(input);
    if (isEncodedImage(body)) return decodeBase64(encodedImage(body), 'b64');
    throw new BadRequestError('A JSON body for /classify must be {"b64": "<base64 image>"}.');
  }
  throw new UnsupportedMediaTypeError(`Content-Type ${type} is not accepted by /classify. Send ${SUPPORTED_IMAGE_TYPES.join(', ')}, application/octet-stream, or multipart/form-data with a field "image".`);
}

/**
 * The JSON of a body. Besides JSON types, application/x-www-form-urlencoded is read as JSON:
 * it is what `curl -d` sends, and TF Serving reads the body whatever its type.
 */
function parseJson(input: TaskInput, parse: (text: string) => unknown = JSON.parse, alsoAccepted: readonly string[] = []): unknown {
  const type = mediaType(input.contentType);
  if (!isJsonType(type) && !alsoAccepted.includes(type)) {
    throw new UnsupportedMediaTypeError(`Content-Type ${type} is not accepted here; send application/json.`);
  }
  if (input.body.length === 0) throw new BadRequestError('The body is empty; send a JSON object.');
  return parseText(input.body.toString('utf8'), parse);
}

function parseText(text: string, parse: (text: string) => unknown = JSON.parse): unknown {
  try {
    return parse(text);
  } catch (err) {
    throw new BadRequestError(`The body is not valid JSON: ${(err as Error).message}.`);
  }
}

function isJsonType(type: string): boolean {
  return type === '' || type === 'application/json' || type.endsWith('+json') || type === 'text/plain' || type === 'application/x-www-form-urlencoded';
}

/** `{"b64": ...}`, `{"image_bytes": {"b64": ...}}` or `{"image": {"b64": ...}}`. */
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
