// Loads a model once from a local folder and gives the rest of the runtime one shape
// for all formats: named inputs and outputs with dtypes and shapes, and run().
// TF.js graph and layers models load on any backend; SavedModels need libtensorflow.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError } from './errors';
import { isObject } from './guards';
import type { BackendChoice, Tf } from './backend';
import type { ModelFormatSetting } from './config';
import type { DataType, GraphModel, LayersModel, NamedTensorMap, Tensor, io } from '@tensorflow/tfjs';

export type ModelFormat = Exclude<ModelFormatSetting, 'auto'>;

/** One input or output of the model's serving signature. `null` marks a free dimension. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DataType;
  readonly shape: readonly (number | null)[] | null;
}

export interface ServableModel {
  readonly format: ModelFormat;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Runs the model. The caller owns the inputs and the returned outputs, and disposes both. */
  run(inputs: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>>;
  dispose(): void;
}

const CONVERT_HINT = 'Export the model again (tensorflowjs_converter, or model.save() in TF.js) and deploy all of its files.';

/**
 * Reads and checks `dir`/model.json: a ConfigurationError that names the file and what is
 * wrong with it (not JSON, no modelTopology, a bad weightsManifest), never a parser's or
 * TF.js's own TypeError.
 */
export async function readModelJson(dir: string): Promise<io.ModelJSON> {
  const path = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigurationError(`${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(`${path} is not valid JSON (${(err as Error).message}): it is not a TF.js model.json, or it is truncated. ${CONVERT_HINT}`);
  }
  if (!isObject(json)) {
    throw new ConfigurationError(`${path} holds ${Array.isArray(json) ? 'a JSON array' : `JSON ${json === null ? 'null' : typeof json}`}, not a TF.js model.json object. ${CONVERT_HINT}`);
  }
  if (!isObject(json.modelTopology)) {
    throw new ConfigurationError(`${path} has no "modelTopology" object (${json.modelTopology === undefined ? 'the key is missing' : `it is ${json.modelTopology === null ? 'null' : typeof json.modelTopology}`}): it is not a TF.js graph or layers model. ${CONVERT_HINT}`);
  }
  const manifest = json.weightsManifest;
  if (manifest !== undefined && !(Array.isArray(manifest) && manifest.every((g) => isObject(g) && Array.isArray(g.paths) && g.paths.every((p) => typeof p === 'string') && Array.isArray(g.weights)))) {
    throw new ConfigurationError(`${path} has a "weightsManifest" that is not a list of {"paths": [...], "weights": [...]} groups. ${CONVERT_HINT}`);
  }
  return json as unknown as io.ModelJSON;
}

/** Detects the format of the model in `dir` from its files. */
export async function detectFormat(dir: string): Promise<ModelFormat> {
  if (existsSync(join(dir, 'saved_model.pb'))) return 'saved_model';
  const path = join(dir, 'model.json');
  if (!existsSync(path)) throw new ConfigurationError(`No model.json or saved_model.pb in ${dir}.`);
  const json = await readModelJson(dir) as { format?: unknown; modelTopology: Record<string, unknown> };
  if (json.format === 'graph-model' || 'node' in json.modelTopology) return 'graph';
  if (json.format === 'layers-model' || 'class_name' in json.modelTopology || 'model_config' in json.modelTopology) return 'layers';
  throw new ConfigurationError(`${path} is neither a TF.js graph model nor a layers model (its "format" is ${typeof json.format === 'string' ? JSON.stringify(json.format.slice(0, 40)) : String(json.format === undefined ? 'missing' : typeof json.format)}).`);
}

/**
 * An IOHandler that reads model.json and its weight shards from a folder. Plain
 * @tensorflow/tfjs has no file:// handler in Node (tfjs-node adds one), and the wasm
 * backend must load the same files.
 */
export function folderIOHandler(tf: Tf, dir: string): io.IOHandler {
  return {
    load: async () => {
      const modelJson = await readModelJson(dir);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const shards = await Promise.all(manifest.flatMap((group) => group.paths.map((p) => readFile(join(dir, p)))));
        const all = Buffer.concat(shards);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer];
      });
    },
  };
}

export async function loadModel(tf: Tf, dir: string, format: ModelFormatSetting, backend: BackendChoice): Promise<ServableModel> {
  const actual = format === 'auto' ? await detectFormat(dir) : format;
  switch (actual) {
    case 'layers':
      return layersModel(tf, await tf.loadLayersModel(folderIOHandler(tf, dir)));
    case 'graph':
      return graphModel(await tf.loadGraphModel(folderIOHandler(tf, dir)));
    case 'saved_model':
      if (!backend.native) {
        throw new Error(`${dir} is a SavedModel, which needs the native TensorFlow backend (tfjs-node or tfjs-node-gpu), but this process runs on '${backend.name}'. Use the container image (which has libtensorflow), or convert the model with tensorflowjs_converter to a TF.js graph model.`);
      }
      return savedModel(dir, backend);
  }
}

function specOf(name: string, dtype: string | undefined, shape: readonly (number | null | undefined)[] | undefined | null): TensorSpec {
  return {
    name,
    dtype: (dtype ?? 'float32') as DataType,
    shape: shape ? shape.map((d) => (d === undefined || d === null || d < 0 ? null : d)) : null,
  };
}

function layersModel(tf: Tf, model: LayersModel): ServableModel {
  const inputs = model.inputs.map((t, i) => specOf(model.inputNames[i] ?? t.name, t.dtype, t.shape));
  const outputs = model.outputs.map((t, i) => specOf(model.outputNames[i] ?? t.name, t.dtype, t.shape));
  return {
    format: 'layers',
    inputs,
    outputs,
    run: async (named) => {
      const xs = inputs.map((s) => named[s.name]);
      const ys = tf.tidy(() => model.predict(xs.length === 1 ? xs[0] : xs, { batchSize: xs[0].shape[0] || 1 }));
      const list = Array.isArray(ys) ? ys : [ys];
      return Object.fromEntries(outputs.map((s, i) => [s.name, list[i]]));
    },
    dispose: () => model.dispose(),
  };
}

function graphModel(model: GraphModel): ServableModel {
  const inputs = model.inputs.map((t) => specOf(t.name, t.dtype, t.shape));
  const outputs = model.outputs.map((t) => specOf(t.name, t.dtype, t.shape));
  const outputNames = outputs.map((o) => o.name);
  // execute() is synchronous and cheaper; graphs with control flow or dynamic shapes
  // need executeAsync(), which the first such call tells us.
  let needsAsync = false;
  return {
    format: 'graph',
    inputs,
    outputs,
    run: async (named) => {
      let ys: Tensor | Tensor[];
      if (!needsAsync) {
        try {
          ys = model.execute(named as NamedTensorMap, outputNames);
        } catch (err) {
          if (!/executeAsync/.test((err as Error).message)) throw err;
          needsAsync = true;
          ys = await model.executeAsync(named as NamedTensorMap, outputNames);
        }
      } else {
        ys = await model.executeAsync(named as NamedTensorMap, outputNames);
      }
      const list = Array.isArray(ys) ? ys : [ys];
      return Object.fromEntries(outputs.map((s, i) => [s.name, list[i]]));
    },
    dispose: () => model.dispose(),
  };
}

async function savedModel(dir: string, backend: BackendChoice): Promise<ServableModel> {
  const node = (backend.name === 'tensorflow-gpu'
    ? await import('@tensorflow/tfjs-node-gpu')
    : await import('@tensorflow/tfjs-node')).node;
  const metaGraphs = await node.getMetaGraphsFromSavedModel(dir);
  const meta = metaGraphs.find((m) => m.tags.includes('serve')) ?? metaGraphs[0];
  if (!meta) throw new Error(`${dir}/saved_model.pb holds no MetaGraph.`);
  const signatureKey = 'serving_default' in meta.signatureDefs ? 'serving_default' : Object.keys(meta.signatureDefs)[0];
  if (!signatureKey) throw new Error(`${dir}/saved_model.pb has no serving signature: export it with a signature (tf.saved_model.save(model, dir, signatures=...)).`);
  const signature = meta.signatureDefs[signatureKey];
  const model = await node.loadSavedModel(dir, meta.tags, signatureKey);
  const inputs = Object.entries(signature.inputs).map(([name, t]) => specOf(name, t.dtype, t.shape));
  const outputs = Object.entries(signature.outputs).map(([name, t]) => specOf(name, t.dtype, t.shape));
  return {
    format: 'saved_model',
    inputs,
    outputs,
    run: async (named) => {
      const ys = model.predict(named as NamedTensorMap);
      if (ys instanceof Array) return Object.fromEntries(outputs.map((s, i) => [s.name, ys[i]]));
      if (isTensor(ys)) return { [outputs[0].name]: ys };
      return ys;
    },
    dispose: () => model.dispose(),
  };
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'dataSync' in x && 'shape' in x;
}
