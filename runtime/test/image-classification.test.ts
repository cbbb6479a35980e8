// The image task with the real pretrained MobileNetV2 on real photographs (wasm backend):
// it must agree with the model's own reference implementation (nsfwjs classify()).
import { readdir } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { DEMO_MODEL_DIR, SAMPLES_DIR, demoTask, sample, serviceFor } from './support/models';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../src/errors';
import type { InferenceService } from '../src/service';
import type { LabelScore } from '../src/tasks/postprocess';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const nsfwjs = require('nsfwjs') as { load(name: string): Promise<{ classify(img: tf.Tensor3D, topk?: number): Promise<{ className: string; probability: number }[]> }> };

let service: InferenceService;
let photos: string[];

beforeAll(async () => {
  service = await serviceFor(DEMO_MODEL_DIR, await demoTask(), { modelName: 'demo' });
  photos = (await readdir(SAMPLES_DIR)).filter((f) => /\.(jpe?g|png)$/.test(f)).sort();
});

async function classify(bytes: Uint8Array): Promise<LabelScore[]> {
  const [result] = await service.classify([bytes]);
  if (result instanceof Error) throw result;
  return result;
}

describe('image classification with the pretrained MobileNetV2', () => {
  test('runs on the wasm backend, chosen because tfjs-node is not installed here', () => {
    expect(service.backend.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  test('agrees with nsfwjs classify() on every sample photograph: same top-1, probabilities within 0.02', async () => {
    const reference = await nsfwjs.load('MobileNetV2');
    expect(photos.length).toBeGreaterThanOrEqual(6);
    for (const photo of photos) {
      const bytes = await sample(photo);
      const { data, info } = await sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
      // nsfwjs needs 3 channels; the greyscale photo is expanded the way our decoder does.
      const img = tf.tensor3d(Int32Array.from(info.channels === 3 ? data : expandGrey(data)), [info.height, info.width, 3], 'int32');
      const expected = await reference.classify(img, 5);
      img.dispose();
      const ours = await classify(bytes);
      expect({ photo, top1: ours[0].label }).toEqual({ photo, top1: expected[0].className });
      for (const e of expected) {
        const mine = ours.filter((o) => o.label === e.className);
        expect(mine).toHaveLength(1);
        expect(Math.abs(mine[0].score - e.probability)).toBeLessThan(0.02);
      }
    }
  });

  test('known answers: the cat photo is Neutral, the rocket launch is Drawing (as the reference says)', async () => {
    const cat = await classify(await sample('chelsea.png'));
    expect(cat[0].label).toBe('Neutral');
    expect(cat[0].score).toBeGreaterThan(0.9);
    expect(cat).toHaveLength(5);
    expect(cat.map((c) => c.score)).toEqual([...cat.map((c) => c.score)].sort((a, b) => b - a));
    expect(cat.reduce((s, c) => s + c.score, 0)).toBeCloseTo(1, 3);
    const rocket = await classify(await sample('rocket.jpg'));
    expect(rocket[0].label).toBe('Drawing');
  });

  test('sharp\'s own resize kernel is a different preprocessing: it moves probabilities (why the method is config)', async () => {
    const task = await demoTask();
    const fast = await serviceFor(DEMO_MODEL_DIR, { ...task, resize: 'sharp-lanczos3' } as typeof task);
    const bytes = await sample('camera.png');
    const [viaSharp] = await fast.classify([bytes]);
    const viaTf = await classify(bytes);
    const a = (viaSharp as LabelScore[]).find((p) => p.label === 'Neutral')!.score;
    const b = viaTf.find((p) => p.label === 'Neutral')!.score;
    expect(Math.abs(a - b)).toBeGreaterThan(0.005);
  });

  test('a batch with one bad image answers the good ones and gives the bad one its own error', async () => {
    const good = await sample('coffee.jpg');
    const results = await service.classify([good, Buffer.from('not an image at all'), good]);
    expect((results[0] as LabelScore[])[0].label).toBe('Neutral');
    expect(results[1]).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(results[2]).toEqual(results[0]);
  });

  test('bad images are typed errors, the process keeps serving, and no tensor leaks', async () => {
    const jpeg = await sample('coffee.jpg');
    await classify(jpeg); // settle any lazily created kernels
    const before = tf.memory().numTensors;
    await expect(classify(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).rejects.toBeInstanceOf(BadRequestError);
    await expect(classify(Buffer.alloc(0))).rejects.toBeInstanceOf(BadRequestError);
    await expect(classify(Buffer.from('%PDF-1.7 not an image'))).rejects.toBeInstanceOf(UnsupportedMediaTypeError);
    const huge = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
    await expect(classify(huge)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect((await classify(jpeg))[0].label).toBe('Neutral');
    expect(tf.memory().numTensors).toBe(before);
  });
});

function expandGrey(data: Buffer): Uint8Array {
  const out = new Uint8Array(data.length * 3);
  for (let i = 0; i < data.length; i++) out.fill(data[i], i * 3, i * 3 + 3);
  return out;
}
