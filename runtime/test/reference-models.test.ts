// The demo model as a TensorFlow user has it, written by Python TensorFlow 2.15 itself
// (scripts/reference-models.mjs): a SavedModel loaded natively on the tensorflow backend, and
// the TF.js models tensorflowjs_converter makes of the SavedModel and the Keras .h5 file for
// the wasm backend (what `cdk synth` does for Compute.zip()). All of them answer as the TF.js
// layers model does, and as Python TF does for the same photographs (runtime/samples, CC0 and
// public domain, see their README). Each backend runs the Lambda bundle in its own process.
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { DEMO_MODEL_DIR, RUNTIME_DIR, demoTask, sample } from './support/models';
import { apiGatewayV2Event } from './support/events';
import { BundleInitError, referenceModels, pythonReference, requireNativeBackend, runBundle } from './support/reference-models';
import type { Backend, BundleRun, PythonReference, ReferenceModels } from './support/reference-models';
import { validateTaskConfig } from '../src/config';
import type { TaskConfig } from '../src/task-config';

interface LabelScore {
  label: string;
  score: number;
}

/** Two exports of the same weights on TF.js backends: float32 round-off only. */
const SAME_MODEL_TOLERANCE = 1e-4;
/** Ours against Python TF: other JPEG/PNG decoders (sharp's libvips against TF's libjpeg) and kernels. */
const PYTHON_TOLERANCE = 1e-3;

let models: ReferenceModels;
let reference: PythonReference;
let photos: string[];
let task: TaskConfig;
/** The demo task decoding as TF does: the stored pixels, an embedded ICC profile ignored. */
let tfDecodeTask: TaskConfig;
/** That, with TF2's resize (tf.image.resize: half-pixel centres) instead of aligned corners. */
let halfPixelTask: TaskConfig;
let events: unknown[];

/** Per photo, the probability of every label, in the labels' order. */
function probabilities(run: BundleRun, labels: readonly string[]): number[][] {
  expect(run.answers.filter((a) => 'thrown' in a)).toEqual([]);
  return run.answers.slice(0, photos.length).map((a) => {
    const [top] = (a.ok as { predictions: LabelScore[][] }).predictions;
    const byLabel = new Map(top.map((p) => [p.label, p.score]));
    expect([...byLabel.keys()].sort()).toEqual([...labels].sort());
    return labels.map((l) => byLabel.get(l)!);
  });
}

/** The largest absolute difference of any probability, after checking every top-1 label agrees. */
function expectAgreement(ours: number[][], theirs: number[][], labels: readonly string[], tolerance: number, what: string): number {
  let worst = 0;
  photos.forEach((photo, i) => {
    const top1 = (p: number[]) => labels[p.indexOf(Math.max(...p))];
    expect({ what, photo, top1: top1(ours[i]) }).toEqual({ what, photo, top1: top1(theirs[i]) });
    for (const [j, label] of labels.entries()) {
      const difference = Math.abs(ours[i][j] - theirs[i][j]);
      worst = Math.max(worst, difference);
      expect({ what, photo, label, withinTolerance: difference <= tolerance, difference }).toEqual({ what, photo, label, withinTolerance: true, difference });
    }
  });
  return worst;
}

function expectNoLeak(run: BundleRun): void {
  expect({ backend: run.backend, numTensors: run.numTensors.after }).toEqual({ backend: run.backend, numTensors: run.numTensors.before });
}

function loaded(run: BundleRun): Record<string, unknown> | undefined {
  return run.logs.find((l) => l.message === 'Model loaded and warmed');
}

beforeAll(async () => {
  models = referenceModels();
  reference = pythonReference(models);
  photos = readdirSync(path.join(RUNTIME_DIR, 'samples')).filter((f) => /\.(jpe?g|png)$/.test(f)).sort();
  expect(Object.keys(reference.variants.alignCorners).sort()).toEqual(photos);
  task = await demoTask();
  tfDecodeTask = { ...task, ignoreIccProfile: true } as TaskConfig;
  halfPixelTask = { ...tfDecodeTask, alignCorners: false, halfPixelCenters: true } as TaskConfig;
  events = await Promise.all(photos.map(async (name) => ({ instances: [{ b64: (await sample(name)).toString('base64') }] })));
}, 15 * 60_000);

describe('a SavedModel exported by Keras (model.export), on the tensorflow backend', () => {
  let layers: BundleRun;
  let saved: BundleRun;

  beforeAll(async () => {
    requireNativeBackend();
    const metadata = apiGatewayV2Event({ method: 'GET', path: '/v2/models/model' });
    [layers, saved] = await Promise.all([
      runBundle('tensorflow', DEMO_MODEL_DIR, task, events),
      runBundle('tensorflow', models.savedModel, task, [...events, metadata]),
    ]);
  }, 180_000);

  test('loads through tfjs-node as a SavedModel (format detected from saved_model.pb)', () => {
    expect(saved.backend).toBe('tensorflow');
    expect(loaded(saved)).toMatchObject({ backend: 'tensorflow', format: 'saved_model' });
  });

  test('every photo: the same top-1 label and every probability within 1e-4 of the TF.js layers model', () => {
    expectAgreement(probabilities(saved, reference.labels), probabilities(layers, reference.labels), reference.labels, SAME_MODEL_TOLERANCE, 'SavedModel vs layers model on tensorflow');
  });

  test('the KServe V2 metadata names the serving signature\'s input and output', () => {
    const answer = saved.answers[photos.length].ok as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(200);
    const body = JSON.parse(answer.body) as { inputs: unknown[]; outputs: unknown[] };
    expect(body.inputs).toEqual([expect.objectContaining({ name: 'input_1', datatype: 'FP32', shape: [-1, 224, 224, 3] })]);
    expect(body.outputs).toEqual([expect.objectContaining({ name: 'output_0', datatype: 'FP32', shape: [-1, 5] })]);
  });

  test('no request leaves a tensor behind', () => {
    expectNoLeak(saved);
  });
});

describe('a SavedModel on the wasm backend', () => {
  test('init fails and says the SavedModel needs the native backend, and how to convert it', async () => {
    const init = runBundle('wasm', models.savedModel, task, events.slice(0, 1));
    await expect(init).rejects.toThrow(BundleInitError);
    const error = await init.catch((err: BundleInitError) => err);
    const critical = (error as BundleInitError).logs.find((l) => l.message?.toString().startsWith('Init failed'));
    expect(critical?.message).toEqual(expect.stringMatching(/^Init failed/));
    expect(JSON.stringify(critical)).toMatch(/is a SavedModel, which needs the native TensorFlow backend \(tfjs-node or tfjs-node-gpu\), but this process runs on 'wasm'.*tensorflowjs_converter/);
  }, 120_000);
});

describe('Python TensorFlow as the reference: tf.keras on the same photographs', () => {
  const runs: Partial<Record<string, BundleRun>> = {};
  const measured: Record<string, number> = {};

  beforeAll(async () => {
    requireNativeBackend();
    const jobs: [string, Backend, string, TaskConfig][] = [
      ['layers model on wasm', 'wasm', DEMO_MODEL_DIR, tfDecodeTask],
      ['layers model on tensorflow', 'tensorflow', DEMO_MODEL_DIR, tfDecodeTask],
      ['SavedModel on tensorflow', 'tensorflow', models.savedModel, tfDecodeTask],
      ['converted .h5 (layers) on wasm', 'wasm', models.tfjsFromH5, tfDecodeTask],
      ['converted SavedModel (graph) on wasm', 'wasm', models.tfjsFromSavedModel, tfDecodeTask],
      ['layers model on wasm, TF2 resize', 'wasm', DEMO_MODEL_DIR, halfPixelTask],
      ['SavedModel on tensorflow, TF2 resize', 'tensorflow', models.savedModel, halfPixelTask],
      ['layers model on wasm, ICC profiles applied', 'wasm', DEMO_MODEL_DIR, task],
    ];
    // Two at a time: one per core.
    for (let i = 0; i < jobs.length; i += 2) {
      const batch = jobs.slice(i, i + 2);
      const done = await Promise.all(batch.map(([, backend, dir, t]) => runBundle(backend, dir, t, events)));
      batch.forEach(([name], j) => { runs[name] = done[j]; });
    }
  }, 10 * 60_000);

  afterAll(() => {
    // The figures the README and the report quote.
    process.stdout.write(`max |ours - Python TF| per run: ${JSON.stringify(measured)}\n`);
  });

  test.each([
    ['layers model on wasm', 'alignCorners'],
    ['layers model on tensorflow', 'alignCorners'],
    ['SavedModel on tensorflow', 'alignCorners'],
    ['converted .h5 (layers) on wasm', 'alignCorners'],
    ['converted SavedModel (graph) on wasm', 'alignCorners'],
    ['layers model on wasm, TF2 resize', 'halfPixelCenters'],
    ['SavedModel on tensorflow, TF2 resize', 'halfPixelCenters'],
  ] as const)('%s: the same top-1 as Python TF on every photo, every probability within 1e-3', (name, variant) => {
    const run = runs[name]!;
    expect(run.backend).toBe(name.includes('on wasm') ? 'wasm' : 'tensorflow');
    const python = photos.map((p) => reference.variants[variant][p].probabilities);
    measured[name] = expectAgreement(probabilities(run, reference.labels), python, reference.labels, PYTHON_TOLERANCE, `${name} vs Python TF ${reference.tensorflow}`);
    expectNoLeak(run);
  });

  test('without ignoreIccProfile, the Adobe RGB photo (rocket.jpg) is converted to sRGB first and differs from TF, which ignores the profile; the sRGB ones do not', () => {
    const run = runs['layers model on wasm, ICC profiles applied']!;
    const ours = probabilities(run, reference.labels);
    const tfDecoded = probabilities(runs['layers model on wasm']!, reference.labels);
    const worst = (i: number) => Math.max(...ours[i].map((p, j) => Math.abs(p - tfDecoded[i][j])));
    photos.forEach((photo, i) => {
      expect({ photo, differs: worst(i) > PYTHON_TOLERANCE }).toEqual({ photo, differs: photo === 'rocket.jpg' });
    });
    measured['rocket.jpg, ICC profile applied vs ignored'] = worst(photos.indexOf('rocket.jpg'));
  });

  test('the converted models load as the formats synth makes: a layers model from the .h5, a graph model from the SavedModel', () => {
    expect(loaded(runs['converted .h5 (layers) on wasm']!)).toMatchObject({ format: 'layers' });
    expect(loaded(runs['converted SavedModel (graph) on wasm']!)).toMatchObject({ format: 'graph' });
  });
});

describe('ignoreIccProfile in the task config', () => {
  test('true or false is taken; anything else is a configuration error that names the key', async () => {
    const demo = await demoTask();
    expect(validateTaskConfig({ ...demo, ignoreIccProfile: true }, 'SERVERLESS_TF_TASK')).toMatchObject({ ignoreIccProfile: true });
    expect(() => validateTaskConfig({ ...demo, ignoreIccProfile: 'yes' }, 'SERVERLESS_TF_TASK')).toThrow(/SERVERLESS_TF_TASK\.ignoreIccProfile must be true or false; got "yes"/);
  });
});
