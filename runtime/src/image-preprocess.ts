// Decoded pixels -> the model's input tensor, as the task config says: resize with TF's own
// ops (what training pipelines used), cast, normalise, batch. The tf namespace is passed in
// because the runtime picks the backend at init (tfjs-node, tfjs-node-gpu or wasm, all on
// the one tfjs-core instance); this module never imports tfjs at run time.
import type * as tfType from '@tensorflow/tfjs';
import type { Normalization, ResizeMethod } from './task-config';

type Tf = typeof tfType;

/** Decoded image pixels: uint8, row-major, height x width x channels. */
export interface ImagePixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

/** The parts of a task config that preprocessing reads. */
export interface ImagePreprocessConfig {
  /** Model input height and width: one number for square inputs, else [height, width]. */
  readonly inputSize: number | readonly [number, number];
  /** Default 'tf-bilinear'. With 'sharp-*', decodeImage has already resized. */
  readonly resize?: ResizeMethod;
  /** tf-bilinear / tf-nearest only. Default false. */
  readonly alignCorners?: boolean;
  /**
   * tf-bilinear / tf-nearest only. Default false (TF1's resize_bilinear). TF2's
   * tf.image.resize and Keras' Resizing layer use half-pixel centres.
   */
  readonly halfPixelCenters?: boolean;
  /** Default 'zero-one' for float32 input, 'none' for int32 input. */
  readonly normalization?: Normalization;
  /** The model input's dtype. Default 'float32'. int32 inputs get rounded 0..255 values. */
  readonly inputDtype?: 'float32' | 'int32';
}

/** [height, width] of the model input. */
export function resolveInputSize(inputSize: number | readonly [number, number]): [number, number] {
  const size: [number, number] = typeof inputSize === 'number' ? [inputSize, inputSize] : [inputSize[0], inputSize[1]];
  const ok = (Array.isArray(inputSize) ? inputSize.length === 2 : typeof inputSize === 'number')
    && size.every((n) => Number.isInteger(n) && n > 0);
  if (!ok) {
    throw new Error(`inputSize must be a positive integer or [height, width] of positive integers, not ${JSON.stringify(inputSize)}.`);
  }
  return size;
}

/**
 * Checks a normalisation against the image channels. A mismatch is the deployment's
 * configuration disagreeing with itself (task channels vs mean/std), not something a
 * client sent, so it is a plain Error (a 500, and a failed warm-up at init) rather than a
 * 4xx that would tell the client to change its request.
 */
function checkNormalization(normalization: Normalization, channels: number, dtype: 'float32' | 'int32'): void {
  if (typeof normalization === 'object') {
    const { mean, std } = normalization;
    if (!Array.isArray(mean) || !Array.isArray(std) || mean.length !== channels || std.length !== channels) {
      throw new Error(`normalization mean and std need one value per channel (${channels}); got mean ${JSON.stringify(mean)} and std ${JSON.stringify(std)}.`);
    }
    if (![...mean, ...std].every((v) => typeof v === 'number' && Number.isFinite(v)) || std.some((v) => v === 0)) {
      throw new Error(`normalization mean and std must be finite numbers and std non-zero; got mean ${JSON.stringify(mean)} and std ${JSON.stringify(std)}.`);
    }
  } else if (normalization !== 'zero-one' && normalization !== 'minus-one-one' && normalization !== 'none') {
    throw new Error(`Unknown normalization ${JSON.stringify(normalization)}: use 'zero-one', 'minus-one-one', 'none' or { mean, std }.`);
  }
  if (dtype === 'int32' && normalization !== 'none') {
    throw new Error(`An int32 model input takes raw 0..255 pixel values; set normalization to 'none' (it is ${JSON.stringify(normalization)}).`);
  }
}

/** One image to a float32 [H, W, C] tensor of 0..255 values at the model's size. Call inside tidy. */
function resized(tf: Tf, pixels: ImagePixels, task: ImagePreprocessConfig, [h, w]: [number, number]): tfType.Tensor3D {
  const { data, width, height, channels } = pixels;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0) || (channels !== 1 && channels !== 3)) {
    throw new Error(`Invalid image pixels: ${width}x${height}x${channels}.`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`Image pixels hold ${data.length} values; ${width}x${height}x${channels} needs ${width * height * channels}.`);
  }
  // float32 from the start: resizing an int32 tensor would cast a second full-size copy first.
  const x = tf.tensor3d(data, [height, width, channels], 'float32');
  const method = task.resize ?? 'tf-bilinear';
  if (height === h && width === w) return tf.cast(x, 'float32');
  if (method.startsWith('sharp-')) {
    // decodeImage resizes in sharp for these methods; a different size here is a bug upstream.
    throw new Error(`With resize '${method}' the image should already be ${w}x${h} (decodeImage resizes), but it is ${width}x${height}.`);
  }
  const alignCorners = task.alignCorners ?? false;
  const halfPixelCenters = task.halfPixelCenters ?? false;
  if (method === 'tf-nearest') {
    return tf.cast(tf.image.resizeNearestNeighbor(x, [h, w], alignCorners, halfPixelCenters), 'float32');
  }
  if (method === 'tf-bilinear') {
    return tf.cast(tf.image.resizeBilinear(x, [h, w], alignCorners, halfPixelCenters), 'float32');
  }
  throw new Error(`Unknown resize method ${JSON.stringify(method)}.`);
}

/** Normalises float32 0..255 values and casts to the model's dtype. Call inside tidy. */
function normalised<T extends tfType.Tensor>(tf: Tf, x: T, normalization: Normalization, dtype: 'float32' | 'int32'): T {
  if (dtype === 'int32') return tf.cast(tf.round(x), 'int32');
  if (normalization === 'zero-one') return tf.div(x, 255);
  if (normalization === 'minus-one-one') return tf.sub(tf.div(x, 127.5), 1);
  if (normalization === 'none') return x;
  // Broadcasts over the last (channel) axis.
  return tf.div(tf.sub(tf.div(x, 255), tf.tensor1d(normalization.mean as number[])), tf.tensor1d(normalization.std as number[]));
}

function settings(task: ImagePreprocessConfig, channels: number) {
  const dtype = task.inputDtype ?? 'float32';
  const normalization = task.normalization ?? (dtype === 'int32' ? 'none' : 'zero-one');
  checkNormalization(normalization, channels, dtype);
  return { dtype, normalization, size: resolveInputSize(task.inputSize) };
}

/** One image to the model input, [1, H, W, C]. The caller disposes the returned tensor. */
export function imageToTensor(tf: Tf, pixels: ImagePixels, task: ImagePreprocessConfig): tfType.Tensor4D {
  const { dtype, normalization, size } = settings(task, pixels.channels);
  return tf.tidy(() => normalised(tf, tf.expandDims<tfType.Tensor4D>(resized(tf, pixels, task, size), 0), normalization, dtype));
}

/** Several images to one batch, [N, H, W, C]. The caller disposes the returned tensor. */
export function batchImagesToTensor(tf: Tf, list: readonly ImagePixels[], task: ImagePreprocessConfig): tfType.Tensor4D {
  if (list.length === 0) throw new Error('batchImagesToTensor needs at least one image.');
  const channels = list[0].channels;
  if (list.some((p) => p.channels !== channels)) {
    throw new Error(`All images in a batch need the same channels; got ${list.map((p) => p.channels).join(', ')}.`);
  }
  const { dtype, normalization, size } = settings(task, channels);
  return tf.tidy(() => normalised(tf, tf.stack(list.map((p) => resized(tf, p, task, size))) as tfType.Tensor4D, normalization, dtype));
}
