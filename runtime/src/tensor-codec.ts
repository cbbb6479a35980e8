// JSON values <-> tensors, checked against the model's signature. Every mismatch is a
// 422 that names the input, the expected shape or dtype, and what arrived.
import { MAX_INSTANCES_PER_REQUEST, MAX_TENSOR_RANK } from './constants';
import { BadRequestError, UnprocessableError } from './errors';
import type { Tf } from './backend';
import type { TensorSpec } from './model';
import type { DataType, Tensor } from '@tensorflow/tfjs';

/** Open Inference Protocol (KServe V2) datatypes and the TF.js dtype each maps to. */
export const V2_DATATYPES: Readonly<Record<string, DataType>> = {
  BOOL: 'bool',
  UINT8: 'int32',
  UINT16: 'int32',
  INT8: 'int32',
  INT16: 'int32',
  INT32: 'int32',
  INT64: 'int32',
  FP16: 'float32',
  FP32: 'float32',
  FP64: 'float32',
};

/** The V2 datatype that names a TF.js dtype in answers and metadata. */
export function v2Datatype(dtype: DataType): string {
  switch (dtype) {
    case 'bool': return 'BOOL';
    case 'int32': return 'INT32';
    case 'string': return 'BYTES';
    default: return 'FP32';
  }
}

/**
 * Shape of a rectangular nested array; throws 422 when ragged, not numeric, or nested
 * deeper than MAX_TENSOR_RANK (so checking it never recurses deeper than that).
 */
export function shapeOf(value: unknown, what: string): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    if (shape.length === MAX_TENSOR_RANK) throw tooDeep(what);
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  checkRectangular(value, shape, 0, what);
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

function checkRectangular(value: unknown, shape: number[], depth: number, what: string): void {
  if (depth === shape.length) {
    if (typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UnprocessableError(`${what}: every element must be a number or boolean; found ${describe(value)}.`);
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new UnprocessableError(`${what}: found a non-finite number.`);
    }
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    throw new UnprocessableError(`${what}: nested arrays must be rectangular; at depth ${depth} expected ${shape[depth]} elements, found ${Array.isArray(value) ? value.length : describe(value)}.`);
  }
  for (const v of value) checkRectangular(v, shape, depth + 1, what);
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

/** Builds a tensor for `spec` from a flat list of values and a full shape. */
export function tensorFrom(tf: Tf, spec: TensorSpec, values: ArrayLike<number | boolean>, shape: number[]): Tensor {
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
  if (spec.dtype === 'string') throw new UnprocessableError(`Input '${spec.name}' takes strings, which this runtime does not serve over JSON.`);
  if (spec.dtype === 'int32') {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === 'number' && !Number.isInteger(v)) {
        throw new UnprocessableError(`Input '${spec.name}' has dtype int32; value ${v} at index ${i} is not an integer.`);
      }
      // Int32Array would wrap it around silently.
      if (typeof v === 'number' && (v < INT32_MIN || v > INT32_MAX)) {
        throw new UnprocessableError(`Input '${spec.name}' has dtype int32; value ${v} at index ${i} is out of its range [${INT32_MIN}, ${INT32_MAX}].`);
      }
    }
  } else if (spec.dtype === 'float32') {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      // Float32Array would make a finite value past float32's range Infinity, and the answer null.
      if (typeof v === 'number' && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
        throw new UnprocessableError(`Input '${spec.name}' has dtype float32; value ${v} at index ${i} is out of its range (magnitude at most ${FLOAT32_MAX.toPrecision(8)}).`);
      }
    }
  }
  const data = spec.dtype === 'bool'
    ? Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0))
    : spec.dtype === 'int32' ? Int32Array.from(values as ArrayLike<number>, Number) : Float32Array.from(values as ArrayLike<number>, Number);
  return tf.tensor(data, shape, spec.dtype);
}

/** Builds a tensor from a nested JSON array (batch dimension included). */
export function tensorFromNested(tf: Tf, spec: TensorSpec, value: unknown, what: string): Tensor {
  const shape = shapeOf(value, what);
  checkShape(spec, shape);
  const flat = (value as unknown[]).flat(Infinity) as (number | boolean)[];
  return tensorFrom(tf, spec, flat, shape);
}

/** Stacks per-instance nested arrays (no batch dimension) into one batched tensor. */
export function tensorFromInstances(tf: Tf, spec: TensorSpec, instances: readonly unknown[], what: string): Tensor {
  if (instances.length === 0) throw new BadRequestError(`${what}: "instances" is empty; send at least one instance.`);
  if (instances.length > MAX_INSTANCES_PER_REQUEST) {
    throw new UnprocessableError(`${what}: ${instances.length} instances in one request; the limit is ${MAX_INSTANCES_PER_REQUEST}. Split the request.`);
  }
  const first = shapeOf(instances[0], `${what} instance 0`);
  const flat: (number | boolean)[] = [];
  instances.forEach((inst, i) => {
    const s = shapeOf(inst, `${what} instance ${i}`);
    if (s.length !== first.length || s.some((d, k) => d !== first[k])) {
      throw new UnprocessableError(`${what}: instance ${i} has shape ${formatShape(s)} but instance 0 has ${formatShape(first)}; all instances must have the same shape.`);
    }
    if (Array.isArray(inst)) {
      for (const v of inst.flat(Infinity) as (number | boolean)[]) flat.push(v);
    } else {
      flat.push(inst as number | boolean);
    }
  });
  return tensorFrom(tf, spec, flat, [instances.length, ...first]);
}

/** Zeros that fit `spec`, free dimensions set from `fill` (batch 1 by default). */
export function zerosFor(tf: Tf, spec: TensorSpec, fill: readonly number[] = []): Tensor {
  const shape = (spec.shape ?? [1]).map((d, i) => d ?? (i === 0 ? 1 : fill[i] ?? 1));
  return tf.zeros(shape, spec.dtype === 'string' ? 'float32' : spec.dtype);
}
