// What the model's inputs and outputs mean, typed for CDK users and serialised into the
// runtime's SERVERLESS_TF_TASK. Preprocessing is part of a model's contract: the resize
// method and normalisation must be the ones the model was trained with.
import { Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { TensorFlowValidationError } from './private/validation-error';

/**
 * The kind of task: the `type` of the runtime's SERVERLESS_TF_TASK JSON, with the same string values.
 */
export enum TaskType {
  /** Images in, labelled classes out (InferenceTask.imageClassification). */
  IMAGE_CLASSIFICATION = 'image-classification',
  /** Named features in, labelled classes or named values out (InferenceTask.tabular). */
  TABULAR = 'tabular',
  /** Raw tensors in and out only (InferenceTask.tensor). */
  TENSOR = 'tensor',
}

/**
 * How images are resized to the model's input size.
 */
export enum ResizeMethod {
  /** tf.image.resizeBilinear: what TensorFlow and Keras training pipelines use. */
  TF_BILINEAR = 'tf-bilinear',
  /** tf.image.resizeNearestNeighbor. */
  TF_NEAREST = 'tf-nearest',
  /** sharp's lanczos3 kernel: faster, but only for models trained with it. */
  SHARP_LANCZOS3 = 'sharp-lanczos3',
  /** sharp's linear kernel. */
  SHARP_LINEAR = 'sharp-linear',
  /** sharp's cubic kernel. */
  SHARP_CUBIC = 'sharp-cubic',
  /** sharp's nearest-neighbour kernel. */
  SHARP_NEAREST = 'sharp-nearest',
}

/**
 * How pixel values (0..255) are scaled before they reach the model.
 */
export class Normalization {
  /** x / 255, to [0, 1]. */
  public static zeroOne(): Normalization {
    return new Normalization('zero-one');
  }

  /** x / 127.5 - 1, to [-1, 1] (MobileNet, Inception preprocessing). */
  public static minusOneOne(): Normalization {
    return new Normalization('minus-one-one');
  }

  /** Raw 0..255 values (models with their own preprocessing layer). */
  public static none(): Normalization {
    return new Normalization('none');
  }

  /**
   * (x / 255 - mean) / std per channel (ImageNet: mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]).
   */
  public static meanStd(mean: number[], std: number[]): Normalization {
    return new Normalization(undefined, mean, std);
  }

  private constructor(private readonly name?: string, private readonly mean?: number[], private readonly std?: number[]) {}

  /** The runtime's JSON form. @internal */
  public _render(scope: IConstruct, channels: number): unknown {
    if (this.name) return this.name;
    if (!Token.isUnresolved(channels) && (this.mean!.length !== channels || this.std!.length !== channels)) {
      throw new TensorFlowValidationError(scope, `Normalization.meanStd needs ${channels} values each for mean and std (one per channel); got ${this.mean!.length} and ${this.std!.length}.`);
    }
    if (this.std!.some((s) => !Token.isUnresolved(s) && !(s > 0))) throw new TensorFlowValidationError(scope, `Normalization.meanStd: every std must be > 0; got [${this.std!.join(', ')}].`);
    return { mean: this.mean, std: this.std };
  }
}

/** Limits of WarmUpInput.shapes, as the runtime checks them (runtime/src/config.ts validateWarmUp). */
const WARM_UP_MAX_RANK = 32;
const WARM_UP_MAX_DIM = 65536;
const WARM_UP_MAX_VALUES = 100_000_000;

/**
 * The warm-up prediction the runtime makes at init, before the first request, so that no
 * request pays for the model's first run. By default it runs zeros in every input's shape,
 * free dimensions set to 1 (image classification: a blank image of the input size; tabular:
 * one row of zeros). Models with dynamic shapes may not take that: give the shapes they
 * take, or turn the warm-up off.
 */
export class WarmUpInput {
  /**
   * No warm-up prediction: the model is loaded at init, and the first request runs it
   * first (slower by the model's first-run cost).
   */
  public static off(): WarmUpInput {
    return new WarmUpInput(undefined);
  }

  /**
   * Zeros in these shapes, per input name, batch dimension included (e.g.
   * `{ input_ids: [1, 128] }`); inputs not named get their free dimensions set to 1.
   * Tensor tasks only: the other tasks warm up on an input of their own size.
   *
   * @param shapes the shape of each named input: 1 to 32 whole numbers from 1 to 65536, at most 100,000,000 values
   */
  public static shapes(shapes: { [input: string]: number[] }): WarmUpInput {
    return new WarmUpInput(shapes);
  }

  private constructor(private readonly inputShapes: { [input: string]: number[] } | undefined) {}

  /** The runtime's JSON form of `warmUp`, checked for the task `task`. @internal */
  public _render(scope: IConstruct, task: string, shapesAllowed: boolean): unknown {
    if (this.inputShapes === undefined) return false;
    const where = `InferenceTask.${task} warmUpInput`;
    if (!shapesAllowed) {
      throw new TensorFlowValidationError(scope, `${where}: WarmUpInput.shapes is for tensor tasks; this task warms up on an input of its own size. Use WarmUpInput.off() to turn the warm-up off, or leave warmUpInput unset.`);
    }
    const entries = Object.entries(this.inputShapes);
    if (entries.length === 0) {
      throw new TensorFlowValidationError(scope, `${where}: WarmUpInput.shapes needs at least one input name with its shape, e.g. { input_ids: [1, 128] }; to warm up on the default zeros, leave warmUpInput unset.`);
    }
    for (const [name, shape] of entries) {
      if (name === '') throw new TensorFlowValidationError(scope, `${where}: WarmUpInput.shapes has an empty input name; use the model's input names.`);
      if (!Array.isArray(shape) || shape.length < 1 || shape.length > WARM_UP_MAX_RANK) {
        throw new TensorFlowValidationError(scope, `${where}: the shape of '${name}' must list 1 to ${WARM_UP_MAX_RANK} dimensions, batch dimension included; got ${JSON.stringify(shape)}.`);
      }
      if (shape.some((d) => Token.isUnresolved(d))) continue;
      if (!shape.every((d) => Number.isInteger(d) && d >= 1 && d <= WARM_UP_MAX_DIM)) {
        throw new TensorFlowValidationError(scope, `${where}: every dimension of '${name}' must be a whole number from 1 to ${WARM_UP_MAX_DIM} (a free dimension needs the size to warm up with); got [${shape.join(', ')}].`);
      }
      const values = shape.reduce((n, d) => n * d, 1);
      if (values > WARM_UP_MAX_VALUES) {
        throw new TensorFlowValidationError(scope, `${where}: '${name}' of shape [${shape.join(', ')}] holds ${values} values, more than ${WARM_UP_MAX_VALUES.toLocaleString('en-US')}; warm up with a smaller input.`);
      }
    }
    return { inputs: this.inputShapes };
  }
}

/**
 * Image classification: images in (JPEG, PNG, WebP, GIF), top-k labels out.
 */
export interface ImageClassificationProps {
  /**
   * The model's input height and width for square inputs.
   *
   * @default - inputHeight and inputWidth must be given
   */
  readonly inputSize?: number;
  /**
   * The model's input height, for non-square inputs.
   *
   * @default inputSize
   */
  readonly inputHeight?: number;
  /**
   * The model's input width, for non-square inputs.
   *
   * @default inputSize
   */
  readonly inputWidth?: number;
  /**
   * Colour channels: 3 (RGB) or 1 (greyscale).
   *
   * @default 3
   */
  readonly channels?: number;
  /**
   * How images are resized to the input size: the method the model was trained with.
   *
   * @default ResizeMethod.TF_BILINEAR
   */
  readonly resize?: ResizeMethod;
  /**
   * Align corners when resizing with a tf-* method (TF1-era models, and nsfwjs).
   *
   * @default false
   */
  readonly alignCorners?: boolean;
  /**
   * Half-pixel centres when resizing with a tf-* method (TF2's tf.image.resize and Keras' Resizing layer).
   *
   * @default false
   */
  readonly halfPixelCenters?: boolean;
  /**
   * Pixel scaling.
   *
   * @default Normalization.zeroOne()
   */
  readonly normalization?: Normalization;
  /**
   * Class labels in the order of the model's outputs.
   *
   * @default - "0", "1", ...
   */
  readonly labels?: string[];
  /**
   * How many classes each answer lists, best first.
   *
   * @default 5, or fewer when the model has fewer classes
   */
  readonly topK?: number;
  /**
   * Apply softmax to the output, for models that output logits.
   *
   * @default false
   */
  readonly softmax?: boolean;
  /**
   * Decode the stored pixels and ignore an embedded ICC colour profile, as TensorFlow's and
   * Pillow's decoders do: set it for a model trained on images read that way (tf.io,
   * Keras utilities, Pillow), so that photos with a profile (e.g. Adobe RGB) get the answers
   * the model gives in Python.
   *
   * @default false - an embedded profile is applied (pixels converted to sRGB)
   */
  readonly ignoreIccProfile?: boolean;
  /**
   * The warm-up prediction at init: `WarmUpInput.off()` to skip it.
   *
   * @default - a blank image of the input size
   */
  readonly warmUpInput?: WarmUpInput;
}

/**
 * Tabular prediction: named feature columns in (JSON objects or CSV rows).
 */
export interface TabularProps {
  /** Feature names, in the order of the model's input vector. */
  readonly features: string[];
  /**
   * Class labels, for classifiers (one output score per label).
   *
   * @default - no labels: raw outputs, or named by outputNames
   */
  readonly labels?: string[];
  /**
   * Output names, for regressors (one output value per name).
   *
   * @default - raw output arrays
   */
  readonly outputNames?: string[];
  /**
   * For classifiers, how many classes each answer lists.
   *
   * @default - all labels
   */
  readonly topK?: number;
  /**
   * Apply softmax to the output.
   *
   * @default false
   */
  readonly softmax?: boolean;
  /**
   * The warm-up prediction at init: `WarmUpInput.off()` to skip it.
   *
   * @default - one row of zeros
   */
  readonly warmUpInput?: WarmUpInput;
}

/**
 * Raw tensors in and out.
 */
export interface TensorTaskProps {
  /**
   * The warm-up prediction at init: the shapes per input for models with dynamic shapes
   * (`WarmUpInput.shapes({ input_ids: [1, 128] })`), or `WarmUpInput.off()`.
   *
   * @default - zeros in every input's shape, free dimensions set to 1
   */
  readonly warmUpInput?: WarmUpInput;
}

/**
 * The runtime task configuration, rendered.
 */
export interface InferenceTaskConfig {
  /** The kind of task. Its string value is the JSON's `type`. */
  readonly type: TaskType;
  /** The JSON the runtime reads from SERVERLESS_TF_TASK. */
  readonly json: string;
}

/**
 * What the model does with its inputs. Every task also serves raw tensors (TF Serving
 * REST and KServe V2).
 */
export abstract class InferenceTask {
  /** Images in, labelled classes out (POST /classify). */
  public static imageClassification(props: ImageClassificationProps): InferenceTask {
    return new ImageClassificationTask(props);
  }

  /** Named features in, labelled classes or named values out. */
  public static tabular(props: TabularProps): InferenceTask {
    return new TabularTask(props);
  }

  /** Raw tensors in and out only. */
  public static tensor(props: TensorTaskProps = {}): InferenceTask {
    return new TensorTask(props);
  }

  /** Renders and validates the task for a function in `scope`. */
  public abstract bind(scope: IConstruct): InferenceTaskConfig;
}

class ImageClassificationTask extends InferenceTask {
  public constructor(private readonly props: ImageClassificationProps) {
    super();
  }

  public bind(scope: IConstruct): InferenceTaskConfig {
    const p = this.props;
    const height = p.inputHeight ?? p.inputSize;
    const width = p.inputWidth ?? p.inputSize;
    for (const [name, own] of [['inputHeight', p.inputHeight], ['inputWidth', p.inputWidth]] as const) {
      // The error names the prop the value came from: inputSize when it stands for both.
      const [prop, value] = own !== undefined ? [name, own] : ['inputSize', p.inputSize];
      if (value === undefined) {
        throw new TensorFlowValidationError(scope, `InferenceTask.imageClassification needs inputSize (square inputs) or both inputHeight and inputWidth; ${name} is missing.`);
      }
      checkInt(scope, `imageClassification ${prop}`, value, 1, 8192);
    }
    const channels = p.channels ?? 3;
    if (!Token.isUnresolved(channels) && channels !== 1 && channels !== 3) throw new TensorFlowValidationError(scope, `InferenceTask.imageClassification channels must be 1 or 3; got ${channels}.`);
    if (p.topK !== undefined) checkInt(scope, 'imageClassification topK', p.topK, 1, 10_000);
    if (p.labels && p.labels.length === 0) throw new TensorFlowValidationError(scope, 'InferenceTask.imageClassification labels must not be empty; omit it to answer class indices.');
    const config = {
      type: TaskType.IMAGE_CLASSIFICATION,
      inputSize: height === width ? height : [height, width],
      channels,
      resize: p.resize ?? ResizeMethod.TF_BILINEAR,
      ...(p.alignCorners !== undefined ? { alignCorners: p.alignCorners } : {}),
      ...(p.halfPixelCenters !== undefined ? { halfPixelCenters: p.halfPixelCenters } : {}),
      normalization: (p.normalization ?? Normalization.zeroOne())._render(scope, channels),
      ...(p.labels ? { labels: p.labels } : {}),
      ...(p.topK !== undefined ? { topK: p.topK } : {}),
      ...(p.softmax !== undefined ? { softmax: p.softmax } : {}),
      ...(p.ignoreIccProfile !== undefined ? { ignoreIccProfile: p.ignoreIccProfile } : {}),
      ...(p.warmUpInput ? { warmUp: p.warmUpInput._render(scope, 'imageClassification', false) } : {}),
    };
    return { type: config.type, json: JSON.stringify(config) };
  }
}

class TabularTask extends InferenceTask {
  public constructor(private readonly props: TabularProps) {
    super();
  }

  public bind(scope: IConstruct): InferenceTaskConfig {
    const p = this.props;
    if (p.features.length === 0) throw new TensorFlowValidationError(scope, 'InferenceTask.tabular features must list the feature names, in the order of the model\'s input vector.');
    const duplicates = p.features.filter((f, i) => p.features.indexOf(f) !== i);
    if (duplicates.length) throw new TensorFlowValidationError(scope, `InferenceTask.tabular features has duplicate names: ${[...new Set(duplicates)].join(', ')}.`);
    if (p.labels && p.outputNames) throw new TensorFlowValidationError(scope, 'InferenceTask.tabular: give labels (a classifier) or outputNames (a regressor), not both.');
    if (p.topK !== undefined) checkInt(scope, 'tabular topK', p.topK, 1, 10_000);
    const config = {
      type: TaskType.TABULAR,
      features: p.features,
      ...(p.labels ? { labels: p.labels } : {}),
      ...(p.outputNames ? { outputNames: p.outputNames } : {}),
      ...(p.topK !== undefined ? { topK: p.topK } : {}),
      ...(p.softmax !== undefined ? { softmax: p.softmax } : {}),
      ...(p.warmUpInput ? { warmUp: p.warmUpInput._render(scope, 'tabular', false) } : {}),
    };
    return { type: config.type, json: JSON.stringify(config) };
  }
}

class TensorTask extends InferenceTask {
  public constructor(private readonly props: TensorTaskProps) {
    super();
  }

  public bind(scope: IConstruct): InferenceTaskConfig {
    const warmUp = this.props.warmUpInput?._render(scope, 'tensor', true);
    return { type: TaskType.TENSOR, json: JSON.stringify({ type: TaskType.TENSOR, ...(warmUp !== undefined ? { warmUp } : {}) }) };
  }
}

function checkInt(scope: IConstruct, name: string, value: number, min: number, max: number): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TensorFlowValidationError(scope, `InferenceTask.${name} must be a whole number from ${min} to ${max}; got ${value}.`);
  }
}
