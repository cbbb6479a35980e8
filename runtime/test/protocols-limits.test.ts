// Limits a client meets: integers in the range of the datatype sent and of the dtype the
// model declares (64-bit and unsigned ones carried as TF.js's int32 when they fit); the
// warm-up of models with dynamic shapes (shapes from the task, or off); answers over
// Lambda's 6 MB synchronous response limit, refused with a 413 that says what to do.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { constNode, dim, linearGraphModel, serviceFor, writeGraphModel } from './support/models';
import { route } from '../src/routes';
import { parseTaskConfig } from '../src/config';
import { proxyResponseBytes } from '../src/protocols/response-limit';
import { toProxyResponse } from '../src/events';
import type { InferenceService } from '../src/service';

const shape = (...sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });

/** total = ids + small: ids declared DT_INT64 and small DT_UINT8, both [-1, 2]; total declared DT_INT64. */
async function integerModel(): Promise<string> {
  const dir = await writeGraphModel('int-model', [
    { name: 'ids', op: 'Placeholder', attr: { dtype: { type: 'DT_INT64' }, shape: { shape: dim(-1, 2) } } },
    { name: 'small', op: 'Placeholder', attr: { dtype: { type: 'DT_UINT8' }, shape: { shape: dim(-1, 2) } } },
    { name: 'Identity', op: 'AddV2', input: ['ids', 'small'], attr: { T: { type: 'DT_INT32' } } },
  ], []);
  const file = path.join(dir, 'model.json');
  await writeFile(file, JSON.stringify({
    ...JSON.parse(await readFile(file, 'utf8')),
    signature: {
      inputs: { ids: { name: 'ids:0', dtype: 'DT_INT64', tensorShape: shape(-1, 2) }, small: { name: 'small:0', dtype: 'DT_UINT8', tensorShape: shape(-1, 2) } },
      outputs: { total: { name: 'Identity:0', dtype: 'DT_INT64', tensorShape: shape(-1, 2) } },
    },
  }));
  return dir;
}

/** y = reshape(x, [-1, 4]) with x: [-1, -1]: zeros of [1, 1] (free dimensions 1) cannot be reshaped, so the default warm-up fails. */
function reshapeModel(): Promise<string> {
  return writeGraphModel('reshape-model', [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim(-1, -1) } } },
    constNode('target', 'DT_INT32', dim(2)),
    { name: 'y', op: 'Reshape', input: ['x', 'target'], attr: { T: { type: 'DT_FLOAT' }, Tshape: { type: 'DT_INT32' } } },
  ], [{ name: 'target', shape: [2], dtype: 'int32', values: [-1, 4] }]);
}

async function call(service: InferenceService, urlPath: string, body: unknown) {
  const res = await route(service, { method: 'POST', path: urlPath, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) });
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, any>, res }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('integers', () => {
  let ints: InferenceService;
  beforeAll(async () => {
    ints = await serviceFor(await integerModel(), { type: 'tensor' }, { modelName: 'ints' });
  });
  const v2 = (ids: { datatype: string; data: number[] }, small: { datatype: string; data: number[] } = { datatype: 'UINT8', data: [1, 2] }) => call(ints, '/v2/models/ints/infer', {
    inputs: [{ name: 'ids', shape: [1, 2], ...ids }, { name: 'small', shape: [1, 2], ...small }],
  });

  test('metadata says what the model declares: INT64, UINT8', async () => {
    const res = await route(ints, { method: 'GET', path: '/v2/models/ints', headers: {}, body: Buffer.alloc(0) });
    expect(JSON.parse(res.body)).toMatchObject({
      inputs: [{ name: 'ids', datatype: 'INT64', shape: [-1, 2] }, { name: 'small', datatype: 'UINT8', shape: [-1, 2] }],
      outputs: [{ name: 'total', datatype: 'INT64', shape: [-1, 2] }],
    });
  });

  test.each(['INT64', 'UINT32', 'UINT64', 'INT32', 'INT16'])('%s values that fit int32 are served, answered as the declared INT64', async (datatype) => {
    const res = await v2({ datatype, data: [7, 30000] });
    expect(res.status).toBe(200);
    expect(res.json.outputs).toEqual([{ name: 'total', datatype: 'INT64', shape: [1, 2], data: [8, 30002] }]);
  });

  test.each([
    ['INT64 past int32', { datatype: 'INT64', data: [2 ** 31, 0] }, /value 2147483648 at index 0 is out of its range \[-2147483648, 2147483647\] \(INT64 values are carried as int32, which TF\.js computes in\)/],
    ['UINT32 past int32', { datatype: 'UINT32', data: [4294967295, 0] }, /value 4294967295 .*out of its range .*\(UINT32 values are carried as int32/],
    ['INT8 out of its range', { datatype: 'INT8', data: [200, 0] }, /value 200 at index 0 is out of the range of INT8 \[-128, 127\]/],
    ['UINT16 negative', { datatype: 'UINT16', data: [-1, 0] }, /value -1 at index 0 is out of the range of UINT16 \[0, 65535\]/],
    ['INT32 past int32', { datatype: 'INT32', data: [0, -(2 ** 31) - 1] }, /value -2147483649 at index 1 is out of its range/],
    ['a fraction', { datatype: 'INT64', data: [1.5, 0] }, /value 1.5 at index 0 is not an integer/],
  ])('%s: 422', async (_what, ids, message) => {
    const res = await v2(ids);
    expect(res.status).toBe(422);
    expect(res.json.error).toMatch(message);
  });

  test('a value the datatype holds but the declared DT_UINT8 does not: 422 naming the declared dtype', async () => {
    const res = await v2({ datatype: 'INT64', data: [1, 1] }, { datatype: 'INT32', data: [300, 0] });
    expect(res.status).toBe(422);
    expect(res.json.error).toMatch(/Input 'small' .*value 300 at index 0 is out of the range of its declared DT_UINT8 \[0, 255\]/);
  });

  test('binary INT64 and UINT64 past int32 (the largest uint64 too): 422', async () => {
    for (const [datatype, bytes] of [['INT64', Buffer.from(BigInt64Array.from([2n ** 40n, 0n]).buffer)], ['UINT64', Buffer.from(BigUint64Array.from([2n ** 64n - 1n, 0n]).buffer)]] as const) {
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'ids', shape: [1, 2], datatype, parameters: { binary_data_size: 16 } }, { name: 'small', shape: [1, 2], datatype: 'UINT8', data: [0, 0] }] }));
      const res = await route(ints, { method: 'POST', path: '/v2/models/ints/infer', headers: { 'inference-header-content-length': String(header.length) }, body: Buffer.concat([header, bytes]) });
      expect([datatype, res.statusCode]).toEqual([datatype, 422]);
      expect(JSON.parse(res.body).error).toMatch(/out of its range/);
    }
  });

  test('TF Serving: instances keyed by input, in range answered; out of the declared range 422', async () => {
    const ok = await call(ints, '/v1/models/ints:predict', { instances: [{ ids: [1, 2], small: [255, 0] }] });
    expect(ok.json).toEqual({ predictions: [[256, 2]] });
    const bad = await call(ints, '/v1/models/ints:predict', { instances: [{ ids: [1, 2], small: [256, 0] }] });
    expect(bad.status).toBe(422);
    expect(bad.json.error).toMatch(/declared DT_UINT8 \[0, 255\]/);
  });
});

describe('warm-up of a model with dynamic shapes', () => {
  test('the default warm-up failing is an init error that says what to set', async () => {
    const dir = await reshapeModel();
    await expect(serviceFor(dir, { type: 'tensor' })).rejects.toThrow(/warm-up prediction \(zeros: x \[1,1\]; free dimensions set to 1\) failed: .*\{"warmUp":\{"inputs":\{"x":\[1,1\]\}\}\} with the sizes it needs, or turn the warm-up off with \{"warmUp": false\}/s);
  });

  test('a warm-up that fails with every shape given says so, and does not ask for shapes again', async () => {
    // GIVEN warm-up shapes the model cannot take (it reshapes x to [-1, 4])
    const failing = serviceFor(await reshapeModel(), { type: 'tensor', warmUp: { inputs: { x: [1, 3] } } });
    // THEN the init error names the given shape, points at the values or the backend, and at turning it off
    await expect(failing).rejects.toThrow(/warm-up prediction \(zeros: x \[1,3\] \(given\)\) failed: .*Every input's shape is known, so the zeros themselves may be what the model cannot take.*Turn the warm-up off with \{"warmUp": false\}/s);
    await expect(failing).rejects.not.toThrow(/free dimensions set to 1|Give the task the shapes/);
  });

  test('warmUp.inputs gives the shapes; the model then serves', async () => {
    const service = await serviceFor(await reshapeModel(), { type: 'tensor', warmUp: { inputs: { x: [1, 4] } } });
    const res = await call(service, '/v1/models/model:predict', { inputs: [[1, 2, 3, 4, 5, 6, 7, 8]] });
    expect(res.json).toEqual({ outputs: [[1, 2, 3, 4], [5, 6, 7, 8]] });
  });

  test('"warmUp": false loads the model without a prediction; the first request runs it', async () => {
    const service = await serviceFor(await reshapeModel(), { type: 'tensor', warmUp: false });
    expect((await call(service, '/v1/models/model:predict', { inputs: [[1, 2, 3, 4]] })).json).toEqual({ outputs: [[1, 2, 3, 4]] });
  });

  test.each([
    [{ inputs: { nope: [1, 4] } }, /warmUp.inputs names 'nope', which is not an input of this model\. Its inputs: x \[-1,-1\]/],
    [{ inputs: { x: [4] } }, /warmUp.inputs gives 'x' the shape \[4\], but the input takes \[-1,-1\]/],
  ])('warmUp %j that does not fit the model: an init error', async (warmUp, message) => {
    await expect(serviceFor(await reshapeModel(), { type: 'tensor', warmUp })).rejects.toThrow(message);
  });

  test.each([
    ['{"type":"tensor","warmUp":true}', /warmUp must be false \(no warm-up\) or \{"inputs": \{\.\.\.\}\}; got true/],
    ['{"type":"tensor","warmUp":{"inputs":{"x":[0,4]}}}', /warmUp.inputs must map input names to shapes of whole numbers from 1 to 65536/],
    ['{"type":"tensor","warmUp":{"inputs":{"x":[100000,100000]}}}', /at most 100,000,000 values/],
    ['{"type":"tabular","features":["a"],"warmUp":{"inputs":{"x":[1,1]}}}', /warmUp.inputs is for tensor tasks/],
  ])('task %s is refused', (json, message) => {
    expect(() => parseTaskConfig(json, 'SERVERLESS_TF_TASK')).toThrow(message);
  });

  test('"warmUp": false is accepted by every task', () => {
    expect(parseTaskConfig('{"type":"tabular","features":["a"],"warmUp":false}', 'x')).toMatchObject({ warmUp: false });
    expect(parseTaskConfig('{"type":"image-classification","inputSize":224,"warmUp":false}', 'x')).toMatchObject({ warmUp: false });
  });
});

describe('answers over the synchronous response limit', () => {
  let dir: string;
  beforeAll(async () => {
    dir = (await linearGraphModel()).dir;
  });
  const rows = (n: number) => Array.from({ length: n }, (_, i) => [i / 7, 1 / 3, -i / 11]);

  test('the default is Lambda\'s 6 MB, counted as Lambda counts it: the proxy answer\'s JSON', async () => {
    const service = await serviceFor(dir, { type: 'tensor' });
    const res = await call(service, '/v1/models/model:predict', { instances: rows(2) });
    expect(res.status).toBe(200);
    expect(proxyResponseBytes(res.res)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(toProxyResponse(res.res))));
    expect(proxyResponseBytes(res.res)).toBeLessThan(Buffer.byteLength(JSON.stringify(toProxyResponse(res.res))) + 64);
  });

  test('TF Serving: over the limit is a 413 before Lambda would refuse it, saying how to get a smaller answer', async () => {
    const service = await serviceFor(dir, { type: 'tensor' }, { maxResponseBytes: 20_000 });
    expect((await call(service, '/v1/models/model:predict', { instances: rows(100) })).status).toBe(200);
    const res = await call(service, '/v1/models/model:predict', { instances: rows(1000) });
    expect(res.status).toBe(413);
    expect(res.json.error).toMatch(/^The answer is \d+ bytes, over the 20000 bytes this function may answer \(Lambda answers a synchronous invocation of at most 6 MB.*send fewer instances per request/);
  });

  test('KServe V2: the 413 points at binary outputs, which fit where JSON does not', async () => {
    const service = await serviceFor(dir, { type: 'tensor' }, { maxResponseBytes: 20_000 });
    const inputs = [{ name: 'x', shape: [1000, 3], datatype: 'FP32', data: rows(1000).flat() }];
    const json = await call(service, '/v2/models/model/infer', { inputs });
    expect(json.status).toBe(413);
    expect(json.json.error).toMatch(/binary_data_output/);
    const binary = await route(service, { method: 'POST', path: '/v2/models/model/infer', headers: {}, body: Buffer.from(JSON.stringify({ inputs, parameters: { binary_data_output: true } })) });
    expect(binary.statusCode).toBe(200);
    expect(binary.isBase64Encoded).toBe(true);
  });

  test('with jobs on, the 413 points at POST /jobs', async () => {
    const service = await serviceFor(dir, { type: 'tensor' }, {
      maxResponseBytes: 20_000, jobs: { table: 't', bucket: 'b', queueUrl: 'https://sqs.example/q', ttlDays: 7, uploadExpirySeconds: 900 },
    });
    const res = await call(service, '/v1/models/model:predict', { instances: rows(1000) });
    expect(res.json.error).toMatch(/asynchronous job \(POST \/jobs with the same body\)/);
  });
});
