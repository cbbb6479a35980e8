// Memory and /tmp sizing from the model's size, and the limits Lambda enforces.
import { SizeRoundingBehavior } from 'aws-cdk-lib';
import type { Size } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { TensorFlowValidationError } from './validation-error';

const MIB = 1024 * 1024;

/** Lambda's memory limits, in MiB. */
export const MAX_MEMORY_MIB = 10_240;

/** The smallest memory we choose: 2048 MiB also buys more than one vCPU (1769 MiB = 1 vCPU). */
export const AUTO_MEMORY_FLOOR_MIB = 2048;

/** Runtime, TensorFlow library, sharp and request buffers, before the model. */
export const RUNTIME_OVERHEAD_MIB = 1536;

/**
 * Weights take their size once on disk and again, dequantised to float32 and as backend
 * buffers, several times over in memory while activations are computed.
 */
export const MEMORY_PER_MODEL_MIB = 14;

/** Memory when the model's size is unknown (a model in S3 without a size hint). */
export const UNKNOWN_MODEL_MEMORY_MIB = 2048;

/**
 * memoryMiB = clamp(roundUp64(1536 + 14 x modelMiB), 2048, 10240).
 * A 14 MB MobileNet gets 2048 MiB; a 440 MB BERT-base gets 7744 MiB.
 */
export function autoMemoryMiB(modelBytes: number | undefined): number {
  if (modelBytes === undefined) return UNKNOWN_MODEL_MEMORY_MIB;
  const wanted = Math.ceil((RUNTIME_OVERHEAD_MIB + MEMORY_PER_MODEL_MIB * (modelBytes / MIB)) / 64) * 64;
  return Math.min(MAX_MEMORY_MIB, Math.max(AUTO_MEMORY_FLOOR_MIB, wanted));
}

/** The least memory a model can load in at all: the runtime plus twice the weights. */
export function minimumMemoryMiB(modelBytes: number): number {
  return Math.ceil(RUNTIME_OVERHEAD_MIB / 2 + 2 * (modelBytes / MIB));
}

/** Lambda's /tmp limits, in MiB. */
export const MIN_EPHEMERAL_MIB = 512;
export const MAX_EPHEMERAL_MIB = 10_240;

/** /tmp when the model's size is unknown. */
export const UNKNOWN_MODEL_EPHEMERAL_MIB = 2048;

/** /tmp for a model downloaded at init: the model plus a quarter, and 256 MiB for the rest. */
export function ephemeralForModelMiB(modelBytes: number | undefined): number {
  if (modelBytes === undefined) return UNKNOWN_MODEL_EPHEMERAL_MIB;
  const wanted = Math.ceil((256 + 1.25 * (modelBytes / MIB)) / 64) * 64;
  return Math.max(MIN_EPHEMERAL_MIB, wanted);
}

export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

/**
 * A Size prop in whole bytes (rounded down) for a runtime variable that counts bytes. A token
 * passes through when it is given as Size.bytes: no other unit can be multiplied out at synth
 * time, so that is an error that names the prop.
 */
export function bytesOf(scope: IConstruct, prop: string, size: Size): number {
  if (!size.isUnresolved()) return size.toBytes({ rounding: SizeRoundingBehavior.FLOOR });
  try {
    return size.toBytes();
  } catch {
    throw new TensorFlowValidationError(scope, `${prop} from a token must be given in bytes, Size.bytes(value): the runtime counts bytes, and a token cannot be converted from another unit at synth time; got a token in ${size.toHumanString().split(' ').pop()}.`);
  }
}
