// Loads a model once from a local folder and gives the rest of the runtime one shape
// for all formats: named inputs and outputs with dtypes and shapes, and run().
// TF.js graph and layers models load on any backend; SavedModels need libtensorflow.
import { existsSync } from 'node:fs';
import { readFile, readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { ENV } from './constants';
import { ConfigurationError } from './errors';
import { isObject } from './guards';
import { specsFromSignature } from './protocols/tf-signature';
import type { BackendChoice, Tf } from './backend';
import type { ModelFormatSetting } from './config';
import type { DataType, GraphModel, LayersModel, NamedTensorMap, Tensor, io } from '@tensorflow/tfjs';

export type ModelFormat = Exclude<ModelFormatSetting, 'auto'>;

/** One input or output of the model's serving signature. `null` marks a free dimension. */
export interface TensorSpec {
  /** The signature name when the model has a signature (model.json `signature`), else the graph's or layer's name. */
  readonly name: string;
  /** The dtype TF.js computes in. */
  readonly dtype: DataType;
  readonly shape: readonly (number | null)[] | null;
  /** The TensorFlow dtype the model declares (DT_INT64, DT_UINT8, DT_HALF...), when its signature says. */
  readonly tfDtype?: string;
  /** The graph tensor the name stands for (`serving_default_x:0`), when the signature says. */
  readonly tensorName?: string;
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

/** The TF.js model file of a folder unless SERVERLESS_TF_MODEL_FILE names another. */
export const DEFAULT_MODEL_FILE = 'model.json';

/** How a TF.js weights manifest file is named (face-api.js: `tiny_face_detector_model-weights_manifest.json`). */
const WEIGHTS_MANIFEST_FILE = /(^|[-_])weights_manifest\.json$/i;

/**
 * What a weights manifest alone is, and what to do instead: the error for a folder (or a
 * SERVERLESS_TF_MODEL_FILE) that has one where a model file should be.
 */
function weightsManifestOnly(what: string): ConfigurationError {
  return new ConfigurationError(`${what}: a TF.js weights manifest lists weight shards but has no "modelTopology", the network that uses them. `
    + 'Libraries such as face-api.js (and @vladmandic/face-api) ship their networks this way: the network is built in their JavaScript code and only its weights are in files, so there is no model here to serve. '
    + 'Serve a TF.js model file that has its topology: convert the original model with tensorflowjs_converter (a graph model), or build the network with that library and save it with model.save() (a layers model); then point the model at that folder (or at its .json file).');
}

/**
 * Reads and checks `dir`/`file` (model.json unless SERVERLESS_TF_MODEL_FILE names another): a
 * ConfigurationError that names the file and what is wrong with it (not JSON, a weights
 * manifest, no modelTopology, a bad weightsManifest), never a parser's or TF.js's own TypeError.
 */
export async function readModelJson(dir: string, file: string = DEFAULT_MODEL_FILE): Promise<io.ModelJSON> {
  const path = join(dir, file);
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
  if (Array.isArray(json) && json.length > 0 && json.every((g) => isObject(g) && Array.isArray(g.paths) && Array.isArray(g.weights))) {
    throw weightsManifestOnly(`${path} is a weights manifest, not a model file`);
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
  for (const [index, group] of (manifest as io.WeightsManifestConfig | undefined ?? []).entries()) {
    for (const weightPath of group.paths) {
      if (!isInsideFolder(weightPath)) {
        throw new ConfigurationError(`${path} lists the weight file ${JSON.stringify(weightPath)} (weightsManifest group ${index + 1}), which is outside the model folder: weight paths must be relative paths inside ${dir}, without "..".`);
      }
    }
  }
  return json as unknown as io.ModelJSON;
}

/** A weights path that stays in its folder by its spelling: relative, no '..' segment, no NUL. */
function isInsideFolder(weightPath: string): boolean {
  return weightPath !== '' && !weightPath.includes('\0') && !isAbsolute(weightPath) && !weightPath.startsWith('\\')
    && !weightPath.split(/[\\/]/).includes('..');
}

/** Detects the format of the model in `dir` from its files (`file`: the model file SERVERLESS_TF_MODEL_FILE names). */
export async function detectFormat(dir: string, file?: string): Promise<ModelFormat> {
  if (file === undefined && existsSync(join(dir, 'saved_model.pb'))) return 'saved_model';
  const path = join(dir, file ?? DEFAULT_MODEL_FILE);
  if (!existsSync(path)) throw await missingModelFileError(dir, file);
  const json = await readModelJson(dir, file) as { format?: unknown; modelTopology: Record<string, unknown> };
  if (json.format === 'graph-model' || 'node' in json.modelTopology) return 'graph';
  if (json.format === 'layers-model' || 'class_name' in json.modelTopology || 'model_config' in json.modelTopology) return 'layers';
  throw new ConfigurationError(`${path} is neither a TF.js graph model nor a layers model (its "format" is ${typeof json.format === 'string' ? JSON.stringify(json.format.slice(0, 40)) : String(json.format === undefined ? 'missing' : typeof json.format)}).`);
}

/**
 * The error for a model folder without its model file: what the folder holds instead, and
 * what to set. `where` names the folder in the message (an S3 model's URI, not its cache);
 * `fileNames`: the folder's file names when they are not on disk (an S3 listing).
 */
export async function missingModelFileError(dir: string, file: string | undefined, where: string = dir, fileNames?: readonly string[]): Promise<ConfigurationError> {
  const names = (fileNames ?? await readdir(dir).catch(() => [] as string[])).filter((n) => /\.json$/i.test(n)).sort();
  const manifests = names.filter((n) => WEIGHTS_MANIFEST_FILE.test(n));
  const others = names.filter((n) => !WEIGHTS_MANIFEST_FILE.test(n));
  const listed = (list: string[]) => `${list.slice(0, 8).join(', ')}${list.length > 8 ? `, and ${list.length - 8} more` : ''}`;
  if (file !== undefined) {
    return new ConfigurationError(`${ENV.MODEL_FILE} names ${file}, but ${where} has no such file${names.length ? ` (its .json files: ${listed(names)})` : ''}. Set it to the name of the model file in that folder.`);
  }
  if (others.length > 0) {
    return new ConfigurationError(`No model.json or saved_model.pb in ${where}, but it holds ${listed(others)}: if one of them is the TF.js model, name it in ${ENV.MODEL_FILE} (e.g. ${others[0]}), or give its path to Model.fromAsset or to serverless-tf serve --model.`);
  }
  if (manifests.length > 0) {
    return weightsManifestOnly(`${where} holds only weights manifests (${listed(manifests)}), no model.json or saved_model.pb`);
  }
  return new ConfigurationError(`No model.json or saved_model.pb in ${where}. Point the model at the folder that holds them.`);
}

/**
 * An IOHandler that reads model.json (or the model file `file`) and its weight shards from a folder. Plain
 * @tensorflow/tfjs has no file:// handler in Node (tfjs-node adds one), and the wasm
 * backend must load the same files.
 *
 * TF.js decodes the shards as one run of bytes, weight after weight: a shard with bytes
 * too many or too few would shift every later weight and serve wrong answers without an
 * error. So each group's shards must hold exactly the bytes its weights take, and each
 * shard must be a file inside the folder (a symbolic link out of it is refused too).
 */
export function folderIOHandler(tf: Tf, dir: string, file: string = DEFAULT_MODEL_FILE): io.IOHandler {
  return {
    load: async () => {
      const modelJson = await readModelJson(dir, file);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const root = await realpath(dir);
        const groups = await Promise.all(manifest.map((group, index) => readWeightGroup(root, dir, group, index, file)));
        const specs = manifest.flatMap((group) => group.weights);
        const all = Buffer.concat(groups);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer];
      });
    },
  };
}

/**
 * Bytes per value by dtype, as TF.js reads weights (DTYPE_VALUE_SIZE_MAP in
 * tfjs-core/src/io/types.ts, which it does not export). A quantized weight's values take
 * the size of its quantization dtype.
 */
const BYTES_PER_VALUE: Readonly<Record<string, number>> = {
  float32: 4, float16: 2, int32: 4, uint16: 2, uint8: 1, bool: 1, complex64: 8,
};

/** String weights: each value is a uint32 byte length, then that many bytes (tfjs-core io_utils). */
const STRING_LENGTH_BYTES = 4;

async function readWeightGroup(root: string, dir: string, group: io.WeightsManifestConfig[number], index: number, modelFile: string): Promise<Buffer> {
  const files = group.paths.map((p) => join(dir, p));
  const shards = await Promise.all(files.map(async (file, i) => {
    let real: string;
    let bytes: Buffer;
    try {
      real = await realpath(file);
      bytes = await readFile(real);
    } catch (err) {
      throw new ConfigurationError(`The weight file ${file} that ${modelFile} lists cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. ${CONVERT_HINT}`);
    }
    if (!real.startsWith(root + sep)) {
      throw new ConfigurationError(`The weight file ${JSON.stringify(group.paths[i])} that ${join(dir, modelFile)} lists resolves to ${real}, outside the model folder ${root} (a symbolic link): copy the file into the folder.`);
    }
    return bytes;
  }));
  const data = Buffer.concat(shards);
  const needed = weightBytes(group.weights, data, join(dir, modelFile));
  if (needed !== undefined && needed.bytes !== data.length) {
    const difference = data.length > needed.bytes ? `${data.length - needed.bytes} bytes too many` : `${needed.bytes - data.length} bytes too few`;
    const holder = files.length === 1
      ? `${files[0]} holds ${data.length} bytes`
      : `The weight files of weightsManifest group ${index + 1} (${files.join(', ')}) hold ${data.length} bytes together (${shards.map((b) => b.length).join(' + ')})`;
    throw new ConfigurationError(`${holder}, but the ${group.weights.length} weights ${modelFile} lists for ${files.length === 1 ? 'it' : 'them'} take ${needed.atLeast ? 'at least ' : ''}${needed.bytes}: ${difference}. The file is damaged or belongs to another export. ${CONVERT_HINT}`);
  }
  return data;
}

/**
 * The bytes a group's weights take: shape product times the bytes per value; string
 * weights read from their length prefixes in `data` (`atLeast` when `data` ends first).
 * Undefined for a dtype this runtime does not size, left to TF.js to accept or refuse.
 */
function weightBytes(weights: readonly io.WeightsManifestEntry[], data: Buffer, modelJson: string): { bytes: number; atLeast: boolean } | undefined {
  let offset = 0;
  for (const weight of weights) {
    const shape: unknown = weight.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new ConfigurationError(`${modelJson} gives the weight ${JSON.stringify(weight.name)} the shape ${JSON.stringify(shape)}: a weight's shape must be a list of whole numbers, 0 or more. ${CONVERT_HINT}`);
    }
    const values = (shape as number[]).reduce((product, d) => product * d, 1);
    if (weight.dtype === 'string' && !weight.quantization) {
      for (let i = 0; i < values; i++) {
        if (offset + STRING_LENGTH_BYTES > data.length) return { bytes: offset + STRING_LENGTH_BYTES, atLeast: true };
        offset += STRING_LENGTH_BYTES + data.readUInt32LE(offset);
      }
      continue;
    }
    const perValue = BYTES_PER_VALUE[weight.quantization?.dtype ?? weight.dtype];
    if (perValue === undefined) return undefined;
    offset += values * perValue;
  }
  return { bytes: offset, atLeast: false };
}

/** Loads the model in `dir`; `modelFile`: its TF.js model file when not model.json (SERVERLESS_TF_MODEL_FILE). */
export async function loadModel(tf: Tf, dir: string, format: ModelFormatSetting, backend: BackendChoice, modelFile?: string): Promise<ServableModel> {
  const actual = format === 'auto' ? await detectFormat(dir, modelFile) : format;
  switch (actual) {
    case 'layers':
      return layersModel(tf, await tf.loadLayersModel(folderIOHandler(tf, dir, modelFile)));
    case 'graph':
      return graphModel(await tf.loadGraphModel(folderIOHandler(tf, dir, modelFile)));
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
  const nodeInputs = model.inputs.map((t) => specOf(t.name, t.dtype, t.shape));
  const nodeOutputs = model.outputs.map((t) => specOf(t.name, t.dtype, t.shape));
  // With a signature (model.json's, or its userDefinedMetadata's), inputs and outputs go by
  // their signature names, dtypes and shapes, as TF Serving names them; execute() maps
  // signature names to graph tensors itself.
  const signature = model.modelSignature as { inputs?: unknown; outputs?: unknown } | undefined;
  const byNode = (specs: readonly TensorSpec[]) => (tensor: string) => specs.find((s) => s.name === tensor.replace(/:\d+$/, ''));
  const signedInputs = specsFromSignature(signature?.inputs, byNode(nodeInputs));
  const signedOutputs = specsFromSignature(signature?.outputs, byNode(nodeOutputs));
  const inputs = signedInputs.length ? signedInputs : nodeInputs;
  const outputs = signedOutputs.length ? signedOutputs : nodeOutputs;
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
  const inputs = Object.entries(signature.inputs).map(([name, t]) => signatureSpec(name, t));
  const outputs = Object.entries(signature.outputs).map(([name, t]) => signatureSpec(name, t));
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

/**
 * A SavedModel signature's tensor as tfjs-node describes it. Its dimensions are protobuf
 * int64 values (objects, not numbers: `Number()` reads them), -1 where free.
 */
interface SignatureTensor {
  readonly dtype?: string;
  readonly tfDtype?: string;
  readonly name?: string;
  readonly shape?: readonly unknown[] | null;
}

function signatureSpec(name: string, tensor: SignatureTensor): TensorSpec {
  const shape = tensor.shape ? tensor.shape.map((d) => {
    const size = Number(d);
    if (!Number.isSafeInteger(size)) throw new ConfigurationError(`The SavedModel's serving signature gives ${name} the dimension ${String(d)}, not a whole number.`);
    return size;
  }) : undefined;
  return {
    ...specOf(name, tensor.dtype, shape),
    ...(tensor.tfDtype ? { tfDtype: tensor.tfDtype } : {}),
    ...(tensor.name ? { tensorName: tensor.name } : {}),
  };
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'dataSync' in x && 'shape' in x;
}
