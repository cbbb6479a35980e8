// Raw tensors in, raw tensors out: TF Serving's REST predict API (row and columnar
// formats) and the Open Inference Protocol (KServe V2) infer API, JSON or binary tensor
// data, checked against the model's signature (its signature names when model.json has a
// `signature`). Served for every task, as TF Serving and KServe do.
import { BadRequestError, ConfigurationError, UnprocessableError } from '../errors';
import { isObject } from '../guards';
import { flattenValues, formatShape, shapeOf, elementsOf, tensorFrom, tensorFromInstances, tensorFromNested } from '../tensor-codec';
import { V2_DATATYPE_NAMES, datatypeFits, datatypeOfDtype, datatypeOfSpec, decodeBinary, encodeBinary, isV2Datatype } from '../protocols/v2-datatypes';
import { tensorInfoJson } from '../protocols/tf-signature';
import type { Tf } from '../backend';
import type { ServableModel, TensorSpec } from '../model';
import type { WarmUpConfig } from '../task-config';
import type { TensorValues } from '../tensor-codec';
import type { V2Datatype } from '../protocols/v2-datatypes';
import type { DataType, Tensor } from '@tensorflow/tfjs';

/** The signature TF Serving serves when a request names none; the only one a TF.js model has. */
export const DEFAULT_SIGNATURE = 'serving_default';

/** How an inference request arrived and may be answered. */
export interface InferOptions {
  /** The binary data of inputs, by their index in `inputs` (binary tensor data extension). */
  readonly binary?: ReadonlyMap<number, Buffer>;
  /**
   * Whether outputs asked for as binary data are answered so. Default false: JSON data
   * whatever was asked (a job's result and a direct invocation's answer are JSON).
   */
  readonly binaryOutputs?: boolean;
}

/** A KServe V2 answer: the JSON, and the bytes of the outputs answered as binary data, in their order. */
export interface InferAnswer {
  readonly json: Record<string, unknown>;
  readonly binary: readonly Buffer[];
}

/** What the warm-up prediction showed of an output the model does not describe. */
interface Observed {
  readonly dtype: DataType;
  readonly shape: readonly (number | null)[];
}

export class TensorPredictor {
  private readonly observed = new Map<string, Observed>();

  public constructor(private readonly tf: Tf, private readonly model: ServableModel) {}

  /** TF Serving `POST /v1/models/{name}:predict`: `{"instances": [...]}` or `{"inputs": ...}`. */
  public async predictRest(body: unknown): Promise<Record<string, unknown>> {
    if (!isObject(body)) throw new BadRequestError('The body must be a JSON object with "instances" (row format) or "inputs" (columnar format).');
    checkSignatureName(body.signature_name);
    const hasInstances = 'instances' in body;
    const hasInputs = 'inputs' in body;
    if (hasInstances === hasInputs) {
      throw new BadRequestError(hasInstances
        ? 'Send either "instances" or "inputs", not both.'
        : 'Missing "instances" or "inputs" key. Example: {"instances": [[1.0, 2.0, 3.0]]}.');
    }
    const inputs = hasInstances ? this.fromInstances(body.instances) : this.fromColumnar(body.inputs);
    const outputs = await this.runAndRead(inputs);
    const names = Object.keys(outputs);
    if (!hasInstances) {
      return { outputs: names.length === 1 ? outputs[names[0]] : outputs };
    }
    if (names.length === 1) return { predictions: outputs[names[0]] };
    const n = (outputs[names[0]] as unknown[]).length;
    return { predictions: Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k) => [k, (outputs[k] as unknown[])[i]]))) };
  }

  /** KServe V2 `POST /v2/models/{name}/infer`, answered as JSON. */
  public async inferV2(body: unknown, modelName: string): Promise<Record<string, unknown>> {
    return (await this.infer(body, modelName)).json;
  }

  /** KServe V2 `POST /v2/models/{name}/infer`, with binary tensor data in and (when asked and allowed) out. */
  public async infer(body: unknown, modelName: string, options: InferOptions = {}): Promise<InferAnswer> {
    if (!isObject(body) || !Array.isArray(body.inputs) || body.inputs.length === 0) {
      throw new BadRequestError('The body must be an Open Inference Protocol request: {"inputs": [{"name", "shape", "datatype", "data"}]}.');
    }
    const given = body.inputs as unknown[];
    const binary = options.binary ?? new Map<number, Buffer>();
    const tensors: Record<string, Tensor> = {};
    try {
      given.forEach((raw, i) => {
        if (!isObject(raw) || typeof raw.name !== 'string' || !Array.isArray(raw.shape) || typeof raw.datatype !== 'string' || !('data' in raw || binary.has(i))) {
          throw new BadRequestError(`inputs[${i}] must have "name", "shape", "datatype" and "data" (or parameters.binary_data_size, with binary data after the JSON).`);
        }
        const spec = this.specFor(raw.name, given.length);
        if (spec.name in tensors) throw new BadRequestError(`Input '${spec.name}' is given twice.`);
        const datatype = raw.datatype;
        if (!isV2Datatype(datatype)) throw new UnprocessableError(`inputs[${i}].datatype "${datatype}" is not supported; use one of ${V2_DATATYPE_NAMES.join(', ')}.`);
        if (!datatypeFits(datatype, spec.dtype)) {
          throw new UnprocessableError(`Input '${spec.name}' has dtype ${datatypeOfSpec(spec)}; got ${datatype}.`);
        }
        const shape = raw.shape as unknown[];
        if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new BadRequestError(`inputs[${i}].shape must be a list of non-negative integers.`);
        tensors[spec.name] = tensorFrom(this.tf, spec, this.valuesOf(raw, i, spec, datatype, shape as number[], binary.get(i)), shape as number[], { datatype });
      });
      const missing = this.model.inputs.filter((s) => !(s.name in tensors));
      if (missing.length) throw new UnprocessableError(`Missing input${missing.length > 1 ? 's' : ''}: ${missing.map((s) => s.name).join(', ')}.`);
      const wanted = this.requestedOutputs(body.outputs, body.parameters, options.binaryOutputs === true);
      const outputs = await this.model.run(tensors);
      try {
        const bytes: Buffer[] = [];
        const answer = [];
        for (const { spec, binary: asBinary } of wanted) {
          const t = outputs[spec.name];
          const datatype = spec.tfDtype ? datatypeOfSpec(spec) : datatypeOfDtype(t.dtype);
          const values = t.dtype === 'string' ? await t.bytes() as Uint8Array[] : await t.data() as ArrayLike<number>;
          if (asBinary) {
            const data = encodeBinary(datatype, values);
            bytes.push(data);
            answer.push({ name: spec.name, datatype, shape: t.shape, parameters: { binary_data_size: data.length } });
          } else {
            answer.push({ name: spec.name, datatype, shape: t.shape, data: jsonValues(t.dtype, asDeclared(datatype, values, spec.name)) });
          }
        }
        const json = { model_name: modelName, model_version: '1', ...(typeof body.id === 'string' ? { id: body.id } : {}), outputs: answer };
        return { json, binary: bytes };
      } finally {
        this.tf.dispose(outputs);
      }
    } finally {
      this.tf.dispose(tensors);
    }
  }

  /** KServe V2 model metadata: names, datatypes (the declared ones: INT64 for DT_INT64) and shapes (-1: any size). */
  public metadataV2(modelName: string, platform: string): Record<string, unknown> {
    const describe = (s: TensorSpec) => {
      const seen = this.observed.get(s.name);
      const datatype = s.tfDtype || !seen ? datatypeOfSpec(s) : datatypeOfDtype(seen.dtype);
      // Rank unknown (no signature, warm-up off): one dimension of any size is the best V2 can say.
      const shape = s.shape ?? seen?.shape ?? [null];
      return { name: s.name, datatype, shape: shape.map((d) => d ?? -1) };
    };
    return { name: modelName, versions: ['1'], platform, inputs: this.model.inputs.map(describe), outputs: this.model.outputs.map(describe) };
  }

  /** TF Serving `GET /v1/models/{name}/metadata`: the model's one signature, as TF Serving answers it. */
  public metadataTfServing(modelName: string): Record<string, unknown> {
    const describe = (specs: readonly TensorSpec[]) => Object.fromEntries(specs.map((s) => {
      const seen = this.observed.get(s.name);
      return [s.name, tensorInfoJson(s.shape === null && seen ? { ...s, shape: seen.shape, ...(s.tfDtype ? {} : { dtype: seen.dtype }) } : s)];
    }));
    return {
      model_spec: { name: modelName, signature_name: '', version: '1' },
      metadata: {
        signature_def: {
          signature_def: {
            [DEFAULT_SIGNATURE]: { inputs: describe(this.model.inputs), outputs: describe(this.model.outputs), method_name: 'tensorflow/serving/predict' },
          },
        },
      },
    };
  }

  /**
   * One prediction on zeros: free dimensions are 1, or the sizes `config.inputs` gives per
   * input. Outputs the model does not describe are learned from it: their dtype, and their
   * shape with the dimensions that match a free input dimension's size as -1.
   */
  public async warmUp(config: WarmUpConfig = {}): Promise<void> {
    const given = config.inputs ?? {};
    const unknown = Object.keys(given).filter((name) => !this.model.inputs.some((s) => s.name === name));
    if (unknown.length) {
      throw new ConfigurationError(`The task's warmUp.inputs names ${unknown.map((n) => `'${n}'`).join(', ')}, which ${unknown.length > 1 ? 'are not inputs' : 'is not an input'} of this model. Its inputs: ${this.describeInputs()}.`);
    }
    const free = new Set<number>();
    const shapes = this.model.inputs.map((s) => {
      const shape = given[s.name] ? [...given[s.name]] : (s.shape ?? [1]).map((d) => d ?? 1);
      if (given[s.name]) checkWarmUpShape(s, shape);
      (s.shape ?? shape.map(() => null)).forEach((d, i) => { if (d === null) free.add(shape[i]); });
      return shape;
    });
    const inputs = Object.fromEntries(this.model.inputs.map((s, i) => [s.name, zeros(this.tf, s, shapes[i])]));
    let outputs: Record<string, Tensor> = {};
    try {
      outputs = await this.model.run(inputs);
      for (const spec of this.model.outputs) {
        const t = outputs[spec.name];
        if (!t) continue;
        this.observed.set(spec.name, { dtype: t.dtype, shape: t.shape.map((d) => (free.has(d) ? null : d)) });
      }
    } catch (err) {
      const used = this.model.inputs.map((s, i) => `${s.name} ${formatShape(shapes[i])}${given[s.name] ? ' (given)' : ''}`).join(', ');
      const guessed = this.model.inputs.filter((s) => !given[s.name] && (!s.shape || s.shape.some((d) => d === null)));
      const example = JSON.stringify({ warmUp: { inputs: Object.fromEntries(guessed.map((s) => [s.name, shapes[this.model.inputs.indexOf(s)]])) } });
      // Shapes guessed for free dimensions are the likely cause; with every shape known, it is
      // the zeros (an input such as a ratio or a size that must not be 0) or an op this
      // backend cannot run (then requests fail the same way).
      const advice = guessed.length
        ? `Give the task the shapes this model takes, as ${example} with the sizes it needs, or turn the warm-up off`
        : "Every input's shape is known, so the zeros themselves may be what the model cannot take (an input such as a ratio or a size that must not be 0), or an op may not run on this backend (requests would fail the same way: try another backend). Turn the warm-up off";
      throw new ConfigurationError(`The warm-up prediction (zeros: ${used}${guessed.length ? '; free dimensions set to 1' : ''}) failed: ${(err as Error).message} `
        + `${advice} with {"warmUp": false} (the first request then pays for it).`);
    } finally {
      this.tf.dispose([inputs, outputs]);
    }
  }

  private describeInputs(): string {
    return this.model.inputs.map((s) => `${s.name} ${s.shape ? formatShape(s.shape) : '(any shape)'}`).join(', ');
  }

  /** An input's values: its binary data decoded, or its JSON data (nested or flat) checked. */
  private valuesOf(raw: Record<string, unknown>, i: number, spec: TensorSpec, datatype: V2Datatype, shape: number[], bytes: Buffer | undefined): TensorValues {
    if (bytes) return decodeBinary(datatype, bytes, shape.reduce((a, b) => a * b, 1), `inputs[${i}]`);
    const data = Array.isArray(raw.data) ? flattenValues(raw.data as unknown[], `inputs[${i}].data`) : [raw.data];
    shapeOf(data, `inputs[${i}].data`, elementsOf(spec));
    return data as TensorValues;
  }

  private fromInstances(instances: unknown): Record<string, Tensor> {
    if (!Array.isArray(instances)) throw new BadRequestError('"instances" must be a list, one element per instance.');
    const specs = this.model.inputs;
    const named = instances.length > 0 && instances.every((x) => isObject(x) && !isBytesObject(x));
    if (specs.length === 1 && !named) return { [specs[0].name]: tensorFromInstances(this.tf, specs[0], instances, 'instances') };
    if (!named) throw new UnprocessableError(`This model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}): each instance must be an object keyed by input name.`);
    return this.build(specs, (spec) => tensorFromInstances(this.tf, spec, instances.map((x, i) => {
      const obj = x as Record<string, unknown>;
      const key = this.keyFor(spec, obj, `instances[${i}]`);
      return obj[key];
    }), `instances.${spec.name}`));
  }

  private fromColumnar(inputs: unknown): Record<string, Tensor> {
    const specs = this.model.inputs;
    if (specs.length === 1 && (!isObject(inputs) || isBytesObject(inputs))) return { [specs[0].name]: tensorFromNested(this.tf, specs[0], inputs, 'inputs') };
    if (!isObject(inputs)) throw new UnprocessableError(`This model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}): "inputs" must be an object keyed by input name.`);
    return this.build(specs, (spec) => tensorFromNested(this.tf, spec, inputs[this.keyFor(spec, inputs, 'inputs')], `inputs.${spec.name}`));
  }

  /** Builds every input; disposes the ones already built when one fails. */
  private build(specs: readonly TensorSpec[], make: (spec: TensorSpec) => Tensor): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    try {
      for (const spec of specs) out[spec.name] = make(spec);
      return out;
    } catch (err) {
      this.tf.dispose(out);
      throw err;
    }
  }

  /** The key holding `spec` in an object: its name (or its graph tensor's), or the sole key for a one-input model. */
  private keyFor(spec: TensorSpec, obj: Record<string, unknown>, where: string): string {
    const key = namesOf(spec).find((n) => n in obj);
    if (key !== undefined) return key;
    const keys = Object.keys(obj);
    if (this.model.inputs.length === 1 && keys.length === 1) return keys[0];
    throw new UnprocessableError(`${where} has no input '${spec.name}'. The model's inputs: ${this.model.inputs.map((s) => s.name).join(', ')}.`);
  }

  private specFor(name: string, givenCount: number): TensorSpec {
    const spec = this.model.inputs.find((s) => s.name === name) ?? this.model.inputs.find((s) => namesOf(s).includes(name));
    if (spec) return spec;
    if (this.model.inputs.length === 1 && givenCount === 1) return this.model.inputs[0];
    throw new UnprocessableError(`Unknown input '${name}'. The model's inputs: ${this.model.inputs.map((s) => `${s.name} ${formatShape(s.shape ?? [])}`).join(', ')}.`);
  }

  /**
   * The outputs to answer, each as JSON or binary data: an output's `parameters.binary_data`,
   * else the request's `parameters.binary_data_output` (binary tensor data extension).
   */
  private requestedOutputs(outputs: unknown, parameters: unknown, binaryAllowed: boolean): { spec: TensorSpec; binary: boolean }[] {
    const all = isObject(parameters) && parameters.binary_data_output === true;
    if (outputs === undefined) return this.model.outputs.map((spec) => ({ spec, binary: binaryAllowed && all }));
    if (!Array.isArray(outputs)) throw new BadRequestError('"outputs" must be a list of {"name": ...}.');
    return outputs.map((o, i) => {
      const name = isObject(o) ? o.name : undefined;
      const spec = this.model.outputs.find((s) => s.name === name) ?? this.model.outputs.find((s) => typeof name === 'string' && namesOf(s).includes(name));
      if (!spec) throw new UnprocessableError(`outputs[${i}] names no output of this model. Its outputs: ${this.model.outputs.map((s) => s.name).join(', ')}.`);
      const own = isObject(o) && isObject(o.parameters) ? o.parameters : {};
      if (own.classification !== undefined) {
        throw new BadRequestError(`outputs[${i}].parameters.classification asks for Triton's classification extension, which this server does not offer: ask for the output's values and take the top classes from them.`);
      }
      const binary = typeof own.binary_data === 'boolean' ? own.binary_data : all;
      return { spec, binary: binaryAllowed && binary };
    });
  }

  /** Runs the model, reads every output as nested arrays (booleans as true/false), and disposes all tensors. */
  private async runAndRead(inputs: Record<string, Tensor>): Promise<Record<string, unknown>> {
    let outputs: Record<string, Tensor> = {};
    try {
      outputs = await this.model.run(inputs);
      const entries = await Promise.all(Object.entries(outputs).map(async ([k, t]) => [k, await readNested(t, k)] as const));
      return Object.fromEntries(entries);
    } finally {
      this.tf.dispose([inputs, outputs]);
    }
  }
}

/** TF Serving serves the signature a request names: this model has one, `serving_default`. */
function checkSignatureName(name: unknown): void {
  if (name === undefined || name === null || name === '' || name === DEFAULT_SIGNATURE) return;
  throw new BadRequestError(`Serving signature name: ${JSON.stringify(typeof name === 'string' ? name : String(name))} not found in signature def. This model has one signature, "${DEFAULT_SIGNATURE}": name it, or leave signature_name out.`);
}

/** The names a spec answers to: its own, its graph tensor's (`serving_default_x:0`), and that tensor's node. */
function namesOf(spec: TensorSpec): string[] {
  return spec.tensorName ? [spec.name, spec.tensorName, spec.tensorName.replace(/:0$/, '')] : [spec.name];
}

function isBytesObject(x: unknown): boolean {
  return isObject(x) && typeof x.b64 === 'string' && Object.keys(x).length === 1;
}

/** A tensor as TF Serving answers it: nested arrays; booleans as true/false; strings as text, or `{"b64"}` when the name ends in `_bytes`. */
async function readNested(t: Tensor, name: string): Promise<unknown> {
  if (t.dtype === 'bool') return mapLeaves(await t.array(), (v) => v !== 0);
  if (t.dtype === 'string' && name.endsWith('_bytes')) {
    const flat = (await t.bytes() as Uint8Array[]).map((b) => ({ b64: Buffer.from(b).toString('base64') }));
    return t.rank === 0 ? flat[0] : reshape(flat, t.shape);
  }
  return t.array();
}

/**
 * Datatypes narrower than the TF.js tensor that carries them (int32 or float32): their JSON
 * values go through the binary encoding, so that JSON and binary answers say the same (an
 * INT8 output of 128 is -128 both ways, as TensorFlow's own int8 wraps; BF16 and FP16 rounded).
 */
const NARROW_DATATYPES: ReadonlySet<V2Datatype> = new Set(['INT8', 'INT16', 'UINT8', 'UINT16', 'UINT32', 'FP16', 'BF16']);

function asDeclared(datatype: V2Datatype, values: ArrayLike<number> | readonly Uint8Array[], name: string): ArrayLike<number> | readonly Uint8Array[] {
  if (!NARROW_DATATYPES.has(datatype)) return values;
  const numbers = values as ArrayLike<number>;
  return decodeBinary(datatype, encodeBinary(datatype, numbers), numbers.length, `output '${name}'`) as ArrayLike<number>;
}

/** A V2 answer's JSON data: flat, booleans as true/false, strings as UTF-8 text. */
function jsonValues(dtype: DataType, values: ArrayLike<number> | readonly Uint8Array[]): unknown[] {
  if (dtype === 'string') return (values as readonly Uint8Array[]).map((b) => Buffer.from(b).toString('utf8'));
  if (dtype === 'bool') return Array.from(values as ArrayLike<number>, (v) => v !== 0);
  return Array.from(values as ArrayLike<number>);
}

function mapLeaves(value: unknown, fn: (v: number) => unknown): unknown {
  return Array.isArray(value) ? value.map((v) => mapLeaves(v, fn)) : fn(value as number);
}

function reshape<T>(flat: readonly T[], shape: readonly number[]): unknown {
  if (shape.length <= 1) return [...flat];
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => reshape(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}

/** Zeros (empty strings for a string input) of `shape`, in the input's dtype. */
function zeros(tf: Tf, spec: TensorSpec, shape: number[]): Tensor {
  if (spec.dtype === 'string') return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => ''), shape, 'string');
  return tf.zeros(shape, spec.dtype);
}

function checkWarmUpShape(spec: TensorSpec, shape: readonly number[]): void {
  const fits = !spec.shape || (spec.shape.length === shape.length && spec.shape.every((d, i) => d === null || d === shape[i]));
  if (!fits) {
    throw new ConfigurationError(`The task's warmUp.inputs gives '${spec.name}' the shape ${formatShape(shape)}, but the input takes ${formatShape(spec.shape ?? [])} (-1: any size).`);
  }
}
