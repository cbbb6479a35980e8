// The native TensorFlow backend (tfjs-node, built by scripts/native-backend.mjs against the
// libtensorflow of the tensorflow-cpu wheel) against wasm: the same models give the same
// answers. A process has one backend, so each backend runs in its own child process: the
// Lambda bundle with SERVERLESS_TF_BACKEND set, invoked directly with the same events
// (test/support/bundle-child.ts).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { requireNativeBackend, runBundle } from './support/bundle-child';
import type { Backend, BundleRun } from './support/bundle-child';
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, RUNTIME_DIR, demoTask, irisData, linearGraphModel, sample, trainIrisModel } from './support/models';
import type { TaskConfig } from '../src/task-config';

interface LabelScore {
  label: string;
  score: number;
}

const SCORE_TOLERANCE = 1e-4;

/**
 * The same events on both backends, at the same time (two processes). Without the native
 * backend every test fails, and says how to install it: a skipped comparison would pass CI.
 */
async function onBothBackends(modelDir: string, task: TaskConfig, events: unknown[], extraEnv: Record<string, string> = {}): Promise<Record<Backend, BundleRun>> {
  requireNativeBackend();
  const [wasm, tensorflow] = await Promise.all([runBundle('wasm', modelDir, task, events, extraEnv), runBundle('tensorflow', modelDir, task, events, extraEnv)]);
  return { wasm, tensorflow };
}

function answers(run: BundleRun): unknown[] {
  expect(run.answers.filter((a) => 'thrown' in a)).toEqual([]);
  return run.answers.map((a) => a.ok);
}

/** Top-1 equal, and every label's score within SCORE_TOLERANCE. */
function expectSameRanking(tensorflow: LabelScore[], wasm: LabelScore[], what: string): void {
  expect({ what, top1: tensorflow[0].label }).toEqual({ what, top1: wasm[0].label });
  const wasmScores = new Map(wasm.map((p) => [p.label, p.score]));
  expect(tensorflow.map((p) => p.label).sort()).toEqual([...wasmScores.keys()].sort());
  for (const { label, score } of tensorflow) {
    const difference = Math.abs(score - wasmScores.get(label)!);
    expect({ what, label, withinTolerance: difference <= SCORE_TOLERANCE, difference }).toEqual({ what, label, withinTolerance: true, difference });
  }
}

function expectNoLeak(run: BundleRun): void {
  expect({ backend: run.backend, numTensors: run.numTensors.after }).toEqual({ backend: run.backend, numTensors: run.numTensors.before });
}

describe('the demo MobileNetV2 classifying the sample photos', () => {
  let runs: Record<Backend, BundleRun>;
  let photos: string[];

  beforeAll(async () => {
    photos = readdirSync(path.join(RUNTIME_DIR, 'samples')).filter((f) => /\.(jpe?g|png)$/.test(f)).sort();
    const instances = await Promise.all(photos.map(async (name) => ({ b64: (await sample(name)).toString('base64') })));
    // One photo per event, then all of them in one batched model call.
    runs = await onBothBackends(DEMO_MODEL_DIR, await demoTask(), [...instances.map((b64) => ({ instances: [b64] })), { instances }]);
  }, 120_000);

  test('SERVERLESS_TF_BACKEND=tensorflow makes the backend module choose tfjs-node, and tfjs runs on it', () => {
    expect(runs.tensorflow.backend).toBe('tensorflow');
    expect(runs.wasm.backend).toBe('wasm');
    const chosen = runs.tensorflow.logs.filter((l) => l.message === 'TensorFlow backend chosen');
    expect(chosen).toHaveLength(1);
    expect(chosen[0]).toMatchObject({ name: 'tensorflow', native: true, reason: 'forced by SERVERLESS_TF_BACKEND' });
    expect(runs.tensorflow.logs.find((l) => l.message === 'Model loaded and warmed')).toMatchObject({ backend: 'tensorflow', format: 'layers' });
  });

  test('every photo: the same top-1 label as wasm and every score within 1e-4', () => {
    const single = (run: BundleRun) => answers(run).slice(0, photos.length).map((a) => (a as { predictions: LabelScore[][] }).predictions[0]);
    const [tensorflow, wasm] = [single(runs.tensorflow), single(runs.wasm)];
    expect(tensorflow).toHaveLength(photos.length);
    photos.forEach((name, i) => expectSameRanking(tensorflow[i], wasm[i], name));
    // The labels other tests know these photos by.
    expect(tensorflow[photos.indexOf('chelsea.png')][0].label).toBe('Neutral');
    expect(tensorflow[photos.indexOf('rocket.jpg')][0].label).toBe('Drawing');
  });

  test('all photos in one request: the batched call agrees with wasm too', () => {
    const batched = (run: BundleRun) => (answers(run)[photos.length] as { predictions: LabelScore[][] }).predictions;
    const [tensorflow, wasm] = [batched(runs.tensorflow), batched(runs.wasm)];
    expect(tensorflow).toHaveLength(photos.length);
    photos.forEach((name, i) => expectSameRanking(tensorflow[i], wasm[i], `${name} in the batch`));
  });

  test('no request leaves a tensor behind, on either backend', () => {
    expectNoLeak(runs.tensorflow);
    expectNoLeak(runs.wasm);
  });
});

describe('request coalescing (auto: on for tensorflow, off on wasm) with concurrent requests', () => {
  let runs: Record<Backend, BundleRun>;
  let photos: string[];

  beforeAll(async () => {
    photos = readdirSync(path.join(RUNTIME_DIR, 'samples')).filter((f) => /\.(jpe?g|png)$/.test(f)).sort();
    const singles = await Promise.all(photos.map(async (name) => ({ instances: [{ b64: (await sample(name)).toString('base64') }] })));
    // Each photo alone, then all of them at once; metrics on, so that each model call's rows
    // (the BatchSize metric) are in the output as embedded metric lines.
    runs = await onBothBackends(DEMO_MODEL_DIR, await demoTask(), [...singles, { '@concurrent': singles }], { POWERTOOLS_METRICS_DISABLED: 'false' });
  }, 120_000);

  const rowsPerCall = (run: BundleRun) => run.logs.filter((l) => typeof l.BatchSize === 'number').map((l) => l.BatchSize as number);

  test('on tensorflow, concurrent requests share model calls; on wasm each has its own', () => {
    const calls = photos.length; // the singles, one call each, before the concurrent ones
    expect(rowsPerCall(runs.tensorflow).slice(0, calls)).toEqual(photos.map(() => 1));
    expect(Math.max(...rowsPerCall(runs.tensorflow).slice(calls))).toBeGreaterThan(1);
    expect(rowsPerCall(runs.wasm)).toEqual([...photos, ...photos].map(() => 1));
  });

  test('a coalesced answer is the answer of the request alone, and agrees with wasm', () => {
    const alone = (run: BundleRun) => answers(run).slice(0, photos.length).map((a) => (a as { predictions: LabelScore[][] }).predictions[0]);
    const together = (run: BundleRun) => (answers(run)[photos.length] as { ok?: { predictions: LabelScore[][] }; thrown?: string }[])
      .map((a) => { expect(a.thrown).toBeUndefined(); return a.ok!.predictions[0]; });
    photos.forEach((name, i) => {
      expectSameRanking(together(runs.tensorflow)[i], alone(runs.tensorflow)[i], `${name} coalesced vs alone`);
      expectSameRanking(together(runs.tensorflow)[i], together(runs.wasm)[i], `${name} coalesced vs wasm`);
    });
    expectNoLeak(runs.tensorflow);
  });
});

describe('a TF.js graph model (tensor task): y = x . W + b', () => {
  const X = [[1, 2, 3], [-1, 0.5, 4], [0, 0, 0], [10, -20, 0.125]];
  let runs: Record<Backend, BundleRun>;
  let expected: number[][];

  beforeAll(async () => {
    const { dir, W, b } = await linearGraphModel();
    expected = X.map((x) => b.map((bj, j) => x.reduce((sum, xi, i) => sum + xi * W[i][j], bj)));
    runs = await onBothBackends(dir, { type: 'tensor' }, [{ instances: X }, { instances: [X[1]] }]);
  }, 120_000);

  test('tensorflow runs the graph and agrees with wasm and with the arithmetic', () => {
    expect(runs.tensorflow.backend).toBe('tensorflow');
    const [tensorflow, wasm] = [answers(runs.tensorflow), answers(runs.wasm)] as { predictions: number[][] }[][];
    expect(tensorflow[0].predictions).toHaveLength(X.length);
    tensorflow[0].predictions.forEach((row, i) => row.forEach((y, j) => {
      const where = `y[${i}][${j}]`;
      expect({ where, fromWasm: Math.abs(y - wasm[0].predictions[i][j]) <= SCORE_TOLERANCE }).toEqual({ where, fromWasm: true });
      expect({ where, fromArithmetic: Math.abs(y - expected[i][j]) <= SCORE_TOLERANCE }).toEqual({ where, fromArithmetic: true });
    }));
    expect(tensorflow[1].predictions).toEqual([tensorflow[0].predictions[1]]);
  });

  test('no request leaves a tensor behind, on either backend', () => {
    expectNoLeak(runs.tensorflow);
    expectNoLeak(runs.wasm);
  });
});

describe('a tabular classifier trained on the Iris data', () => {
  let runs: Record<Backend, BundleRun>;
  let rows: number[][];

  beforeAll(async () => {
    const dir = await trainIrisModel();
    rows = irisData().rows;
    const records = rows.map((r) => Object.fromEntries(IRIS_FEATURES.map((f, i) => [f, r[i]])));
    const task: TaskConfig = { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] };
    runs = await onBothBackends(dir, task, [{ instances: records }, { instances: [rows[0]] }]);
  }, 120_000);

  test('all 150 rows: the same top-1 class as wasm and every probability within 1e-4', () => {
    expect(runs.tensorflow.backend).toBe('tensorflow');
    const [tensorflow, wasm] = [answers(runs.tensorflow), answers(runs.wasm)] as { predictions: LabelScore[][] }[][];
    expect(tensorflow[0].predictions).toHaveLength(rows.length);
    tensorflow[0].predictions.forEach((p, i) => expectSameRanking(p, wasm[0].predictions[i], `row ${i}`));
    expect(tensorflow[1].predictions[0][0].label).toBe('setosa');
  });

  test('no request leaves a tensor behind, on either backend', () => {
    expectNoLeak(runs.tensorflow);
    expectNoLeak(runs.wasm);
  });
});
