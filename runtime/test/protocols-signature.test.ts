// A graph model's model.json `signature` (what tensorflowjs_converter writes for a
// SavedModel): inputs and outputs go by their signature names, dtypes and shapes in KServe V2
// and TF Serving metadata, requests and answers; TF Serving's GET .../metadata; the V2
// server routes (GET /v2, /v2/health/live and /ready).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { constNode, dim, linearGraphModel, placeholderNode, serviceFor, writeGraphModel } from './support/models';
import { route } from '../src/routes';
import type { InferenceService } from '../src/service';

const W = [[1, -1], [0.5, 2], [-2, 0.25]];
const b = [0.1, -0.2];
const shape = (...sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });

/**
 * scores = features . W + b and positive = scores > 0, with graph names as the converter
 * leaves them (serving_default_features, Identity, Identity_1); `where` puts the signature
 * at model.json's top level or in userDefinedMetadata.
 */
async function signedModel(where: 'signature' | 'userDefinedMetadata'): Promise<string> {
  const dir = await writeGraphModel('signed-model', [
    placeholderNode('serving_default_features', 'DT_FLOAT', dim(-1, 3)),
    constNode('W', 'DT_FLOAT', dim(3, 2)),
    constNode('b', 'DT_FLOAT', dim(2)),
    constNode('zero', 'DT_FLOAT', {}),
    { name: 'MatMul', op: 'MatMul', input: ['serving_default_features', 'W'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'Identity', op: 'AddV2', input: ['MatMul', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
    { name: 'Identity_1', op: 'Greater', input: ['Identity', 'zero'], attr: { T: { type: 'DT_FLOAT' } } },
  ], [
    { name: 'W', shape: [3, 2], dtype: 'float32', values: W.flat() },
    { name: 'b', shape: [2], dtype: 'float32', values: b },
    { name: 'zero', shape: [], dtype: 'float32', values: [0] },
  ]);
  const signature = {
    inputs: { features: { name: 'serving_default_features:0', dtype: 'DT_FLOAT', tensorShape: shape(-1, 3) } },
    outputs: {
      scores: { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: shape(-1, 2) },
      positive: { name: 'Identity_1:0', dtype: 'DT_BOOL', tensorShape: shape(-1, 2) },
    },
  };
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  await writeFile(file, JSON.stringify(where === 'signature' ? { ...json, signature } : { ...json, userDefinedMetadata: { signature } }));
  return dir;
}

let signed: InferenceService;
let metadataSigned: InferenceService;
let unsigned: InferenceService;

beforeAll(async () => {
  signed = await serviceFor(await signedModel('signature'), { type: 'tensor' }, { modelName: 'signed' });
  metadataSigned = await serviceFor(await signedModel('userDefinedMetadata'), { type: 'tensor' }, { modelName: 'signed' });
  unsigned = await serviceFor((await linearGraphModel()).dir, { type: 'tensor' }, { modelName: 'linear' });
});

async function call(service: InferenceService, method: string, urlPath: string, body?: unknown) {
  const res = await route(service, { method, path: urlPath, headers: { 'content-type': 'application/json' }, body: Buffer.from(body === undefined ? '' : JSON.stringify(body)) });
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const scores = (x: number[]) => [0, 1].map((j) => x.reduce((s, xi, i) => s + xi * W[i][j], 0) + b[j]);

describe.each([['model.json signature', () => signed], ['userDefinedMetadata.signature', () => metadataSigned]])('a graph model with a %s', (_where, service) => {
  test('its specs are the signature\'s names, dtypes and shapes', () => {
    expect(service().model.inputs).toEqual([{ name: 'features', dtype: 'float32', shape: [null, 3], tfDtype: 'DT_FLOAT', tensorName: 'serving_default_features:0' }]);
    expect(service().model.outputs.map((o) => [o.name, o.dtype, o.shape])).toEqual([['scores', 'float32', [null, 2]], ['positive', 'bool', [null, 2]]]);
  });

  test('KServe V2 metadata advertises the signature names, real datatypes and shapes', async () => {
    const meta = await call(service(), 'GET', '/v2/models/signed');
    expect(meta.json).toEqual({
      name: 'signed', versions: ['1'], platform: 'tensorflowjs_graph',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, 2] }, { name: 'positive', datatype: 'BOOL', shape: [-1, 2] }],
    });
  });

  test('TF Serving predict: instances answered keyed by signature names, booleans as true/false', async () => {
    const res = await call(service(), 'POST', '/v1/models/signed:predict', { instances: [[1, 2, 3], [0, 0, 1]] });
    expect(res.status).toBe(200);
    const [first, second] = res.json.predictions as { scores: number[]; positive: boolean[] }[];
    expect(first.positive).toEqual(scores([1, 2, 3]).map((v) => v > 0));
    expect(second.positive).toEqual(scores([0, 0, 1]).map((v) => v > 0));
    scores([1, 2, 3]).forEach((v, j) => expect(first.scores[j]).toBeCloseTo(v, 5));
  });

  test('TF Serving columnar inputs keyed by the signature name (or the graph tensor\'s) answer outputs by signature name', async () => {
    for (const key of ['features', 'serving_default_features:0']) {
      const res = await call(service(), 'POST', '/v1/models/signed:predict', { inputs: { [key]: [[1, 2, 3]] } });
      expect(res.status).toBe(200);
      expect(Object.keys(res.json.outputs)).toEqual(['scores', 'positive']);
    }
  });

  test('KServe V2 infer by signature names; one requested output; BOOL as true/false', async () => {
    const res = await call(service(), 'POST', '/v2/models/signed/infer', {
      inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }], outputs: [{ name: 'positive' }],
    });
    expect(res.status).toBe(200);
    expect(res.json.outputs).toEqual([{ name: 'positive', datatype: 'BOOL', shape: [1, 2], data: scores([1, 2, 3]).map((v) => v > 0) }]);
  });
});

describe('TF Serving GET /v1/models/{name}/metadata', () => {
  test('model_spec and the serving_default signature_def, as TF Serving answers them', async () => {
    for (const urlPath of ['/v1/models/signed/metadata', '/v1/models/signed/versions/1/metadata']) {
      const res = await call(signed, 'GET', urlPath);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        model_spec: { name: 'signed', signature_name: '', version: '1' },
        metadata: {
          signature_def: {
            signature_def: {
              serving_default: {
                inputs: { features: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '3', name: '' }], unknown_rank: false }, name: 'serving_default_features:0' } },
                outputs: {
                  scores: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '2', name: '' }], unknown_rank: false }, name: 'Identity:0' },
                  positive: { dtype: 'DT_BOOL', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '2', name: '' }], unknown_rank: false }, name: 'Identity_1:0' },
                },
                method_name: 'tensorflow/serving/predict',
              },
            },
          },
        },
      });
    }
  });

  test('a model without a signature: output dtype and shape as the warm-up showed them (-1 where the batch went)', async () => {
    const res = await call(unsigned, 'GET', '/v1/models/linear/metadata');
    expect(res.json.metadata.signature_def.signature_def.serving_default.outputs).toEqual({
      y: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '2', name: '' }], unknown_rank: false }, name: 'y:0' },
    });
    const v2 = await call(unsigned, 'GET', '/v2/models/linear');
    expect(v2.json.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 2] }]);
  });

  test('another model name is TF Serving\'s 404; another version is no route', async () => {
    expect((await call(signed, 'GET', '/v1/models/other/metadata')).json.error).toMatch(/Servable not found for request: Latest\(other\)/);
    expect((await call(signed, 'GET', '/v1/models/signed/versions/2/metadata')).status).toBe(404);
  });
});

describe('KServe V2 server routes', () => {
  test('GET /v2: the server\'s name, version and extensions, binary_tensor_data among them', async () => {
    const res = await call(signed, 'GET', '/v2');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ name: 'cdk-serverless-tensorflow', version: expect.stringMatching(/^\d+\.\d+\.\d+/), extensions: ['binary_tensor_data'] });
  });

  test('GET /v2/health/live and /ready answer {"live": true} and {"ready": true} (as KServe\'s and Triton\'s clients read them)', async () => {
    expect((await call(signed, 'GET', '/v2/health/live')).json).toMatchObject({ live: true });
    expect((await call(signed, 'GET', '/v2/health/ready')).json).toMatchObject({ ready: true });
    expect((await call(signed, 'GET', '/v2/models/signed/ready')).json).toEqual({ name: 'signed', ready: true });
  });

  test('/health and TF Serving\'s status answer as before', async () => {
    expect((await call(signed, 'GET', '/health')).json).toEqual({ status: 'ok', model: 'signed', backend: 'wasm', format: 'graph', task: 'tensor' });
    expect((await call(signed, 'GET', '/v1/models/signed')).json.model_version_status[0].state).toBe('AVAILABLE');
  });
});
