// The task configuration (SERVERLESS_TF_TASK, JSON): what the model's inputs and
// outputs mean. Preprocessing is part of a model's contract, so it lives here.

/** How an image is resized to the model's input size. */
export const RESIZE_METHODS = [
  'tf-bilinear', // tf.image.resizeBilinear: what Keras/TF training pipelines use
  'tf-nearest', // tf.image.resizeNearestNeighbor
  'sharp-lanczos3', // sharp's kernels: faster, but not what most models were trained with
  'sharp-linear',
  'sharp-cubic',
  'sharp-nearest',
] as const;
export type ResizeMethod = (typeof RESIZE_METHODS)[number];

/** Per-channel normalisation, applied to pixel values. */
export type Normalization =
  | 'zero-one' // x / 255
  | 'minus-one-one' // x / 127.5 - 1
  | 'none' // raw 0..255
  | { readonly mean: readonly number[]; readonly std: readonly number[] }; // (x/255 - mean) / std

/**
 * The warm-up prediction made at init, before the first request: zeros in every input's
 * shape, free dimensions set to 1. Models with dynamic shapes may not take that.
 */
export interface WarmUpConfig {
  /**
   * Tensor task: the shape of the zeros per input name, batch dimension included (e.g.
   * `{"input_ids": [1, 128]}`); inputs not named get their free dimensions set to 1.
   */
  readonly inputs?: Readonly<Record<string, readonly number[]>>;
}

/** `false` turns the warm-up off: the model is loaded at init, and the first request runs it first. */
export type WarmUpSetting = false | WarmUpConfig;

export interface ImageClassificationTaskConfig {
  readonly type: 'image-classification';
  /** Default: warm up on a blank image of the input size. */
  readonly warmUp?: WarmUpSetting;
  /** Model input height and width in pixels: one number for square inputs. */
  readonly inputSize: number | readonly [number, number];
  /** 3 for RGB (default), 1 for greyscale. */
  readonly channels?: 1 | 3;
  /** Default 'tf-bilinear'. */
  readonly resize?: ResizeMethod;
  /** tf-bilinear / tf-nearest only. Default false. */
  readonly alignCorners?: boolean;
  /**
   * tf-bilinear / tf-nearest only. Default false (TF1's resize_bilinear); TF2's
   * tf.image.resize and Keras' Resizing layer use half-pixel centres.
   */
  readonly halfPixelCenters?: boolean;
  /**
   * Decode the stored pixel values, ignoring an embedded ICC profile, as TensorFlow's
   * decoders (tf.io.decode_jpeg, tf.io.decode_png) do, and so the pipelines most models are
   * trained with. Default false: a photo with a profile (Adobe RGB, Display P3) is converted
   * to sRGB first.
   */
  readonly ignoreIccProfile?: boolean;
  /** Default 'zero-one' ('none' for models whose input is int32). */
  readonly normalization?: Normalization;
  /** Class labels in output order. Default: "0", "1", ... */
  readonly labels?: readonly string[];
  /** How many classes to answer. Default 5 (or the number of classes when fewer). */
  readonly topK?: number;
  /** Apply softmax to the output (for models that output logits). Default false. */
  readonly softmax?: boolean;
}

export interface TabularTaskConfig {
  readonly type: 'tabular';
  /** Default: warm up on one row of zeros. */
  readonly warmUp?: WarmUpSetting;
  /** Feature names, in the order of the model's input vector. */
  readonly features: readonly string[];
  /** Class labels for classifiers (the output is one score per label). */
  readonly labels?: readonly string[];
  /** Output names for regressors (the output is one value per name). */
  readonly outputNames?: readonly string[];
  /** Classification: how many classes to answer. Default: all. */
  readonly topK?: number;
  /** Apply softmax to the output. Default false. */
  readonly softmax?: boolean;
}

export interface TensorTaskConfig {
  readonly type: 'tensor';
  /** Default: warm up on zeros, free dimensions set to 1. */
  readonly warmUp?: WarmUpSetting;
}

export type TaskConfig = ImageClassificationTaskConfig | TabularTaskConfig | TensorTaskConfig;
