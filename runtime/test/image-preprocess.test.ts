// imageToTensor / batchImagesToTensor on the cpu backend, against hand-computed values and
// against tf's own ops.
import * as tf from '@tensorflow/tfjs';
import { batchImagesToTensor, imageToTensor, resolveInputSize } from '../src/image-preprocess';
import type { ImagePixels } from '../src/image-preprocess';
import { InferenceError } from '../src/errors';

// A 2x2 RGB image, row-major HWC.
const VALUES = [0, 51, 102, 153, 204, 255, 10, 20, 30, 240, 250, 5];
const IMAGE: ImagePixels = { data: Uint8Array.from(VALUES), width: 2, height: 2, channels: 3 };
// A 2x2 greyscale image [[0, 100], [200, 255]].
const GREY: ImagePixels = { data: Uint8Array.from([0, 100, 200, 255]), width: 2, height: 2, channels: 1 };

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, digits = 5) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], digits);
}

/** Runs f, checks it leaves no tensor behind once its result is disposed, returns the values. */
function values(f: () => tf.Tensor): { shape: number[]; dtype: string; data: number[] } {
  const before = tf.memory().numTensors;
  const t = f();
  const out = { shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync()) };
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

test('runs on the cpu backend', () => {
  expect(tf.getBackend()).toBe('cpu');
});

describe('resolveInputSize', () => {
  test('one number is square; a pair is [height, width]', () => {
    expect(resolveInputSize(224)).toEqual([224, 224]);
    expect(resolveInputSize([320, 240])).toEqual([320, 240]);
  });

  test('rejects non-positive, fractional and malformed sizes', () => {
    expect(() => resolveInputSize(0)).toThrow(/inputSize/);
    expect(() => resolveInputSize(22.5)).toThrow(/inputSize/);
    expect(() => resolveInputSize([224] as unknown as [number, number])).toThrow(/inputSize/);
    expect(() => resolveInputSize([224, -1])).toThrow(/inputSize/);
  });
});

describe('imageToTensor normalisation', () => {
  test('zero-one (the default): x / 255, shape [1, 2, 2, 3], float32', () => {
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: 2 }));
    expect(out.shape).toEqual([1, 2, 2, 3]);
    expect(out.dtype).toBe('float32');
    expectClose(out.data, VALUES.map((v) => v / 255));
    expect(values(() => imageToTensor(tf, IMAGE, { inputSize: 2, normalization: 'zero-one' })).data).toEqual(out.data);
  });

  test('minus-one-one: x / 127.5 - 1', () => {
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: 2, normalization: 'minus-one-one' }));
    expectClose(out.data, VALUES.map((v) => v / 127.5 - 1));
    expect(out.data[0]).toBeCloseTo(-1);
    expect(out.data[5]).toBeCloseTo(1);
  });

  test('none: raw 0..255 values', () => {
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: [2, 2], normalization: 'none' }));
    expect(out.dtype).toBe('float32');
    expect(out.data).toEqual(VALUES);
  });

  test('mean/std: (x / 255 - mean) / std per channel', () => {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: 2, normalization: { mean, std } }));
    expectClose(out.data, VALUES.map((v, i) => (v / 255 - mean[i % 3]) / std[i % 3]), 4);

    const grey = values(() => imageToTensor(tf, GREY, { inputSize: 2, normalization: { mean: [0.5], std: [0.25] } }));
    expect(grey.shape).toEqual([1, 2, 2, 1]);
    expectClose(grey.data, [0, 100, 200, 255].map((v) => (v / 255 - 0.5) / 0.25), 4);
  });

  test('mean/std of the wrong length is a plain Error (a deployment misconfiguration, not a 4xx)', () => {
    const before = tf.memory().numTensors;
    for (const normalization of [{ mean: [0.5], std: [0.5] }, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5] }]) {
      let caught: unknown;
      try {
        imageToTensor(tf, IMAGE, { inputSize: 2, normalization });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Error);
      expect(caught).not.toBeInstanceOf(InferenceError);
      expect((caught as Error).message).toMatch(/one value per channel \(3\)/);
    }
    expect(() => imageToTensor(tf, IMAGE, { inputSize: 2, normalization: { mean: [0, 0, 0], std: [1, 0, 1] } })).toThrow(/non-zero/);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('int32 input: raw values, rounded after resizing; other normalisations refused', () => {
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: 2, inputDtype: 'int32' }));
    expect(out.dtype).toBe('int32');
    expect(out.data).toEqual(VALUES);
    const resized = values(() => imageToTensor(tf, GREY, { inputSize: 3, inputDtype: 'int32', alignCorners: true }));
    expect(resized.data[4]).toBe(139); // 138.75 rounded
    expect(() => imageToTensor(tf, IMAGE, { inputSize: 2, inputDtype: 'int32', normalization: 'zero-one' })).toThrow(/normalization to 'none'/);
  });
});

describe('imageToTensor resizing', () => {
  test('bilinear with alignCorners: corners kept, centre is the mean (hand-computed)', () => {
    const out = values(() => imageToTensor(tf, GREY, { inputSize: 3, alignCorners: true, normalization: 'none' }));
    expect(out.shape).toEqual([1, 3, 3, 1]);
    expectClose(out.data, [0, 50, 100, 100, 138.75, 177.5, 200, 227.5, 255]);
  });

  test('alignCorners true and false differ, and each matches tf.image.resizeBilinear', () => {
    const aligned = values(() => imageToTensor(tf, IMAGE, { inputSize: [3, 5], alignCorners: true, normalization: 'none' }));
    const unaligned = values(() => imageToTensor(tf, IMAGE, { inputSize: [3, 5], alignCorners: false, normalization: 'none' }));
    expect(aligned.shape).toEqual([1, 3, 5, 3]);
    expect(unaligned.shape).toEqual([1, 3, 5, 3]);
    expect(aligned.data).not.toEqual(unaligned.data);
    for (const [alignCorners, out] of [[true, aligned], [false, unaligned]] as const) {
      const reference = values(() => tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(VALUES, [1, 2, 2, 3], 'float32'), [3, 5], alignCorners)));
      expectClose(out.data, reference.data);
    }
    // The default is alignCorners false, and halfPixelCenters (TF2's resize) is passed through.
    expect(values(() => imageToTensor(tf, IMAGE, { inputSize: [3, 5], normalization: 'none' })).data).toEqual(unaligned.data);
    const half = values(() => imageToTensor(tf, IMAGE, { inputSize: [3, 5], halfPixelCenters: true, normalization: 'none' }));
    const halfRef = values(() => tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(VALUES, [1, 2, 2, 3], 'float32'), [3, 5], false, true)));
    expect(half.data).not.toEqual(unaligned.data);
    expectClose(half.data, halfRef.data);
  });

  test('tf-nearest repeats pixels and matches tf.image.resizeNearestNeighbor', () => {
    const out = values(() => imageToTensor(tf, GREY, { inputSize: 4, resize: 'tf-nearest', normalization: 'none' }));
    expect(out.shape).toEqual([1, 4, 4, 1]);
    expect(out.data).toEqual([0, 0, 100, 100, 0, 0, 100, 100, 200, 200, 255, 255, 200, 200, 255, 255]);
    const reference = values(() => tf.tidy(() => tf.image.resizeNearestNeighbor(tf.tensor4d([0, 100, 200, 255], [1, 2, 2, 1], 'float32'), [4, 4])));
    expect(out.data).toEqual(reference.data);
  });

  test('resizes to [height, width] of a non-square input', () => {
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: [4, 7] }));
    expect(out.shape).toEqual([1, 4, 7, 3]);
    expect(Math.max(...out.data)).toBeLessThanOrEqual(1);
  });

  test('sharp-* methods use the pixels as they are and refuse a size mismatch', () => {
    const out = values(() => imageToTensor(tf, IMAGE, { inputSize: 2, resize: 'sharp-lanczos3', normalization: 'none' }));
    expect(out.data).toEqual(VALUES);
    const before = tf.memory().numTensors;
    expect(() => imageToTensor(tf, IMAGE, { inputSize: 3, resize: 'sharp-linear' })).toThrow(/already be 3x3/);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('pixels of the wrong length are refused', () => {
    expect(() => imageToTensor(tf, { ...IMAGE, data: new Uint8Array(11) }, { inputSize: 2 })).toThrow(/hold 11 values/);
  });
});

describe('batchImagesToTensor', () => {
  test('stacks images of different sizes into [N, H, W, C], each row as imageToTensor gives it', () => {
    const other: ImagePixels = { data: Uint8Array.from({ length: 3 * 5 * 3 }, (_, i) => (i * 17) % 256), width: 5, height: 3, channels: 3 };
    const task = { inputSize: [4, 6] as const, normalization: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.3, 0.4] } };
    const batch = values(() => batchImagesToTensor(tf, [IMAGE, other, IMAGE], task));
    expect(batch.shape).toEqual([3, 4, 6, 3]);
    const size = 4 * 6 * 3;
    const one = values(() => imageToTensor(tf, IMAGE, task)).data;
    const two = values(() => imageToTensor(tf, other, task)).data;
    expectClose(batch.data.slice(0, size), one);
    expectClose(batch.data.slice(size, 2 * size), two);
    expectClose(batch.data.slice(2 * size), one);
    expect(two).not.toEqual(one);
  });

  test('refuses an empty batch and mixed channels', () => {
    expect(() => batchImagesToTensor(tf, [], { inputSize: 2 })).toThrow(/at least one image/);
    expect(() => batchImagesToTensor(tf, [IMAGE, GREY], { inputSize: 2 })).toThrow(/same channels/);
  });
});
