// The Open Inference Protocol (KServe V2, Triton) datatypes: which TF.js dtype each one
// fills, the integer range each one holds, and their binary form (binary tensor data
// extension): little-endian, row major, no padding; BOOL one byte; BYTES a 4-byte
// little-endian length before each element. TF.js computes in float32, int32, bool and
// string only, so 64-bit and unsigned integers travel as int32 when their values fit.
import { BadRequestError, UnprocessableError } from '../errors';
import type { TensorSpec } from '../model';
import type { DataType } from '@tensorflow/tfjs';

export const V2_DATATYPE_NAMES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'BF16', 'FP32', 'FP64', 'BYTES'] as const;
export type V2Datatype = (typeof V2_DATATYPE_NAMES)[number];

interface DatatypeInfo {
  /** The TF.js dtype this datatype's values fill. */
  readonly dtype: DataType;
  /** Bytes per element in binary form; 0 for BYTES (length-prefixed). */
  readonly size: number;
  /** Integers: the values this datatype holds. */
  readonly range?: readonly [number, number];
}

const INFO: Readonly<Record<V2Datatype, DatatypeInfo>> = {
  BOOL: { dtype: 'bool', size: 1 },
  UINT8: { dtype: 'int32', size: 1, range: [0, 255] },
  UINT16: { dtype: 'int32', size: 2, range: [0, 65535] },
  UINT32: { dtype: 'int32', size: 4, range: [0, 2 ** 32 - 1] },
  UINT64: { dtype: 'int32', size: 8, range: [0, Number.MAX_SAFE_INTEGER] },
  INT8: { dtype: 'int32', size: 1, range: [-128, 127] },
  INT16: { dtype: 'int32', size: 2, range: [-32768, 32767] },
  INT32: { dtype: 'int32', size: 4, range: [-(2 ** 31), 2 ** 31 - 1] },
  INT64: { dtype: 'int32', size: 8, range: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] },
  FP16: { dtype: 'float32', size: 2 },
  BF16: { dtype: 'float32', size: 2 },
  FP32: { dtype: 'float32', size: 4 },
  FP64: { dtype: 'float32', size: 8 },
  BYTES: { dtype: 'string', size: 0 },
};

/** The datatype a TensorFlow dtype is called in V2. */
const FROM_TF: Readonly<Record<string, V2Datatype>> = {
  DT_BOOL: 'BOOL', DT_UINT8: 'UINT8', DT_UINT16: 'UINT16', DT_UINT32: 'UINT32', DT_UINT64: 'UINT64',
  DT_INT8: 'INT8', DT_INT16: 'INT16', DT_INT32: 'INT32', DT_INT64: 'INT64',
  DT_HALF: 'FP16', DT_BFLOAT16: 'BF16', DT_FLOAT: 'FP32', DT_DOUBLE: 'FP64', DT_STRING: 'BYTES',
};

const FROM_TFJS: Readonly<Record<string, V2Datatype>> = { bool: 'BOOL', int32: 'INT32', float32: 'FP32', string: 'BYTES' };

/** The integer range a TensorFlow dtype holds, for the ones narrower than int32. */
const TF_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  DT_INT8: INFO.INT8.range!, DT_UINT8: INFO.UINT8.range!, DT_INT16: INFO.INT16.range!, DT_UINT16: INFO.UINT16.range!,
};

export function isV2Datatype(name: unknown): name is V2Datatype {
  return typeof name === 'string' && (V2_DATATYPE_NAMES as readonly string[]).includes(name);
}

/** The TF.js dtype a datatype's values fill. */
export function dtypeOfDatatype(datatype: V2Datatype): DataType {
  return INFO[datatype].dtype;
}

/** The range of integers a datatype holds (undefined for non-integers). */
export function datatypeRange(datatype: V2Datatype): readonly [number, number] | undefined {
  return INFO[datatype].range;
}

/** The range of integers a model input takes: its declared dtype's when narrower than int32 (DT_UINT8...), else int32's. */
export function specRange(spec: TensorSpec): readonly [number, number] {
  return (spec.tfDtype && TF_RANGE[spec.tfDtype]) || INFO.INT32.range!;
}

/** The V2 datatype of a model input or output: the declared one (INT64 for DT_INT64), else TF.js's. */
export function datatypeOfSpec(spec: TensorSpec): V2Datatype {
  return (spec.tfDtype && FROM_TF[spec.tfDtype]) || FROM_TFJS[spec.dtype] || 'FP32';
}

/** The V2 datatype of a TF.js dtype. */
export function datatypeOfDtype(dtype: DataType): V2Datatype {
  return FROM_TFJS[dtype] ?? 'FP32';
}

/** Whether a request's datatype can feed a model input of TF.js dtype `dtype`. */
export function datatypeFits(datatype: V2Datatype, dtype: DataType): boolean {
  const given = INFO[datatype].dtype;
  if (given === 'bool' || dtype === 'bool' || given === 'string' || dtype === 'string') return given === dtype;
  // Numbers feed numbers: integers are checked as integers when they fill an int32 input.
  return true;
}

/** The values of a tensor in binary form, decoded: numbers (bigints made numbers), 0/1 for BOOL, byte strings for BYTES. */
export type DecodedValues = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | number[] | Uint8Array[];

/**
 * Decodes `count` elements of `datatype` from `bytes` (exactly their size). 64-bit integers
 * outside the safe-integer range become their nearest double, which every range check refuses.
 */
export function decodeBinary(datatype: V2Datatype, bytes: Buffer, count: number, what: string): DecodedValues {
  if (datatype === 'BYTES') return decodeBytesElements(bytes, count, what);
  const size = INFO[datatype].size;
  if (bytes.length !== count * size) {
    throw new UnprocessableError(`${what}: ${count} ${datatype} values take ${count * size} bytes, but binary_data_size gives ${bytes.length}.`);
  }
  // Copied first: a typed array view needs an aligned offset, and the request buffer is not ours to keep.
  const copy = new Uint8Array(bytes).buffer;
  switch (datatype) {
    case 'BOOL': return new Uint8Array(copy);
    case 'UINT8': return new Uint8Array(copy);
    case 'INT8': return new Int8Array(copy);
    case 'UINT16': return new Uint16Array(copy);
    case 'INT16': return new Int16Array(copy);
    case 'UINT32': return new Uint32Array(copy);
    case 'INT32': return new Int32Array(copy);
    case 'UINT64': return Array.from(new BigUint64Array(copy), Number);
    case 'INT64': return Array.from(new BigInt64Array(copy), Number);
    case 'FP16': return Float32Array.from(new Uint16Array(copy), halfToFloat);
    case 'BF16': return Float32Array.from(new Uint16Array(copy), (h) => bfloat16ToFloat(h));
    case 'FP32': return new Float32Array(copy);
    case 'FP64': return new Float64Array(copy);
  }
}

function decodeBytesElements(bytes: Buffer, count: number, what: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.length) throw new UnprocessableError(`${what}: BYTES element ${i} has no 4-byte length (the binary data ends at byte ${bytes.length}).`);
    const length = bytes.readUInt32LE(offset);
    offset += 4;
    if (offset + length > bytes.length) throw new UnprocessableError(`${what}: BYTES element ${i} says ${length} bytes, but only ${bytes.length - offset} remain.`);
    out.push(Uint8Array.prototype.slice.call(bytes, offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw new UnprocessableError(`${what}: ${count} BYTES elements end at byte ${offset}, but binary_data_size gives ${bytes.length}.`);
  return out;
}

/** Encodes a tensor's values (TF.js's data(), or its bytes() for strings) as `datatype` in binary form. */
export function encodeBinary(datatype: V2Datatype, values: ArrayLike<number> | readonly Uint8Array[]): Buffer {
  if (datatype === 'BYTES') {
    const parts: Buffer[] = [];
    for (const v of values as readonly Uint8Array[]) {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(v.length);
      parts.push(length, Buffer.from(v.buffer, v.byteOffset, v.length));
    }
    return Buffer.concat(parts);
  }
  const nums = values as ArrayLike<number>;
  const n = nums.length;
  const typed = (() => {
    switch (datatype) {
      case 'BOOL': return Uint8Array.from(nums, (v) => (v ? 1 : 0));
      case 'UINT8': return Uint8Array.from(nums);
      case 'INT8': return Int8Array.from(nums);
      case 'UINT16': return Uint16Array.from(nums);
      case 'INT16': return Int16Array.from(nums);
      case 'UINT32': return Uint32Array.from(nums);
      case 'INT32': return Int32Array.from(nums);
      case 'UINT64': return BigUint64Array.from({ length: n }, (_, i) => BigInt(Math.max(0, Math.trunc(nums[i]))));
      case 'INT64': return BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.trunc(nums[i])));
      case 'FP16': return Uint16Array.from(nums, floatToHalf);
      case 'BF16': return Uint16Array.from(nums, floatToBfloat16);
      case 'FP32': return Float32Array.from(nums);
      case 'FP64': return Float64Array.from(nums);
    }
  })();
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** The binary size of `count` elements, for a datatype of fixed size (undefined for BYTES). */
export function binarySize(datatype: V2Datatype, count: number): number | undefined {
  return datatype === 'BYTES' ? undefined : INFO[datatype].size * count;
}

/** IEEE 754 half precision to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** A number to IEEE 754 half precision, rounded to nearest even; beyond its range, infinity. */
export function floatToHalf(value: number): number {
  F32[0] = value;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit bit made explicit, shifted into place, rounded to nearest even.
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa steps the exponent up, to infinity at the top: as IEEE rounds.
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}

function bfloat16ToFloat(h: number): number {
  U32[0] = h << 16;
  return F32[0];
}

/** A number to bfloat16 (the top half of its float32), rounded to nearest even. */
function floatToBfloat16(value: number): number {
  F32[0] = value;
  const x = U32[0];
  if (Number.isNaN(value)) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** A 400 for a binary data size that is not a whole number of bytes. */
export function badBinarySize(what: string, value: unknown): BadRequestError {
  return new BadRequestError(`${what}.parameters.binary_data_size must be a whole number of bytes, 0 or more; got ${JSON.stringify(value)}.`);
}
