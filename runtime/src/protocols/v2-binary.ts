// The binary tensor data extension of the Open Inference Protocol (Triton's, which KServe's
// clients speak too): a body of a JSON header of Inference-Header-Content-Length bytes, then
// the raw data of the inputs that carry `parameters.binary_data_size`, in their order. Answers
// take the same form when outputs are asked for as binary data. tritonclient.http sends every
// input this way by default, with no Content-Type; KServe's client with application/octet-stream.
import { BadRequestError } from '../errors';
import { isObject } from '../guards';
import { badBinarySize } from './v2-datatypes';
import type { HttpResponse } from '../http';

/** The request and response header that gives the JSON part's length in bytes (lower case, as HttpRequest keeps headers). */
export const INFERENCE_HEADER = 'inference-header-content-length';

/** The extension's name in the server metadata (GET /v2). */
export const BINARY_TENSOR_DATA_EXTENSION = 'binary_tensor_data';

/** An inference request: its JSON, and the binary data of the inputs that have some. */
export interface V2Request {
  readonly body: unknown;
  /** Binary data by the input's index in `body.inputs`. */
  readonly binary: ReadonlyMap<number, Buffer>;
}

/**
 * Splits a request body into its JSON header and the inputs' binary data. Without the
 * Inference-Header-Content-Length header the whole body is the JSON. `parse` reads JSON
 * text (and throws the 400 for text that is not).
 */
export function readV2Request(body: Buffer, headerLength: string | undefined, parse: (text: string) => unknown): V2Request {
  if (headerLength === undefined || headerLength.trim() === '') return { body: parse(body.toString('utf8')), binary: new Map() };
  const n = Number(headerLength.trim());
  if (!/^\d+$/.test(headerLength.trim()) || !Number.isSafeInteger(n) || n === 0 || n > body.length) {
    throw new BadRequestError(`The Inference-Header-Content-Length header must be the byte length of the JSON at the start of the body (1 to ${body.length}); got ${JSON.stringify(headerLength.slice(0, 40))}.`);
  }
  const json = parse(body.subarray(0, n).toString('utf8'));
  const binary = new Map<number, Buffer>();
  let offset = n;
  const inputs = isObject(json) && Array.isArray(json.inputs) ? json.inputs as unknown[] : [];
  inputs.forEach((input, i) => {
    const parameters = isObject(input) ? input.parameters : undefined;
    if (!isObject(parameters) || parameters.binary_data_size === undefined) return;
    const size = parameters.binary_data_size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw badBinarySize(`inputs[${i}]`, size);
    if (isObject(input) && input.data !== undefined) {
      throw new BadRequestError(`inputs[${i}] has both "data" and parameters.binary_data_size: send its values one way, as JSON data or as binary data after the JSON.`);
    }
    if (offset + size > body.length) {
      throw new BadRequestError(`inputs[${i}] has ${size} bytes of binary data (binary_data_size), but the body holds only ${body.length - offset} bytes after byte ${offset}: the body or the sizes are cut short.`);
    }
    binary.set(i, body.subarray(offset, offset + size));
    offset += size;
  });
  if (offset !== body.length) {
    throw new BadRequestError(`The body has ${body.length - offset} bytes after the JSON header (${n} bytes) and the inputs' binary data (${offset - n} bytes, by their binary_data_size): the sizes do not add up to the body.`);
  }
  return { body: json, binary };
}

/**
 * The answer to an inference request: JSON, or with binary outputs the JSON header then
 * their bytes (base64 in the HttpResponse, as a Lambda proxy answer carries binary bodies).
 */
export function v2Response(header: Record<string, unknown>, binary: readonly Buffer[]): HttpResponse {
  const json = Buffer.from(JSON.stringify(header));
  if (binary.length === 0) return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: json.toString('utf8') };
  return {
    statusCode: 200,
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(json.length) },
    body: Buffer.concat([json, ...binary]).toString('base64'),
    isBase64Encoded: true,
  };
}
