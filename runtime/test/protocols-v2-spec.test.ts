// The Open Inference Protocol V2 REST spec (KServe's required_api.md / the OIP's
// inference_rest.md) and Triton's binary tensor data extension, section by section: each
// describe is named after the section whose MUSTs its tests hold, and the spec's own
// examples are the requests, byte for byte where the spec gives them.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dim, serviceFor, writeGraphModel } from './support/models';
import { route } from '../src/routes';
import { responseBytes } from '../src/http';
import type { HttpResponse } from '../src/http';
import type { InferenceService } from '../src/service';

/**
 * The spec example's model "mymodel": input0 UINT32 [-1, 2] and input1 BOOL [-1], as a
 * converter's signature declares them; output0 FP32 (input0 as float) and output1 BOOL
 * (input1), so that asking for output0 alone has something to leave out.
 */
async function myModel(): Promise<string> {
  const dir = await writeGraphModel('mymodel', [
    { name: 'input0', op: 'Placeholder', attr: { dtype: { type: 'DT_INT32' }, shape: { shape: dim(-1, 2) } } },
    { name: 'input1', op: 'Placeholder', attr: { dtype: { type: 'DT_BOOL' }, shape: { shape: dim(-1) } } },
    { name: 'output0', op: 'Cast', input: ['input0'], attr: { SrcT: { type: 'DT_INT32' }, DstT: { type: 'DT_FLOAT' } } },
    { name: 'output1', op: 'Identity', input: ['input1'], attr: { T: { type: 'DT_BOOL' } } },
  ], []);
  const file = path.join(dir, 'model.json');
  const signature = {
    inputs: { input0: { name: 'input0:0', dtype: 'DT_UINT32', tensorShape: dim(-1, 2) }, input1: { name: 'input1:0', dtype: 'DT_BOOL', tensorShape: dim(-1) } },
    outputs: { output0: { name: 'output0:0', dtype: 'DT_FLOAT', tensorShape: dim(-1, 2) }, output1: { name: 'output1:0', dtype: 'DT_BOOL', tensorShape: dim(-1) } },
  };
  await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), signature }));
  return dir;
}

let mymodel: InferenceService;

beforeAll(async () => {
  mymodel = await serviceFor(await myModel(), { type: 'tensor' }, { modelName: 'mymodel' });
});

async function call(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<HttpResponse & { json: Record<string, unknown> }> {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
  const res = await route(mymodel, { method, path: urlPath, headers, body: raw });
  const bytes = responseBytes(res);
  const n = res.headers['Inference-Header-Content-Length'];
  return { ...res, json: JSON.parse(bytes.subarray(0, n === undefined ? bytes.length : Number(n)).toString('utf8')) as Record<string, unknown> };
}

/** An error answer as the spec's error objects: an HTTP error status, and a body of exactly {"error": $string}. */
function expectErrorObject(res: { statusCode: number; json: Record<string, unknown> }, status: number | RegExp, message: RegExp): void {
  if (typeof status === 'number') expect(res.statusCode).toBe(status);
  else expect(String(res.statusCode)).toMatch(status);
  expect(Object.keys(res.json)).toEqual(['error']);
  expect(res.json.error).toEqual(expect.stringMatching(message));
}

/** The JSON request of the spec's "Inference Request Examples", with input1's data filling its shape [3]. */
const EXAMPLE_REQUEST = {
  id: '42',
  inputs: [
    { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
    { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, false, true] },
  ],
  outputs: [{ name: 'output0' }],
};

describe('Inference Request Examples', () => {
  test('the example request: 200, its id returned, the requested output0 and nothing else, FP32', async () => {
    const res = await call('POST', '/v2/models/mymodel/infer', EXAMPLE_REQUEST);
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ id: '42', model_name: 'mymodel' });
    expect(res.json.outputs).toEqual([{ name: 'output0', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }]);
  });

  test('the example as the spec prints it (input1 of shape [3] with one value): refused with an error object, not served', async () => {
    const printed = { ...EXAMPLE_REQUEST, inputs: [EXAMPLE_REQUEST.inputs[0], { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] }] };
    expectErrorObject(await call('POST', '/v2/models/mymodel/infer', printed), 422, /input1.*3 values, got 1/);
  });
});

describe('Inference Request JSON Object', () => {
  test('"id": optional; when given, returned in the response', async () => {
    const { id: _id, ...withoutId } = EXAMPLE_REQUEST;
    expect((await call('POST', '/v2/models/mymodel/infer', withoutId)).statusCode).toBe(200);
    expect((await call('POST', '/v2/models/mymodel/infer', { ...EXAMPLE_REQUEST, id: 'abc-7' })).json.id).toBe('abc-7');
  });

  test('"outputs" not given: every output of the model is returned', async () => {
    const { outputs: _outputs, ...all } = EXAMPLE_REQUEST;
    const res = await call('POST', '/v2/models/mymodel/infer', all);
    expect((res.json.outputs as { name: string }[]).map((o) => o.name).sort()).toEqual(['output0', 'output1']);
    expect((res.json.outputs as { name: string; data: unknown }[]).find((o) => o.name === 'output1')).toMatchObject({ datatype: 'BOOL', shape: [3], data: [true, false, true] });
  });
});

describe('Request Input: "shape", each dimension an integer representable as an unsigned 64-bit integer', () => {
  test.each([
    ['a negative dimension', [-2, 2]],
    ['a fraction', [1.5, 2]],
    ['a string', ['2', 2]],
  ])('%s is refused with an error object', async (_what, shape) => {
    const res = await call('POST', '/v2/models/mymodel/infer', { inputs: [{ ...EXAMPLE_REQUEST.inputs[0], shape }] });
    expectErrorObject(res, /^4\d\d$/, /shape/);
  });
});

describe('Tensor Data', () => {
  test('row-major: the natural multi-dimensional form and the flattened one are the same tensor', async () => {
    const nested = await call('POST', '/v2/models/mymodel/infer', { ...EXAMPLE_REQUEST, inputs: [{ ...EXAMPLE_REQUEST.inputs[0], data: [[1, 2], [3, 4]] }, EXAMPLE_REQUEST.inputs[1]] });
    const flat = await call('POST', '/v2/models/mymodel/infer', EXAMPLE_REQUEST);
    expect(nested.statusCode).toBe(200);
    expect(nested.json.outputs).toEqual(flat.json.outputs);
  });
});

describe('all strings in all contexts are case-sensitive', () => {
  test('a datatype in other case is not that datatype', async () => {
    const res = await call('POST', '/v2/models/mymodel/infer', { inputs: [{ ...EXAMPLE_REQUEST.inputs[0], datatype: 'uint32' }] });
    expectErrorObject(res, 422, /datatype "uint32"/);
  });

  test('a model name in other case is another model', async () => {
    expectErrorObject(await call('POST', '/v2/models/MyModel/infer', EXAMPLE_REQUEST), 404, /MyModel/);
  });

  test('an input name in other case is not that input', async () => {
    const res = await call('POST', '/v2/models/mymodel/infer', { inputs: [{ ...EXAMPLE_REQUEST.inputs[0], name: 'Input0' }, EXAMPLE_REQUEST.inputs[1]] });
    expectErrorObject(res, 422, /Input0/);
  });
});

describe('the URLs a server must recognize, versions optional', () => {
  test.each([
    ['GET', '/v2/health/live'],
    ['GET', '/v2/health/ready'],
    ['GET', '/v2/models/mymodel/ready'],
    ['GET', '/v2/models/mymodel/versions/1/ready'],
    ['GET', '/v2'],
    ['GET', '/v2/models/mymodel'],
    ['GET', '/v2/models/mymodel/versions/1'],
    ['POST', '/v2/models/mymodel/infer'],
    ['POST', '/v2/models/mymodel/versions/1/infer'],
  ])('%s %s: 200', async (method, urlPath) => {
    const res = await call(method, urlPath, method === 'POST' ? EXAMPLE_REQUEST : undefined);
    expect(res.statusCode).toBe(200);
  });

  test('a version the model does not have: an error object', async () => {
    expectErrorObject(await call('POST', '/v2/models/mymodel/versions/2/infer', EXAMPLE_REQUEST), 404, /./);
  });
});

describe('Health', () => {
  test('server live and ready: 200 with {"live": true} and {"ready": true}; model ready: 200 with its name', async () => {
    // (The answers carry more, the backend and the model, as /health does: the spec's fields are these.)
    expect((await call('GET', '/v2/health/live')).json).toMatchObject({ live: true });
    expect((await call('GET', '/v2/health/ready')).json).toMatchObject({ ready: true });
    expect((await call('GET', '/v2/models/mymodel/ready')).json).toEqual({ name: 'mymodel', ready: true });
  });

  test('model ready of a model the server does not have: a 4xx status (false)', async () => {
    expect(String((await call('GET', '/v2/models/other/ready')).statusCode)).toMatch(/^4\d\d$/);
  });
});

describe('Server Metadata', () => {
  test('200 with name, version and extensions (strings)', async () => {
    const res = await call('GET', '/v2');
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ name: expect.any(String), version: expect.any(String), extensions: expect.arrayContaining(['binary_tensor_data']) });
    expect((res.json.extensions as unknown[]).every((e) => typeof e === 'string')).toBe(true);
  });

  test('Server Metadata Response JSON Error Object: a request that fails (not a GET) is an HTTP error status with {"error": $string}', async () => {
    const res = await call('POST', '/v2', {});
    expectErrorObject(res, 405, /GET/);
    expect(res.headers.Allow).toMatch(/GET/);
  });
});

describe('Model Metadata', () => {
  test('200 with name, versions, platform, and each input and output as name, datatype, shape (-1 for variable dimensions)', async () => {
    const res = await call('GET', '/v2/models/mymodel');
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({
      name: 'mymodel', versions: ['1'], platform: 'tensorflowjs_graph',
      inputs: [{ name: 'input0', datatype: 'UINT32', shape: [-1, 2] }, { name: 'input1', datatype: 'BOOL', shape: [-1] }],
      outputs: [{ name: 'output0', datatype: 'FP32', shape: [-1, 2] }, { name: 'output1', datatype: 'BOOL', shape: [-1] }],
    });
  });

  test('Model Metadata Response JSON Error Object: an unknown model is an HTTP error status with {"error": $string}', async () => {
    expectErrorObject(await call('GET', '/v2/models/other'), 404, /other/);
  });
});

describe('Inference Response JSON Error Object', () => {
  test.each([
    ['a body that is not JSON', '{"inputs": [', 400],
    ['an unknown input', { inputs: [{ name: 'nope', shape: [1], datatype: 'FP32', data: [1] }] }, 422],
    ['an unknown requested output', { ...EXAMPLE_REQUEST, outputs: [{ name: 'nope' }] }, 422],
  ])('%s: an HTTP error status and exactly {"error": $string}', async (_what, body, status) => {
    expectErrorObject(await call('POST', '/v2/models/mymodel/infer', body), status, /\w/);
  });
});

describe('Parameters: values are $string, $number or $boolean', () => {
  test('request parameters of each kind are accepted', async () => {
    const res = await call('POST', '/v2/models/mymodel/infer', { ...EXAMPLE_REQUEST, parameters: { note: 'x', priority: 1, flag: false } });
    expect(res.statusCode).toBe(200);
  });
});

describe('Binary Tensor Data Extension: Examples', () => {
  /** The extension's example request, byte for byte: a JSON header, then 16 bytes for input0 and 3 for input1. */
  function exampleRequest(): { body: Buffer; headerLength: number } {
    const header = Buffer.from(JSON.stringify({
      model_name: 'mymodel',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
        { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: 'output0', parameters: { binary_data: true } }],
    }));
    const input0 = Buffer.from(new Uint32Array([1, 2, 3, 4]).buffer); // little-endian, row major
    const input1 = Buffer.from([1, 0, 1]); // BOOL: one byte each, 1 true, 0 false
    return { body: Buffer.concat([header, input0, input1]), headerLength: header.length };
  }

  test('the example request: output0 returned as binary, its size in binary_data_size, the JSON length in Inference-Header-Content-Length', async () => {
    const { body, headerLength } = exampleRequest();
    const res = await route(mymodel, {
      method: 'POST', path: '/v2/models/mymodel/infer', body,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength), 'content-length': String(body.length) },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['Content-Type']).toBe('application/octet-stream');
    const bytes = responseBytes(res);
    const n = Number(res.headers['Inference-Header-Content-Length']);
    const json = JSON.parse(bytes.subarray(0, n).toString('utf8')) as { outputs: unknown[] };
    expect(json.outputs).toEqual([{ name: 'output0', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } }]);
    // The binary data follows the JSON, and the body is exactly both.
    expect(bytes.length).toBe(n + 16);
    expect([...new Float32Array(bytes.buffer.slice(bytes.byteOffset + n, bytes.byteOffset + n + 16))]).toEqual([1, 2, 3, 4]);
  });

  test('binary data in the order of the tensors in the JSON: both outputs as binary, in the order asked', async () => {
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } }, { name: 'input0', shape: [1, 2], datatype: 'UINT32', parameters: { binary_data_size: 8 } }],
      outputs: [{ name: 'output1' }, { name: 'output0' }],
      parameters: { binary_data_output: true },
    }));
    const body = Buffer.concat([header, Buffer.from([0, 1, 1]), Buffer.from(new Uint32Array([7, 9]).buffer)]);
    const res = await route(mymodel, { method: 'POST', path: '/v2/models/mymodel/infer', body, headers: { 'inference-header-content-length': String(header.length) } });
    expect(res.statusCode).toBe(200);
    const bytes = responseBytes(res);
    const n = Number(res.headers['Inference-Header-Content-Length']);
    const json = JSON.parse(bytes.subarray(0, n).toString('utf8')) as { outputs: { name: string; parameters: { binary_data_size: number } }[] };
    expect(json.outputs.map((o) => [o.name, o.parameters.binary_data_size])).toEqual([['output1', 3], ['output0', 8]]);
    expect([...bytes.subarray(n, n + 3)]).toEqual([0, 1, 1]);
    expect([...new Float32Array(bytes.buffer.slice(bytes.byteOffset + n + 3, bytes.byteOffset + n + 11))]).toEqual([7, 9]);
  });

  test('no binary data in the answer: no Inference-Header-Content-Length, a JSON body', async () => {
    const { body, headerLength } = exampleRequest();
    const jsonOut = Buffer.from(body.toString('latin1').replace('"binary_data":true', '"binary_data":false'), 'latin1');
    const res = await route(mymodel, { method: 'POST', path: '/v2/models/mymodel/infer', body: jsonOut, headers: { 'inference-header-content-length': String(headerLength + 1) } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['Inference-Header-Content-Length']).toBeUndefined();
    expect(JSON.parse(responseBytes(res).toString('utf8')).outputs).toEqual([{ name: 'output0', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }]);
  });
});
