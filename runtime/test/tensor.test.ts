// Raw tensors through TF Serving REST and KServe V2, on a hand-written TF.js graph model
// (y = x.W + b) and a two-input layers model with known weights: shapes and dtypes are
// checked against the model's signature.
import * as tf from '@tensorflow/tfjs';
import { linearGraphModel, serviceFor, twoInputModel } from './support/models';
import { route } from '../src/routes';
import type { InferenceService } from '../src/service';

let graph: InferenceService;
let twoInputs: InferenceService;
let W: number[][];
let b: number[];

beforeAll(async () => {
  const model = await linearGraphModel();
  W = model.W;
  b = model.b;
  graph = await serviceFor(model.dir, { type: 'tensor' }, { modelName: 'linear' });
  twoInputs = await serviceFor(await twoInputModel(), { type: 'tensor' }, { modelName: 'pair' });
});

async function call(service: InferenceService, method: string, path: string, body?: unknown) {
  const res = await route(service, { method, path, headers: { 'content-type': 'application/json' }, body: Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)) });
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(res.body) as Record<string, unknown> };
}

const linear = (x: number[]) => [0, 1].map((j) => x.reduce((s, xi, i) => s + xi * W[i][j], 0) + b[j]);

function expectClose(actual: unknown, expected: number[][]) {
  const a = actual as number[][];
  expect(a).toHaveLength(expected.length);
  a.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 5)));
}

describe('a TF.js graph model', () => {
  test('loads as a graph model with its signature', () => {
    expect(graph.model.format).toBe('graph');
    expect(graph.model.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [null, 3] }]);
  });

  test('TF Serving row format: one prediction per instance', async () => {
    const { status, json } = await call(graph, 'POST', '/v1/models/linear:predict', { instances: [[1, 2, 3], [0, 0, 1]] });
    expect(status).toBe(200);
    expectClose(json.predictions, [linear([1, 2, 3]), linear([0, 0, 1])]);
  });

  test('TF Serving columnar format: "inputs" in, "outputs" out', async () => {
    const { status, json } = await call(graph, 'POST', '/v1/models/linear:predict', { inputs: [[1, 2, 3]] });
    expect(status).toBe(200);
    expectClose(json.outputs, [linear([1, 2, 3])]);
  });

  test('KServe V2 infer: flat data with a shape, answer with name, datatype and shape', async () => {
    const { status, json } = await call(graph, 'POST', '/v2/models/linear/infer', {
      id: 'req-1', inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0, 0, 1] }],
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({ model_name: 'linear', model_version: '1', id: 'req-1' });
    const [out] = json.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[];
    expect(out.name).toBe('y');
    expect(out.datatype).toBe('FP32');
    expect(out.shape).toEqual([2, 2]);
    expectClose([out.data.slice(0, 2), out.data.slice(2)], [linear([1, 2, 3]), linear([0, 0, 1])]);
  });

  test('KServe V2 metadata and TF Serving status', async () => {
    const meta = await call(graph, 'GET', '/v2/models/linear');
    expect(meta.json).toEqual({
      name: 'linear', versions: ['1'], platform: 'tensorflowjs_graph',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
    });
    const status = await call(graph, 'GET', '/v1/models/linear');
    expect(status.json).toEqual({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
  });

  test.each([
    ['a wrong inner dimension', { instances: [[1, 2]] }, 422, /expects shape \[-1,3\].*got \[1,2\]/],
    ['ragged instances', { instances: [[1, 2, 3], [1, 2]] }, 422, /instance 1 has shape \[2\]/],
    ['a string element', { instances: [[1, 'two', 3]] }, 422, /must be a number/],
    ['neither instances nor inputs', { data: [1] }, 400, /Missing "instances" or "inputs"/],
    ['both instances and inputs', { instances: [[1, 2, 3]], inputs: [[1, 2, 3]] }, 400, /not both/],
    ['empty instances', { instances: [] }, 400, /empty/],
    ['a JSON array body', [[1, 2, 3]], 400, /JSON object/],
  ])('TF Serving: %s is refused', async (_what, body, status, message) => {
    const res = await call(graph, 'POST', '/v1/models/linear:predict', body);
    expect(res.status).toBe(status);
    expect(res.json.error).toMatch(message);
  });

  test.each([
    ['data that does not fill the shape', { inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3] }] }, 422, /needs 6 values, got 3/],
    ['an unknown datatype', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'COMPLEX', data: [1, 2, 3] }] }, 422, /datatype "COMPLEX"/],
    ['a BOOL for a float input', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'BOOL', data: [true, false, true] }] }, 422, /dtype FP32; got BOOL/],
    ['a missing field', { inputs: [{ name: 'x', shape: [1, 3], data: [1, 2, 3] }] }, 400, /"name", "shape", "datatype" and "data"/],
    ['an unknown requested output', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }], outputs: [{ name: 'nope' }] }, 422, /names no output/],
  ])('KServe V2: %s is refused', async (_what, body, status, message) => {
    const res = await call(graph, 'POST', '/v2/models/linear/infer', body);
    expect(res.status).toBe(status);
    expect(res.json.error).toMatch(message);
  });

  test('an unknown model name is a 404 in TF Serving\'s words; a wrong method is a 405 with Allow', async () => {
    const missing = await call(graph, 'POST', '/v1/models/other:predict', { instances: [[1, 2, 3]] });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/Servable not found for request: Latest\(other\)/);
    const wrongMethod = await call(graph, 'GET', '/v1/models/linear:predict');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.Allow).toBe('POST');
  });

  test('no tensor leaks across good and bad requests', async () => {
    await call(graph, 'POST', '/v1/models/linear:predict', { instances: [[1, 2, 3]] });
    const before = tf.memory().numTensors;
    await call(graph, 'POST', '/v1/models/linear:predict', { instances: [[1, 2, 3]] });
    await call(graph, 'POST', '/v1/models/linear:predict', { instances: [[1, 2]] });
    await call(graph, 'POST', '/v2/models/linear/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    await call(graph, 'POST', '/v2/models/linear/infer', { inputs: [{ name: 'x', shape: [9, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a model with two named inputs', () => {
  const expected = (a: number[], bb: number[]) => a[0] + 2 * a[1] + 3 * bb[0] + 4 * bb[1] + 5 * bb[2] + 0.5;

  test('row format: each instance is an object keyed by input name', async () => {
    const { status, json } = await call(twoInputs, 'POST', '/v1/models/pair:predict', { instances: [{ a: [1, 1], b: [1, 0, 0] }, { a: [0, 0], b: [0, 0, 1] }] });
    expect(status).toBe(200);
    expectClose(json.predictions, [[expected([1, 1], [1, 0, 0])], [expected([0, 0], [0, 0, 1])]]);
  });

  test('columnar format and V2 with both inputs', async () => {
    const col = await call(twoInputs, 'POST', '/v1/models/pair:predict', { inputs: { a: [[1, 2]], b: [[3, 4, 5]] } });
    expectClose(col.json.outputs, [[expected([1, 2], [3, 4, 5])]]);
    const v2 = await call(twoInputs, 'POST', '/v2/models/pair/infer', {
      inputs: [{ name: 'b', shape: [1, 3], datatype: 'FP32', data: [3, 4, 5] }, { name: 'a', shape: [1, 2], datatype: 'FP32', data: [1, 2] }],
    });
    const [out] = v2.json.outputs as { data: number[] }[];
    expect(out.data[0]).toBeCloseTo(expected([1, 2], [3, 4, 5]), 4);
  });

  test('a missing input is a 422 that names it; bare arrays are refused with the input names', async () => {
    const missing = await call(twoInputs, 'POST', '/v2/models/pair/infer', { inputs: [{ name: 'a', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] });
    expect(missing.status).toBe(422);
    expect(missing.json.error).toMatch(/Missing input: b/);
    const bare = await call(twoInputs, 'POST', '/v1/models/pair:predict', { instances: [[1, 2]] });
    expect(bare.status).toBe(422);
    expect(bare.json.error).toMatch(/a, b/);
  });
});

describe('CORS for browser clients', () => {
  test('answers (errors too) carry Access-Control-Allow-Origin for an allowed Origin only', async () => {
    const { dir } = await linearGraphModel();
    const service = await serviceFor(dir, { type: 'tensor' }, { modelName: 'linear', corsAllowOrigins: ['https://app.example.com'] });
    const ask = (origin: string, body: unknown) => route(service, {
      method: 'POST', path: '/v1/models/linear:predict', headers: { 'content-type': 'application/json', origin }, body: Buffer.from(JSON.stringify(body)),
    });
    const ok = await ask('https://app.example.com', { instances: [[1, 2, 3]] });
    expect(ok.headers).toMatchObject({ 'Access-Control-Allow-Origin': 'https://app.example.com', 'Vary': 'Origin' });
    const bad = await ask('https://app.example.com', { instances: [[1]] });
    expect(bad.statusCode).toBe(422);
    expect(bad.headers['Access-Control-Allow-Origin']).toBe('https://app.example.com');
    const other = await ask('https://evil.example.com', { instances: [[1, 2, 3]] });
    expect(other.headers['Access-Control-Allow-Origin']).toBeUndefined();
    const noCors = await route(graph, { method: 'GET', path: '/health', headers: { origin: 'https://app.example.com' }, body: Buffer.alloc(0) });
    expect(noCors.headers['Access-Control-Allow-Origin']).toBeUndefined();
  });
});
