// JSON values <-> tensors, checked against the model's signature. Every mismatch is a
// 422 that names the input, the expected shape or dtype, and what arrived.
import { MAX_INSTANCES_PER_REQUEST, MAX_TENSOR_RANK } from './constants';
import { BadRequestError, UnprocessableError } from './errors';
import { isObject } from './guards';
import { datatypeRange, specRange } from './protocols/v2-datatypes';
import type { V2Datatype } from './protocols/v2-datatypes';
import type { Tf } from './backend';
import type { TensorSpec } from './model';
import type { Tensor } from '@tensorflow/tfjs';

/**
 * What the elements of a JSON tensor may be: numbers and booleans, or (for a string input)
 * strings and TF Serving's `{"b64": "..."}` for binary strings.
 */
export type JsonElements = 'numeric' | 'strings';

/**
 * Shape of a rectangular nested array; throws 422 when ragged, not of `elements`, or nested
 * deeper than MAX_TENSOR_RANK (so checking it never recurses deeper than that).
 */
export function shapeOf(value: unknown, what: string, elements: JsonElements = 'numeric'): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    if (shape.length === MAX_TENSOR_RANK) throw tooDeep(what);
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  checkRectangular(value, shape, 0, what, elements);
  return shape;
}

/**
 * All the values of a nested array, in order, however ragged; 422 when nested deeper than
 * MAX_TENSOR_RANK. (`flat(Infinity)` recurses once per level: 100,000 levels overflow the stack.)
 */
export function flattenValues(value: readonly unknown[], what: string): unknown[] {
  const flat = value.flat(MAX_TENSOR_RANK - 1);
  if (flat.some(Array.isArray)) throw tooDeep(what);
  return flat;
}

function tooDeep(what: string): UnprocessableError {
  return new UnprocessableError(`${what}: arrays are nested more than ${MAX_TENSOR_RANK} deep; a tensor has at most ${MAX_TENSOR_RANK} dimensions.`);
}

// NaN and the infinities reach here only from TF Serving's JSON (which allows them) or binary
// data: they are float values, and an integer input refuses them as non-integers.
function checkRectangular(value: unknown, shape: number[], depth: number, what: string, elements: JsonElements): void {
  if (depth === shape.length) {
    if (elements === 'strings') {
      if (typeof value !== 'string' && !isEncodedBytes(value)) {
        throw new UnprocessableError(`${what}: every element must be a string (or {"b64": "<base64>"} for bytes); found ${describe(value)}.`);
      }
    } else if (typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UnprocessableError(`${what}: every element must be a number or boolean; found ${describe(value)}.`);
    }
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    throw new UnprocessableError(`${what}: nested arrays must be rectangular; at depth ${depth} expected ${shape[depth]} elements, found ${Array.isArray(value) ? value.length : describe(value)}.`);
  }
  for (const v of value) checkRectangular(v, shape, depth + 1, what, elements);
}

function isEncodedBytes(v: unknown): v is { b64: string } {
  return isObject(v) && typeof v.b64 === 'string' && Object.keys(v).length === 1;
}

/** The elements a spec's JSON values are made of. */
export function elementsOf(spec: TensorSpec): JsonElements {
  return spec.dtype === 'string' ? 'strings' : 'numeric';
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === 'string' ? `the string ${JSON.stringify(v.slice(0, 40))}` : typeof v;
}

/** Checks a full shape (batch dimension included) against a spec; 422 on mismatch. */
export function checkShape(spec: TensorSpec, shape: readonly number[]): void {
  if (!spec.shape) return;
  const ok = spec.shape.length === shape.length && spec.shape.every((d, i) => d === null || d === shape[i]);
  if (!ok) {
    throw new UnprocessableError(`Input '${spec.name}' expects shape ${formatShape(spec.shape)} (-1: any size), got ${formatShape(shape)}.`);
  }
}

export function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? -1 : d)).join(',')}]`;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** A tensor's values in row-major order: numbers or booleans, or byte strings (strings, `{"b64"}`, bytes) for a string input. */
export type TensorValues = ArrayLike<number | boolean> | readonly (string | Uint8Array | { readonly b64: string })[];

export interface TensorFromOptions {
  /**
   * The Open Inference Protocol datatype the values came as: integers must fit it too
   * (INT8: -128..127), as well as the model's input.
   */
  readonly datatype?: V2Datatype;
}

/** Builds a tensor for `spec` from a flat list of values and a full shape. */
export function tensorFrom(tf: Tf, spec: TensorSpec, values: TensorValues, shape: number[], options: TensorFromOptions = {}): Tensor {
  if (shape.length > MAX_TENSOR_RANK) {
    throw new UnprocessableError(`Input '${spec.name}': shape ${formatShape(shape.slice(0, 8))}... has ${shape.length} dimensions; a tensor has at most ${MAX_TENSOR_RANK}.`);
  }
  checkShape(spec, shape);
  if (shape.includes(0)) {
    throw new UnprocessableError(`Input '${spec.name}': shape ${formatShape(shape)} has a dimension of size 0, so the tensor holds no values; send at least one value along every dimension.`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) {
    throw new UnprocessableError(`Input '${spec.name}': shape ${formatShape(shape)} needs ${size} values, got ${values.length}.`);
  }
  if (spec.dtype === 'string') return tf.tensor(byteStrings(spec, values), shape, 'string');
  const nums = values as ArrayLike<number | boolean>;
  if (spec.dtype === 'int32') return tf.tensor(int32Values(spec, nums, options.datatype), shape, 'int32');
  if (spec.dtype === 'bool') return tf.tensor(Uint8Array.from(nums as ArrayLike<number>, (v) => (v ? 1 : 0)), shape, 'bool');
  if (nums instanceof Float32Array) return tf.tensor(nums, shape, spec.dtype);
  for (let i = 0; i < nums.length; i++) {
    const v = nums[i];
    // Float32Array would make a finite value past float32's range Infinity, and the answer null.
    if (typeof v === 'number' && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
      throw new UnprocessableError(`Input '${spec.name}' has dtype float32; value ${v} at index ${i} is out of its range (magnitude at most ${FLOAT32_MAX.toPrecision(8)}).`);
    }
  }
  return tf.tensor(Float32Array.from(nums as ArrayLike<number>, Number), shape, spec.dtype);
}

/** Integers for an int32 input, each in the range of the model's declared dtype and of the datatype sent. */
function int32Values(spec: TensorSpec, values: ArrayLike<number | boolean>, datatype: V2Datatype | undefined): Int32Array {
  const [specLo, specHi] = specRange(spec);
  const sent = datatype ? datatypeRange(datatype) : undefined;
  const lo = Math.max(specLo, sent?.[0] ?? specLo);
  const hi = Math.min(specHi, sent?.[1] ?? specHi);
  // An Int32Array already holds int32 values; only a narrower declared dtype needs a look.
  if (values instanceof Int32Array && lo <= INT32_MIN && hi >= INT32_MAX) return values;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') continue;
    if (!Number.isInteger(v)) {
      throw new UnprocessableError(`Input '${spec.name}' has dtype int32; value ${v} at index ${i} is not an integer.`);
    }
    // Int32Array would wrap it around silently.
    if (v < lo || v > hi) throw outOfRange(spec, v, i, datatype);
  }
  return Int32Array.from(values as ArrayLike<number>, Number);
}

/** The 422 for an integer out of range, naming the range it broke: the datatype's, the declared dtype's, or int32's. */
function outOfRange(spec: TensorSpec, v: number, i: number, datatype: V2Datatype | undefined): UnprocessableError {
  const [specLo, specHi] = specRange(spec);
  const sent = datatype ? datatypeRange(datatype) : undefined;
  const prefix = `Input '${spec.name}' has dtype int32; value ${v} at index ${i} is out of`;
  // The datatype's range is named when it is the narrower one on the side the value broke.
  if (sent && ((v < sent[0] && sent[0] > specLo) || (v > sent[1] && sent[1] < specHi))) return new UnprocessableError(`${prefix} the range of ${datatype} [${sent[0]}, ${sent[1]}].`);
  if (specLo > INT32_MIN || specHi < INT32_MAX) return new UnprocessableError(`${prefix} the range of its declared ${spec.tfDtype} [${specLo}, ${specHi}].`);
  const carried = sent && (sent[0] < INT32_MIN || sent[1] > INT32_MAX) ? ` (${datatype} values are carried as int32, which TF.js computes in)` : '';
  return new UnprocessableError(`${prefix} its range [${INT32_MIN}, ${INT32_MAX}]${carried}.`);
}

function byteStrings(spec: TensorSpec, values: TensorValues): Uint8Array[] {
  return Array.from(values as ArrayLike<unknown>, (v, i) => {
    if (v instanceof Uint8Array) return v;
    if (typeof v === 'string') return Buffer.from(v, 'utf8');
    if (isEncodedBytes(v)) return Buffer.from(v.b64, 'base64');
    throw new UnprocessableError(`Input '${spec.name}' takes strings; the value at index ${i} is ${describe(v)}.`);
  });
}

/** Builds a tensor from a nested JSON array (batch dimension included). */
export function tensorFromNested(tf: Tf, spec: TensorSpec, value: unknown, what: string): Tensor {
  const shape = shapeOf(value, what, elementsOf(spec));
  checkShape(spec, shape);
  const flat = Array.isArray(value) ? value.flat(Infinity) as TensorValues : [value] as TensorValues;
  return tensorFrom(tf, spec, flat, shape);
}

/** Stacks per-instance nested arrays (no batch dimension) into one batched tensor. */
export function tensorFromInstances(tf: Tf, spec: TensorSpec, instances: readonly unknown[], what: string): Tensor {
  if (instances.length === 0) throw new BadRequestError(`${what}: "instances" is empty; send at least one instance.`);
  if (instances.length > MAX_INSTANCES_PER_REQUEST) {
    throw new UnprocessableError(`${what}: ${instances.length} instances in one request; the limit is ${MAX_INSTANCES_PER_REQUEST}. Split the request.`);
  }
  const elements = elementsOf(spec);
  const first = shapeOf(instances[0], `${what} instance 0`, elements);
  const flat: unknown[] = [];
  instances.forEach((inst, i) => {
    const s = shapeOf(inst, `${what} instance ${i}`, elements);
    if (s.length !== first.length || s.some((d, k) => d !== first[k])) {
      throw new UnprocessableError(`${what}: instance ${i} has shape ${formatShape(s)} but instance 0 has ${formatShape(first)}; all instances must have the same shape.`);
    }
    if (Array.isArray(inst)) {
      for (const v of inst.flat(Infinity)) flat.push(v);
    } else {
      flat.push(inst);
    }
  });
  return tensorFrom(tf, spec, flat as TensorValues, [instances.length, ...first]);
}
