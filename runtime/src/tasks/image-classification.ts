// Image classification: bytes -> decode (sharp) -> the model's own preprocessing ->
// one batched prediction -> top-k labels. Each image that cannot be decoded gets its
// own error; the others are still classified.
import { decodeImage, imagePixels } from '../image-decode';
import { PixelBudget } from '../pixel-budget';
import { batchImagesToTensor, resolveInputSize } from '../image-preprocess';
import { topK, rows } from './postprocess';
import { ConfigurationError, PayloadTooLargeError, UnprocessableError } from '../errors';
import { MAX_IMAGES_PER_REQUEST } from '../constants';
import { outputWidth } from './output-width';
import type { Tf } from '../backend';
import type { ServableModel, TensorSpec } from '../model';
import type { ImageClassificationTaskConfig } from '../task-config';
import type { LabelScore } from './postprocess';
import type { DecodedImage } from '../image-decode';
import type { Tensor } from '@tensorflow/tfjs';

export interface ImageLimits {
  /** The most pixels one image may have; a request's images together may have no more. */
  readonly maxImagePixels: number;
}

export class ImageClassifier {
  public readonly input: TensorSpec;
  private readonly size: [number, number];
  private readonly channels: 1 | 3;
  private readonly k: number;
  private readonly preprocess: ImageClassificationTaskConfig & { readonly inputDtype: 'float32' | 'int32' };
  /** The pixels being decoded and resized at once, across requests: at most the pixel limit. */
  private readonly budget: PixelBudget;

  public constructor(private readonly tf: Tf, private readonly model: ServableModel, private readonly task: ImageClassificationTaskConfig, private readonly limits: ImageLimits) {
    this.size = resolveInputSize(task.inputSize);
    this.channels = task.channels ?? 3;
    this.input = model.inputs[0];
    if (model.inputs.length !== 1) {
      throw new Error(`The image-classification task needs a model with one image input; this model has ${model.inputs.length} (${model.inputs.map((i) => i.name).join(', ')}). Use the tensor task.`);
    }
    const shape = this.input.shape;
    if (shape && shape.length !== 4) {
      throw new Error(`The image-classification task needs an input of shape [batch, height, width, channels]; the model's input '${this.input.name}' has ${JSON.stringify(shape)}.`);
    }
    if (shape) {
      const [, h, w, c] = shape;
      if ((h !== null && h !== this.size[0]) || (w !== null && w !== this.size[1])) {
        throw new Error(`The task's inputSize ${JSON.stringify(task.inputSize)} does not match the model's input ${JSON.stringify(shape)}: set inputSize to [${h}, ${w}].`);
      }
      if (c !== null && c !== this.channels) {
        throw new Error(`The task's channels (${this.channels}) do not match the model's input channels (${c}): set "channels": ${c}.`);
      }
    }
    // Labels name the model's classes: a count that differs would answer wrong names (S3
    // models are checked here, at init; a model at synth is checked by the construct too).
    const classes = outputWidth(model);
    if (task.labels && classes !== undefined && task.labels.length !== classes) {
      throw new ConfigurationError(`The task's labels name ${task.labels.length} classes, but the model's output '${model.outputs[0].name}' scores ${classes}: give ${classes} labels, in the order of the model's outputs, or omit labels to answer class indices.`);
    }
    this.k = task.topK ?? Math.min(5, model.outputs[0]?.shape?.[1] ?? 5);
    // Models exported with uint8/int32 image inputs take raw pixel values.
    this.preprocess = { ...task, inputDtype: this.input.dtype === 'int32' ? 'int32' : 'float32' };
    this.budget = new PixelBudget(Math.max(1, Math.floor(Math.min(limits.maxImagePixels, Number.MAX_SAFE_INTEGER))));
  }

  /**
   * Classifies each image; an image that fails gets its error in its place. More than
   * MAX_IMAGES_PER_REQUEST images, or more pixels in all than one image may have, are
   * refused as a whole (413) before any pixel is decoded. Decoding and resizing wait for
   * the request's pixels in the process's pixel budget, so concurrent requests never hold
   * more decoded pixels than the limit.
   */
  public async classify(images: readonly Uint8Array[]): Promise<(LabelScore[] | Error)[]> {
    const pixels = await this.checkRequestSize(images);
    const { results, good, x } = await this.budget.run(pixels, () => this.prepare(images));
    if (!x) return results;
    const scores = await this.scores(x, good.length);
    good.forEach((i, j) => {
      results[i] = topK(scores[j], this.task.labels, this.k, this.task.softmax);
    });
    return results;
  }

  /** Decodes the images and builds the model's input batch from those that decoded (`good`, their indices). */
  private async prepare(images: readonly Uint8Array[]) {
    const decoded = await Promise.all(images.map((bytes) => this.decode(bytes).catch((err: Error) => err)));
    const good = decoded.flatMap((d, i) => (d instanceof Error ? [] : [i]));
    const results: (LabelScore[] | Error)[] = decoded.map((d) => (d instanceof Error ? d : []));
    const x = good.length ? batchImagesToTensor(this.tf, good.map((i) => decoded[i] as DecodedImage), this.preprocess) : undefined;
    return { results, good, x };
  }

  /** The pixels of the request's images, from their headers; 413 when they are too many. */
  private async checkRequestSize(images: readonly Uint8Array[]): Promise<number> {
    const split = `Send at most ${MAX_IMAGES_PER_REQUEST} images per request (split the request), or, for many images, an S3 batch input (JSON Lines, one {"b64": ...} per line).`;
    if (images.length > MAX_IMAGES_PER_REQUEST) {
      throw new PayloadTooLargeError(`The request has ${images.length} images; the limit is ${MAX_IMAGES_PER_REQUEST} images per request. ${split}`);
    }
    const max = this.limits.maxImagePixels;
    const pixels = await Promise.all(images.map((bytes) => imagePixels(bytes)));
    const total = pixels.reduce<number>((sum, n) => sum + (n ?? 0), 0);
    // One image over the limit is refused by decodeImage, with its own size in the message.
    if (images.length > 1 && total > max) {
      throw new PayloadTooLargeError(`The request's ${images.length} images have ${total} pixels in all; the limit is ${max} pixels per request (the most one image may have). Send fewer or smaller images per request: downscale them to about the model's input size (${this.size[1]}x${this.size[0]}), or split the request.`);
    }
    return total;
  }

  /** One prediction on a blank image: compiles kernels and allocates buffers during init. */
  public async warmUp(): Promise<void> {
    const [h, w] = this.size;
    const pixels = { data: new Uint8Array(h * w * this.channels), width: w, height: h, channels: this.channels };
    await this.scores(batchImagesToTensor(this.tf, [pixels], this.preprocess), 1);
  }

  private decode(bytes: Uint8Array) {
    const resize = this.task.resize ?? 'tf-bilinear';
    return decodeImage(bytes, {
      channels: this.channels,
      maxPixels: this.limits.maxImagePixels,
      resize: resize.startsWith('sharp-')
        ? { width: this.size[1], height: this.size[0], kernel: resize.slice('sharp-'.length) as 'lanczos3' | 'linear' | 'cubic' | 'nearest' }
        : undefined,
      ignoreIccProfile: this.task.ignoreIccProfile,
    });
  }

  /** Runs the model on the input batch `x` of `n` images (and disposes it): their scores. */
  private async scores(x: Tensor, n: number): Promise<ArrayLike<number>[]> {
    let outputs: Record<string, Tensor> = {};
    try {
      outputs = await this.model.run({ [this.input.name]: x });
      const y = outputs[this.model.outputs[0].name];
      if (y.shape.length !== 2) {
        throw new UnprocessableError(`The model's output has shape [${y.shape.join(',')}]; image classification needs [batch, classes]. Use the tensor task.`);
      }
      return rows(await y.data() as Float32Array, n);
    } finally {
      this.tf.dispose([x, outputs]);
    }
  }
}
