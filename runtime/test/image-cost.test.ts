// What one image may cost (issue 16, items 2 and 6): a JPEG of too many progressive scans is
// refused before libjpeg spends minutes on it; the pixels decoded at once are bounded across
// concurrent requests by the process's pixel budget; under Lambda the default pixel limit
// follows the function's memory. Every image is generated here, or is a sample photograph.
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_MODEL_DIR, demoTask, sample, serviceFor } from './support/models';
import { route } from '../src/routes';
import { configFromEnv, defaultMaxImagePixels } from '../src/config';
import { jpegScanCount } from '../src/image-decode';
import { PixelBudget } from '../src/pixel-budget';
import { IMAGE_BYTES_PER_PIXEL, IMAGE_MEMORY_SHARE, MAX_IMAGE_PIXELS_DEFAULT, MAX_JPEG_SCANS } from '../src/constants';
import { RuntimeEnvironment } from '../../lib/runtime-environment';
import type { InferenceService } from '../src/service';

/** The [start, end) byte ranges of a JPEG's scans: each SOS segment with its entropy-coded data. */
function scanRanges(jpeg: Buffer): [number, number][] {
  const scans: [number, number][] = [];
  let i = 2;
  while (i < jpeg.length && jpeg[i + 1] !== 0xd9) {
    const marker = jpeg[i + 1];
    const length = jpeg.readUInt16BE(i + 2);
    if (marker !== 0xda) { i += 2 + length; continue; }
    let j = i + 2 + length;
    while (!(jpeg[j] === 0xff && jpeg[j + 1] !== 0x00 && !(jpeg[j + 1] >= 0xd0 && jpeg[j + 1] <= 0xd7))) j++;
    scans.push([i, j]);
    i = j;
  }
  return scans;
}

/** A progressive JPEG with its last scan repeated `extra` more times (a scan bomb's shape). */
async function withExtraScans(side: number, extra: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: side, height: side, channels: 3, background: { r: 90, g: 90, b: 90 } } }).greyscale().jpeg({ progressive: true, quality: 60 }).toBuffer();
  const scans = scanRanges(jpeg);
  const [start, end] = scans[scans.length - 1];
  const last = jpeg.subarray(start, end);
  return Buffer.concat([jpeg.subarray(0, end), ...Array<Buffer>(extra).fill(last), jpeg.subarray(end)]);
}

async function classify(service: InferenceService, body: Buffer, type = 'image/jpeg') {
  const res = await route(service, { method: 'POST', path: '/classify', headers: { 'content-type': type }, body });
  return { status: res.statusCode, json: JSON.parse(res.body) as { error?: string; predictions?: { label: string; score: number }[] } };
}

describe('jpegScanCount', () => {
  test('a baseline JPEG has one scan; a progressive one the scans of its script; the count stops past the limit', async () => {
    const image = sharp(await sample('coffee.jpg'));
    const baseline = await image.clone().jpeg({ progressive: false }).toBuffer();
    const progressive = await image.clone().jpeg({ progressive: true }).toBuffer();
    expect(jpegScanCount(baseline)).toBe(1);
    expect(jpegScanCount(progressive)).toBe(scanRanges(progressive).length);
    expect(jpegScanCount(progressive)).toBeGreaterThan(1);
    expect(jpegScanCount(progressive)).toBeLessThanOrEqual(20);
    expect(jpegScanCount(await withExtraScans(64, 500), 10)).toBe(11);
  });

  test('a truncated JPEG counts the scans it has, without reading past its end', async () => {
    const progressive = await sharp(await sample('coffee.jpg')).jpeg({ progressive: true }).toBuffer();
    const scans = scanRanges(progressive);
    expect(jpegScanCount(progressive.subarray(0, scans[2][0] + 8))).toBe(3);
    expect(jpegScanCount(progressive.subarray(0, 3))).toBe(0);
  });
});

describe('item 2: a JPEG of too many progressive scans is refused at once', () => {
  let demo: InferenceService;
  beforeAll(async () => {
    demo = await serviceFor(DEMO_MODEL_DIR, await demoTask());
  });

  test(`a 3000x3000 JPEG of ${MAX_JPEG_SCANS + 2000} scans answers 422 in well under a second; the next image is classified`, async () => {
    const bomb = await withExtraScans(3000, MAX_JPEG_SCANS + 2000);
    const started = performance.now();
    const res = await classify(demo, bomb);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(422);
    expect(res.json.error).toBe(`The JPEG has more than ${MAX_JPEG_SCANS} scans (progressive passes), the limit; encoders write 1 (baseline) to about 10. Re-encode it (e.g. as a baseline JPEG) and send it again.`);
    const next = await classify(demo, await sample('chelsea.png'), 'image/png');
    expect(next.status).toBe(200);
    expect(next.json.predictions?.[0].label).toBe('Neutral');
  });

  test('a progressive JPEG as encoders write it is classified as its baseline twin is', async () => {
    const image = sharp(await sample('coffee.jpg'));
    const progressive = await classify(demo, await image.clone().jpeg({ progressive: true, quality: 95 }).toBuffer());
    const baseline = await classify(demo, await image.clone().jpeg({ progressive: false, quality: 95 }).toBuffer());
    expect(progressive.status).toBe(200);
    expect(progressive.json.predictions?.[0].label).toBe(baseline.json.predictions?.[0].label);
  });
});

describe('item 6: pixels decoded at once are bounded', () => {
  test('PixelBudget: work runs while its pixels fit, the rest waits first come first served; a failure gives its pixels back', async () => {
    const budget = new PixelBudget(100);
    const order: string[] = [];
    let peak = 0;
    const job = (name: string, pixels: number, ms: number, fail = false) => budget.run(pixels, async () => {
      peak = Math.max(peak, budget.taken);
      order.push(`start ${name}`);
      await sleep(ms);
      order.push(`end ${name}`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
    const results = await Promise.allSettled([
      job('a', 60, 30), job('b', 60, 10, true), job('c', 30, 10), job('huge', 500, 10), job('d', 10, 10),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c', 'huge', 'd']);
    // c would fit beside a, but does not overtake b, which waits; huge runs alone, capped at the capacity
    expect(order).toEqual(['start a', 'end a', 'start b', 'start c', 'end b', 'end c', 'start huge', 'end huge', 'start d', 'end d']);
    expect(peak).toBe(100);
    expect(budget.taken).toBe(0);
    expect(budget.queued).toBe(0);
  });

  test('concurrent requests over a budget of one image each wait their turn and get the answers they get alone; no tensor is left', async () => {
    const photo = await sample('coffee.jpg');
    const { width, height } = await sharp(photo).metadata();
    const service = await serviceFor(DEMO_MODEL_DIR, await demoTask(), { maxImagePixels: width! * height! });
    const alone = await classify(service, photo);
    const tensors = tf.memory().numTensors;
    const together = await Promise.all(Array.from({ length: 6 }, () => classify(service, photo)));
    expect(together.map((r) => r.status)).toEqual(Array(6).fill(200));
    for (const r of together) expect(r.json).toEqual(alone.json);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  test('under Lambda the default pixel limit follows the function memory; SERVERLESS_TF_MAX_IMAGE_PIXELS wins', () => {
    const base = { [RuntimeEnvironment.MODEL_URI]: '/var/task/model' };
    const share = (mb: number) => Math.floor((mb * 1024 * 1024 * IMAGE_MEMORY_SHARE) / IMAGE_BYTES_PER_PIXEL);
    expect(configFromEnv(base).maxImagePixels).toBe(MAX_IMAGE_PIXELS_DEFAULT);
    expect(configFromEnv({ ...base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' }).maxImagePixels).toBe(share(1024));
    expect(share(1024)).toBeGreaterThan(19_000_000);
    expect(configFromEnv({ ...base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' }).maxImagePixels).toBe(MAX_IMAGE_PIXELS_DEFAULT);
    expect(configFromEnv({ ...base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' }).maxImagePixels).toBe(share(128));
    expect(defaultMaxImagePixels('32')).toBe(1_000_000);
    expect(configFromEnv({ ...base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024', [RuntimeEnvironment.MAX_IMAGE_PIXELS]: '30000000' }).maxImagePixels).toBe(30_000_000);
  });
});
