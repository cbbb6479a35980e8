// TensorFlow's SignatureDef vocabulary: the DT_* dtype names and tensor shapes that a
// TF.js model.json `signature` (or its userDefinedMetadata.signature) and a SavedModel
// carry, read into TensorSpecs, and written back the way TF Serving's metadata API spells
// them. TF.js computes in float32, int32, bool and string only: `tfDtype` keeps what the
// model declares (DT_INT64, DT_UINT8, DT_HALF...), so answers and metadata can say it.
import { isObject } from '../guards';
import type { TensorSpec } from '../model';
import type { DataType } from '@tensorflow/tfjs';

/** The TF.js dtype each TensorFlow dtype computes in (tfjs-converter's parseDtypeParam). */
const TF_TO_TFJS: Readonly<Record<string, DataType>> = {
  DT_FLOAT: 'float32', DT_HALF: 'float32', DT_DOUBLE: 'float32', DT_BFLOAT16: 'float32',
  DT_INT8: 'int32', DT_INT16: 'int32', DT_INT32: 'int32', DT_INT64: 'int32',
  DT_UINT8: 'int32', DT_UINT16: 'int32', DT_UINT32: 'int32', DT_UINT64: 'int32',
  DT_BOOL: 'bool', DT_STRING: 'string',
};

/** The TensorFlow dtype that names a TF.js dtype when the model declares none. */
const TFJS_TO_TF: Readonly<Record<string, string>> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING' };

/** The TensorFlow dtype of a spec: the one the model declares, or the one TF.js computes in. */
export function tfDtypeOf(spec: TensorSpec): string {
  return spec.tfDtype ?? TFJS_TO_TF[spec.dtype] ?? 'DT_FLOAT';
}

/** One input or output of a signature, as model.json (camelCase) or TF Serving (snake_case) spells it. */
interface SignatureTensor {
  readonly name?: unknown;
  readonly dtype?: unknown;
  readonly tensorShape?: unknown;
  readonly tensor_shape?: unknown;
  /** A captured resource (a hash table's handle): not an input a client gives. */
  readonly resourceId?: unknown;
}

/**
 * The specs of a signature's inputs or outputs, keyed and ordered by signature name; `[]`
 * when `entries` is not a signature map. `known` gives what the graph itself says of a
 * tensor, for what the signature leaves out; entries whose tensor the graph lacks are left
 * out, as TF.js leaves them out.
 */
export function specsFromSignature(entries: unknown, known: (tensorName: string) => TensorSpec | undefined): TensorSpec[] {
  if (!isObject(entries)) return [];
  const specs: TensorSpec[] = [];
  for (const [key, raw] of Object.entries(entries)) {
    if (!isObject(raw)) continue;
    const entry = raw as SignatureTensor;
    if (entry.resourceId !== undefined && entry.resourceId !== null) continue;
    const tensorName = typeof entry.name === 'string' ? entry.name : key;
    const graph = known(tensorName);
    if (!graph) continue;
    const tfDtype = typeof entry.dtype === 'string' && entry.dtype in TF_TO_TFJS ? entry.dtype : undefined;
    const shape = shapeOf(entry.tensorShape ?? entry.tensor_shape);
    specs.push({
      name: key,
      dtype: tfDtype ? TF_TO_TFJS[tfDtype] : graph.dtype,
      shape: shape === undefined ? graph.shape : shape,
      ...(tfDtype ?? graph.tfDtype ? { tfDtype: tfDtype ?? graph.tfDtype } : {}),
      tensorName,
    });
  }
  return specs;
}

/**
 * A TensorShapeProto in JSON: `{"dim": [{"size": "-1"}, ...]}` (sizes as strings or
 * numbers), `{}` for a scalar, `{"unknownRank": true}` for no known rank (null); undefined
 * when absent or unreadable.
 */
function shapeOf(value: unknown): (number | null)[] | null | undefined {
  if (!isObject(value)) return undefined;
  if (value.unknownRank === true || value.unknown_rank === true) return null;
  if (value.dim === undefined) return [];
  if (!Array.isArray(value.dim)) return undefined;
  const dims: (number | null)[] = [];
  for (const d of value.dim) {
    const size = isObject(d) ? Number(d.size ?? -1) : NaN;
    if (!Number.isSafeInteger(size)) return undefined;
    dims.push(size < 0 ? null : size);
  }
  return dims;
}

/** A TensorInfo as TF Serving's metadata API answers it (proto3 JSON, int64 sizes as strings). */
export function tensorInfoJson(spec: TensorSpec): Record<string, unknown> {
  return {
    dtype: tfDtypeOf(spec),
    tensor_shape: spec.shape === null
      ? { dim: [], unknown_rank: true }
      : { dim: spec.shape.map((d) => ({ size: String(d ?? -1), name: '' })), unknown_rank: false },
    name: spec.tensorName ?? `${spec.name}:0`,
  };
}
