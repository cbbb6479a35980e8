// The binary tensor data extension of KServe V2 (Triton's): requests as tritonclient.http
// and KServe's Python client send them by default (a JSON header of
// Inference-Header-Content-Length bytes, then each input's raw bytes), binary answers for
// every datatype, the same through a Lambda proxy event (base64 both ways), and the real
// tritonclient.http and KServe InferenceRESTClient (Python) against the local server.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { dim, linearGraphModel, serviceFor, writeGraphModel } from './support/models';
import { apiGatewayV1Event, apiGatewayV2Event } from './support/events';
import { CLIENTS_SET_UP_TIMEOUT_MS, protocolClientsPython, runPython } from './support/python-clients';
import { route } from '../src/routes';
import { createHandler } from '../src/handler';
import { startLocalServer } from '../src/local-server';
import { responseBytes } from '../src/http';
import type { HttpResponse } from '../src/http';
import type { InferenceService } from '../src/service';

/** A graph model whose model.json has a `signature`, as tensorflowjs_converter writes one for a SavedModel. */
async function graphWithSignature(prefix: string, nodes: Record<string, unknown>[], signature: Record<string, unknown>): Promise<string> {
  const dir = await writeGraphModel(prefix, nodes, []);
  const file = path.join(dir, 'model.json');
  await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), signature }));
  return dir;
}

const placeholder = (name: string, dtype: string) => ({ name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape: dim(-1) } } });
const identity = (name: string, input: string, dtype: string) => ({ name, op: 'Identity', input: [input], attr: { T: { type: dtype } } });
const entry = (name: string, dtype: string) => ({ name: `${name}:0`, dtype, tensorShape: dim(-1) });

/** Outputs declared in every TensorFlow dtype, each an Identity of the input that computes in its TF.js dtype. */
const ZOO_OUTPUTS: readonly (readonly [string, string, string])[] = [
  ['as_fp16', 'f', 'DT_HALF'], ['as_bf16', 'f', 'DT_BFLOAT16'], ['as_fp32', 'f', 'DT_FLOAT'], ['as_fp64', 'f', 'DT_DOUBLE'],
  ['as_int8', 'i', 'DT_INT8'], ['as_int16', 'i', 'DT_INT16'], ['as_int32', 'i', 'DT_INT32'], ['as_int64', 'i', 'DT_INT64'],
  ['as_uint8', 'u', 'DT_UINT8'], ['as_uint16', 'u', 'DT_UINT16'], ['as_uint32', 'u', 'DT_UINT32'], ['as_uint64', 'u', 'DT_UINT64'],
  ['as_bool', 'flag', 'DT_BOOL'], ['as_bytes', 's', 'DT_STRING'],
];

/** The dtype zoo: inputs f (float32), i (int32), u (uint8), flag (bool), s (string), all [-1]; outputs in every TensorFlow dtype. */
async function dtypeZoo(): Promise<string> {
  const inputs = { f: 'DT_FLOAT', i: 'DT_INT32', u: 'DT_UINT8', flag: 'DT_BOOL', s: 'DT_STRING' } as const;
  const graphType = (t: string) => (t === 'DT_UINT8' ? 'DT_INT32' : t);
  return graphWithSignature('dtype-zoo', [
    ...Object.entries(inputs).map(([name, t]) => placeholder(name, graphType(t))),
    ...ZOO_OUTPUTS.map(([name, input]) => identity(name, input, graphType(inputs[input as keyof typeof inputs]))),
  ], {
    inputs: Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, entry(name, t)])),
    outputs: Object.fromEntries(ZOO_OUTPUTS.map(([name, , t]) => [name, entry(name, t)])),
  });
}

let linear: InferenceService;
let zoo: InferenceService;
let W: number[][];
let b: number[];

beforeAll(async () => {
  const model = await linearGraphModel();
  ({ W, b } = model);
  linear = await serviceFor(model.dir, { type: 'tensor' }, { modelName: 'linear' });
  zoo = await serviceFor(await dtypeZoo(), { type: 'tensor' }, { modelName: 'zoo' });
});

const expected = (x: number[]) => [0, 1].map((j) => x.reduce((s, xi, i) => s + xi * W[i][j], 0) + b[j]);

/** A binary request body: the JSON header, then the raw bytes in order. */
function binaryBody(header: unknown, ...data: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...data]), headerLength: json.length };
}

function f32(...values: number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

/** A binary answer split: its JSON header, and each output's bytes by name. */
function readBinaryAnswer(res: HttpResponse): { json: { outputs: Record<string, unknown>[] } & Record<string, unknown>; data: Record<string, Buffer> } {
  const bytes = responseBytes(res);
  const n = Number(res.headers['Inference-Header-Content-Length']);
  const json = JSON.parse(bytes.subarray(0, n).toString('utf8')) as { outputs: { name: string; parameters?: { binary_data_size?: number } }[] };
  const data: Record<string, Buffer> = {};
  let offset = n;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    data[o.name] = bytes.subarray(offset, offset + size);
    offset += size;
  }
  expect(offset).toBe(bytes.length);
  return { json: json as never, data };
}

async function infer(service: InferenceService, body: Buffer, headers: Record<string, string>): Promise<HttpResponse> {
  return route(service, { method: 'POST', path: `/v2/models/${service.modelName}/infer`, headers, body });
}

describe('requests with binary tensor data', () => {
  test('the bytes tritonclient.http sends by default (no Content-Type, binary input, binary_data_output): a binary answer', async () => {
    // GIVEN the request tritonclient 2.73 sends for InferInput('x', [1, 3], 'FP32').set_data_from_numpy(...) and no outputs:
    // captured from the real client; it sets no Content-Type and asks for every output as binary data
    const header = '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}}],"parameters":{"binary_data_output":true}}';
    const body = Buffer.concat([Buffer.from(header), Buffer.from('0000803f0000004000004040', 'hex')]);

    // WHEN it is posted as the client posts it
    const res = await infer(linear, body, { 'inference-header-content-length': String(header.length), 'user-agent': 'python/gevent-http-client-2.6.1' });

    // THEN the answer is the JSON header then the output's 8 bytes (FP32 [1, 2]), as the client reads it
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toBe('application/octet-stream');
    expect(res.isBase64Encoded).toBe(true);
    const { json, data } = readBinaryAnswer(res);
    expect(json).toEqual({ model_name: 'linear', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }] });
    const y = new Float32Array(new Uint8Array(data.y).buffer);
    expected([1, 2, 3]).forEach((v, j) => expect(y[j]).toBeCloseTo(v, 5));
  });

  test('KServe\'s Python client: application/octet-stream with the header, an output asked for as JSON', async () => {
    // GIVEN InferRequest.to_rest() with a binary input, and the headers InferenceRESTClient.infer() adds
    const { body, headerLength } = binaryBody({
      id: 'kserve-1', inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } }], outputs: [{ name: 'y', parameters: { binary_data: false } }],
    }, f32(1, 2, 3, 0, 0, 1));
    const res = await infer(linear, body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) });

    // THEN the answer is plain JSON: no output was asked for as binary data
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toBe('application/json');
    expect(res.headers['Inference-Header-Content-Length']).toBeUndefined();
    const json = JSON.parse(res.body) as { id: string; outputs: { data: number[] }[] };
    expect(json.id).toBe('kserve-1');
    [...expected([1, 2, 3]), ...expected([0, 0, 1])].forEach((v, i) => expect(json.outputs[0].data[i]).toBeCloseTo(v, 5));
  });

  test.each([
    ['FP16', Buffer.from(Uint16Array.from([0x3c00, 0x4000, 0x4200]).buffer)],
    ['BF16', Buffer.from(Uint16Array.from([0x3f80, 0x4000, 0x4040]).buffer)],
    ['FP64', Buffer.from(new Float64Array([1, 2, 3]).buffer)],
    ['INT8', Buffer.from(Int8Array.from([1, 2, 3]).buffer)],
    ['UINT16', Buffer.from(Uint16Array.from([1, 2, 3]).buffer)],
    ['INT64', Buffer.from(BigInt64Array.from([1n, 2n, 3n]).buffer)],
    ['UINT64', Buffer.from(BigUint64Array.from([1n, 2n, 3n]).buffer)],
  ])('[1, 2, 3] as binary %s into a float32 input: the same answer as JSON', async (datatype, bytes) => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype, parameters: { binary_data_size: bytes.length } }] }, bytes);
    const res = await infer(linear, body, { 'inference-header-content-length': String(headerLength) });
    expect(res.statusCode).toBe(200);
    const [out] = (JSON.parse(res.body) as { outputs: { data: number[] }[] }).outputs;
    expected([1, 2, 3]).forEach((v, j) => expect(out.data[j]).toBeCloseTo(v, 5));
  });

  test.each([
    ['a header length longer than the body', { 'inference-header-content-length': '9999' }, 400, /Inference-Header-Content-Length header must be the byte length/],
    ['a header length that is not a number', { 'inference-header-content-length': '12abc' }, 400, /Inference-Header-Content-Length/],
    ['a Content-Type that is neither JSON nor octet-stream', { 'inference-header-content-length': 'LEN', 'content-type': 'image/png' }, 415, /application\/octet-stream/],
  ])('%s: %d', async (_what, headers, status, message) => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }] }, f32(1, 2, 3));
    const res = await infer(linear, body, Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v === 'LEN' ? String(headerLength) : v])));
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body).error).toMatch(message);
  });

  test.each([
    ['binary data cut short', 12, f32(1, 2), 400, /12 bytes of binary data.*holds only 8 bytes/],
    ['bytes left over after the inputs', 12, f32(1, 2, 3, 4), 400, /4 bytes after the JSON header.*do not add up/],
    ['a binary_data_size that does not fit the shape', 8, f32(1, 2), 422, /3 FP32 values take 12 bytes, but binary_data_size gives 8/],
    ['a negative binary_data_size', -4, f32(1, 2, 3), 400, /binary_data_size must be a whole number of bytes/],
  ])('%s: %d naming the sizes', async (_what, size, data, status, message) => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: size } }] }, data);
    const res = await infer(linear, body, { 'inference-header-content-length': String(headerLength) });
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body).error).toMatch(message);
  });

  test('an input with both JSON data and binary data is refused', async () => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3], parameters: { binary_data_size: 12 } }] }, f32(1, 2, 3));
    const res = await infer(linear, body, { 'inference-header-content-length': String(headerLength) });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/both "data" and parameters.binary_data_size/);
  });

  test('no tensor leaks across binary requests, good and bad', async () => {
    const good = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } }, f32(1, 2, 3));
    await infer(linear, good.body, { 'inference-header-content-length': String(good.headerLength) });
    const before = tf.memory().numTensors;
    await infer(linear, good.body, { 'inference-header-content-length': String(good.headerLength) });
    const bad = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 8 } }] }, f32(1, 2));
    await infer(linear, bad.body, { 'inference-header-content-length': String(bad.headerLength) });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('every datatype, in and out, as binary data', () => {
  // The inputs in binary form, as numpy's tobytes() writes them.
  const strings = [Buffer.from('héllo'), Buffer.from([0, 255, 1])];
  const bytesTensor = Buffer.concat(strings.flatMap((s) => {
    const n = Buffer.alloc(4);
    n.writeUInt32LE(s.length);
    return [n, s];
  }));
  const inputs: [string, string, Buffer][] = [
    ['f', 'FP32', f32(1.5, -2, 65504)],
    ['i', 'INT32', Buffer.from(Int32Array.from([-129, 127, 70000]).buffer)],
    ['u', 'UINT8', Buffer.from([0, 200, 255])],
    ['flag', 'BOOL', Buffer.from([1, 0, 1])],
    ['s', 'BYTES', bytesTensor],
  ];
  const request = (parameters: Record<string, unknown>, outputs?: unknown[]) => binaryBody({
    inputs: inputs.map(([name, datatype, data]) => ({ name, datatype, shape: [name === 's' ? 2 : 3], parameters: { binary_data_size: data.length } })),
    ...(outputs ? { outputs } : {}),
    parameters,
  }, ...inputs.map(([, , data]) => data));

  test('binary_data_output: each output in its declared datatype, little-endian, BYTES length-prefixed', async () => {
    const { body, headerLength } = request({ binary_data_output: true });
    const res = await infer(zoo, body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) });
    expect(res.statusCode).toBe(200);
    const { json, data } = readBinaryAnswer(res);
    expect(json.outputs.map((o) => [o.name, o.datatype])).toEqual(ZOO_OUTPUTS.map(([name, , t]) => [name, {
      DT_HALF: 'FP16', DT_BFLOAT16: 'BF16', DT_FLOAT: 'FP32', DT_DOUBLE: 'FP64', DT_INT8: 'INT8', DT_INT16: 'INT16', DT_INT32: 'INT32', DT_INT64: 'INT64',
      DT_UINT8: 'UINT8', DT_UINT16: 'UINT16', DT_UINT32: 'UINT32', DT_UINT64: 'UINT64', DT_BOOL: 'BOOL', DT_STRING: 'BYTES',
    }[t]]));
    // IEEE half: 1.5 = 0x3e00, -2 = 0xc000, 65504 = 0x7bff; bfloat16 is float32's top half (65504 rounds to 65536).
    expect(data.as_fp16.toString('hex')).toBe('003e00c0ff7b');
    expect(data.as_bf16.toString('hex')).toBe('c03f00c08047');
    expect(data.as_fp32).toEqual(f32(1.5, -2, 65504));
    expect(data.as_fp64).toEqual(Buffer.from(new Float64Array([1.5, -2, 65504]).buffer));
    expect(data.as_int16).toEqual(Buffer.from(Int16Array.from([-129, 127, 4464]).buffer)); // 70000 wraps as a C cast does
    expect(data.as_int32).toEqual(Buffer.from(Int32Array.from([-129, 127, 70000]).buffer));
    expect(data.as_int64).toEqual(Buffer.from(BigInt64Array.from([-129n, 127n, 70000n]).buffer));
    expect(data.as_uint8).toEqual(Buffer.from([0, 200, 255]));
    expect(data.as_uint16).toEqual(Buffer.from(Uint16Array.from([0, 200, 255]).buffer));
    expect(data.as_uint32).toEqual(Buffer.from(Uint32Array.from([0, 200, 255]).buffer));
    expect(data.as_uint64).toEqual(Buffer.from(BigUint64Array.from([0n, 200n, 255n]).buffer));
    expect(data.as_bool).toEqual(Buffer.from([1, 0, 1]));
    expect(data.as_bytes).toEqual(bytesTensor);
  });

  test('per-output binary_data overrides binary_data_output; JSON data carries booleans and text', async () => {
    const { body, headerLength } = request({ binary_data_output: true }, [
      { name: 'as_bool', parameters: { binary_data: false } }, { name: 'as_bytes', parameters: { binary_data: false } }, { name: 'as_int64' },
    ]);
    const res = await infer(zoo, body, { 'inference-header-content-length': String(headerLength) });
    const { json, data } = readBinaryAnswer(res);
    expect(json.outputs).toEqual([
      { name: 'as_bool', datatype: 'BOOL', shape: [3], data: [true, false, true] },
      { name: 'as_bytes', datatype: 'BYTES', shape: [2], data: ['héllo', Buffer.from([0, 255, 1]).toString('utf8')] },
      { name: 'as_int64', datatype: 'INT64', shape: [3], parameters: { binary_data_size: 24 } },
    ]);
    expect(data.as_int64.readBigInt64LE(0)).toBe(-129n);
  });

  test('Triton\'s classification extension is refused, not ignored', async () => {
    const { body, headerLength } = request({}, [{ name: 'as_fp32', parameters: { classification: 2 } }]);
    const res = await infer(zoo, body, { 'inference-header-content-length': String(headerLength) });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/classification extension/);
  });
});

describe('through Lambda', () => {
  test('an API Gateway REST event with a base64 binary body gets a base64 answer with isBase64Encoded: true', async () => {
    // GIVEN API Gateway with application/octet-stream among its binary media types: it hands the body over in base64
    const handler = createHandler(linear);
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } }, f32(1, 2, 3));
    const event = apiGatewayV1Event({ path: '/v2/models/linear/infer', body, base64: true, contentType: 'application/octet-stream', headers: { 'Inference-Header-Content-Length': String(headerLength) } });

    // WHEN the handler answers
    const res = await handler(event) as { statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: boolean };

    // THEN the answer's body is base64, flagged, and decodes to the header and the output's bytes
    expect(res.statusCode).toBe(200);
    expect(res.isBase64Encoded).toBe(true);
    expect(res.headers['Content-Type']).toBe('application/octet-stream');
    const bytes = Buffer.from(res.body, 'base64');
    const n = Number(res.headers['Inference-Header-Content-Length']);
    expect(JSON.parse(bytes.subarray(0, n).toString()).outputs[0]).toMatchObject({ name: 'y', parameters: { binary_data_size: 8 } });
    expect(bytes.length).toBe(n + 8);
  });

  test('an HTTP API event: the same; JSON answers stay text (isBase64Encoded: false)', async () => {
    const handler = createHandler(linear);
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }] }, f32(1, 2, 3));
    const event = apiGatewayV2Event({ path: '/v2/models/linear/infer', body, base64: true, contentType: 'application/octet-stream', headers: { 'inference-header-content-length': String(headerLength) } });
    const res = await handler(event) as { statusCode: number; body: string; isBase64Encoded: boolean };
    expect(res.statusCode).toBe(200);
    expect(res.isBase64Encoded).toBe(false);
    expect(JSON.parse(res.body).outputs[0].name).toBe('y');
  });
});

/**
 * The real tritonclient.http (Python) against the local server, from the pinned venv that
 * scripts/python-tools.mjs --set protocol-clients sets up when it is not cached yet (the
 * first time about 90 s, from the package index pip is configured with). Without it this test
 * fails: it is what proves that the default client works.
 */
describe('the real tritonclient.http against `serverless-tf serve`', () => {
  beforeAll(() => protocolClientsPython(), CLIENTS_SET_UP_TIMEOUT_MS);

  const script = String.raw`
import json, sys
import numpy as np
import tritonclient.http as httpclient
url = sys.argv[1]
c = httpclient.InferenceServerClient(url)
out = {"live": c.is_server_live(), "ready": c.is_server_ready(), "model_ready": c.is_model_ready("zoo"),
       "server": c.get_server_metadata(), "model": c.get_model_metadata("zoo")}
def inputs(binary, s_binary=True):
    arrays = {"f": np.array([1.5, -2, 65504], dtype=np.float32), "i": np.array([-129, 127, 70000], dtype=np.int32),
              "u": np.array([0, 200, 255], dtype=np.uint8), "flag": np.array([True, False, True]),
              "s": np.array([b"h\xc3\xa9llo", b"\x00\xff\x01"], dtype=np.object_)}
    types = {"f": "FP32", "i": "INT32", "u": "UINT8", "flag": "BOOL", "s": "BYTES"}
    result = []
    for name, a in arrays.items():
        x = httpclient.InferInput(name, list(a.shape), types[name])
        x.set_data_from_numpy(a, binary_data=s_binary if name == "s" else binary)
        result.append(x)
    return result
def describe(r):
    d = {}
    for o in r.get_response()["outputs"]:
        a = r.as_numpy(o["name"])
        d[o["name"]] = {"dtype": str(a.dtype), "values": [v.hex() if isinstance(v, bytes) else v for v in a.tolist()]}
    return d
out["binary"] = describe(c.infer("zoo", inputs(True)))
out["json"] = describe(c.infer("zoo", inputs(True), outputs=[httpclient.InferRequestedOutput(n, binary_data=False) for n in ["as_fp32", "as_int64", "as_bool", "as_int8"]]))
out["json_in"] = describe(c.infer("zoo", inputs(False)))
print(json.dumps(out))
`;

  test('server and model metadata, health, and inference with binary and JSON tensors decode as numpy arrays', async () => {
    const server = await startLocalServer(zoo);
    try {
      const stdout = await runPython(script, [server.url.replace(/^http:\/\//, '')], 'tritonclient.http');
      const out = JSON.parse(stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(out).toMatchObject({ live: true, ready: true, model_ready: true });
      expect(out.server).toMatchObject({ name: 'cdk-serverless-tensorflow', extensions: expect.arrayContaining(['binary_tensor_data']) });
      expect(out.model.inputs).toContainEqual({ name: 'u', datatype: 'UINT8', shape: [-1] });
      expect(out.model.outputs).toContainEqual({ name: 'as_fp16', datatype: 'FP16', shape: [-1] });
      const b = out.binary;
      expect(b.as_fp16).toEqual({ dtype: 'float16', values: [1.5, -2, 65504] });
      expect(b.as_fp64).toEqual({ dtype: 'float64', values: [1.5, -2, 65504] });
      expect(b.as_int8).toEqual({ dtype: 'int8', values: [127, 127, 112] }); // -129 and 70000 wrap as a C cast does
      expect(b.as_int64).toEqual({ dtype: 'int64', values: [-129, 127, 70000] });
      expect(b.as_uint8).toEqual({ dtype: 'uint8', values: [0, 200, 255] });
      expect(b.as_uint64).toEqual({ dtype: 'uint64', values: [0, 200, 255] });
      expect(b.as_bool).toEqual({ dtype: 'bool', values: [true, false, true] });
      expect(b.as_bytes).toEqual({ dtype: 'object', values: [Buffer.from('héllo').toString('hex'), '00ff01'] });
      expect(out.json).toEqual({
        as_fp32: { dtype: 'float32', values: [1.5, -2, 65504] },
        as_int64: { dtype: 'int64', values: [-129, 127, 70000] },
        as_bool: { dtype: 'bool', values: [true, false, true] },
        // JSON data says what the binary data says: the declared INT8, wrapped as TensorFlow's int8 does
        as_int8: { dtype: 'int8', values: [127, 127, 112] },
      });
      expect(out.json_in.as_uint16).toEqual({ dtype: 'uint16', values: [0, 200, 255] });
    } finally {
      await server.close();
    }
  });
});

/**
 * The real KServe Python client (kserve 0.21's InferenceRESTClient, V2 protocol, over REST)
 * against the local server, from the same venv. It has no REST calls for metadata: those
 * answers are read with httpx (the client's own HTTP library) and validated by KServe's V2
 * data models (ServerMetadataResponse, ModelMetadataResponse), which is what KServe's own
 * server answers with.
 */
describe('the real KServe InferenceRESTClient against `serverless-tf serve`', () => {
  beforeAll(() => protocolClientsPython(), CLIENTS_SET_UP_TIMEOUT_MS);

  const script = String.raw`
import asyncio, json, sys
import httpx
import numpy as np
from kserve import InferenceRESTClient, RESTConfig
from kserve.protocol.infer_type import InferInput, InferRequest, RequestedOutput
from kserve.protocol.rest.v2_datamodels import ModelMetadataResponse, ServerMetadataResponse
base = sys.argv[1]
ARRAYS = {"f": (np.array([[1.5, -2, 65504]], dtype=np.float32), "FP32"), "i": (np.array([[-100, 0, 127]], dtype=np.int32), "INT32"),
          "u": (np.array([[0, 200, 255]], dtype=np.uint8), "UINT8"), "flag": (np.array([[True, False, True]]), "BOOL"),
          "s": (np.array([[b"hello", b"world"]], dtype=np.object_), "BYTES")}
def inputs(binary):
    result = []
    for name, (a, datatype) in ARRAYS.items():
        x = InferInput(name, list(a.reshape(-1).shape), datatype)
        x.set_data_from_numpy(a.reshape(-1), binary_data=binary)
        result.append(x)
    return result
def describe(r):
    d = {}
    for o in r.outputs:
        if o.datatype == "BF16":  # kserve's numpy codec has no BF16 (numpy has no bfloat16): the JSON values
            d[o.name] = {"datatype": o.datatype, "shape": list(o.shape), "values": list(o.data)}
            continue
        a = o.as_numpy()
        d[o.name] = {"datatype": o.datatype, "shape": list(o.shape), "dtype": str(a.dtype),
                     "values": [v.decode() if isinstance(v, bytes) else v for v in a.reshape(-1).tolist()]}
    return d
async def main():
    out = {}
    async with InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30)) as c:
        out["live"] = await c.is_server_live(base)
        out["ready"] = await c.is_server_ready(base)
        out["model_ready"] = await c.is_model_ready(base, "zoo")
        out["missing_model_ready"] = await c.is_model_ready(base, "no-such-model")
        binary = await c.infer(base, InferRequest("zoo", inputs(True), request_id="kserve-1"), model_name="zoo")
        out["binary"] = describe(binary)
        out["binary_id"] = binary.id
        plain = await c.infer(base, InferRequest("zoo", inputs(False)), model_name="zoo")
        out["json"] = describe(plain)
        picked = await c.infer(base, InferRequest("zoo", inputs(True), parameters={"binary_data_output": True},
                               request_outputs=[RequestedOutput("as_fp16"), RequestedOutput("as_int64", {"binary_data": False})]), model_name="zoo")
        out["picked"] = describe(picked)
        try:
            await c.infer(base, InferRequest("zoo", [InferInput("nope", [1], "FP32", [1.0])]), model_name="zoo")
            out["error"] = None
        except httpx.HTTPStatusError as e:
            out["error"] = {"status": e.response.status_code, "body": e.response.json()}
    async with httpx.AsyncClient() as h:
        out["server"] = ServerMetadataResponse.model_validate((await h.get(base + "/v2")).json()).model_dump()
        out["model"] = ModelMetadataResponse.model_validate((await h.get(base + "/v2/models/zoo")).json()).model_dump()
    print(json.dumps(out))
asyncio.run(main())
`;

  test('server live and ready, model ready, metadata by its data models, and inference with numpy inputs in binary and JSON', async () => {
    // GIVEN the dtype zoo served by the local server
    const server = await startLocalServer(zoo);
    try {
      // WHEN the KServe client asks for health, infers with binary and with JSON inputs, picks outputs, and metadata is read
      const out = JSON.parse(await runPython(script, [server.url], 'KServe InferenceRESTClient')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

      // THEN the server is live and ready, the model is, an unknown one is not
      expect(out).toMatchObject({ live: true, ready: true, model_ready: true, missing_model_ready: false });
      // and the metadata validate as KServe's own V2 data models
      expect(out.server).toMatchObject({ name: 'cdk-serverless-tensorflow', extensions: expect.arrayContaining(['binary_tensor_data']) });
      expect(out.model).toMatchObject({ name: 'zoo' });
      expect(out.model.inputs).toContainEqual({ name: 'flag', datatype: 'BOOL', shape: [-1] });
      expect(out.model.outputs).toContainEqual({ name: 'as_uint64', datatype: 'UINT64', shape: [-1] });
      // and binary inputs (the client's default) come back decoded as numpy arrays of the declared datatypes, with the id echoed
      expect(out.binary_id).toBe('kserve-1');
      expect(out.binary.as_fp64).toEqual({ datatype: 'FP64', shape: [3], dtype: 'float64', values: [1.5, -2, 65504] });
      expect(out.binary.as_int8).toEqual({ datatype: 'INT8', shape: [3], dtype: 'int8', values: [-100, 0, 127] });
      expect(out.binary.as_int64).toEqual({ datatype: 'INT64', shape: [3], dtype: 'int64', values: [-100, 0, 127] });
      expect(out.binary.as_uint8).toEqual({ datatype: 'UINT8', shape: [3], dtype: 'uint8', values: [0, 200, 255] });
      expect(out.binary.as_bool).toEqual({ datatype: 'BOOL', shape: [3], dtype: 'bool', values: [true, false, true] });
      expect(out.binary.as_bytes).toEqual({ datatype: 'BYTES', shape: [2], dtype: 'object', values: ['hello', 'world'] });
      expect(out.binary.as_bf16).toEqual({ datatype: 'BF16', shape: [3], values: [1.5, -2, 65536] }); // JSON values, rounded to bfloat16 as the binary answer is (65504 -> 65536)
      // and JSON inputs give the same answers
      expect(out.json).toEqual(out.binary);
      // and requested outputs: binary_data_output for all, one of them JSON by its own parameter, only those two
      expect(Object.keys(out.picked).sort()).toEqual(['as_fp16', 'as_int64']);
      expect(out.picked.as_fp16).toEqual({ datatype: 'FP16', shape: [3], dtype: 'float16', values: [1.5, -2, 65504] });
      expect(out.picked.as_int64).toEqual(out.binary.as_int64);
      // and a wrong input name is an HTTP error whose JSON says what was wrong
      expect(out.error.status).toBe(422);
      expect(out.error.body.error).toMatch(/nope/);
    } finally {
      await server.close();
    }
  });
});
