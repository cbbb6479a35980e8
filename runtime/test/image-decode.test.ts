// decodeImage, sniffImageType and readMultipartFile on real images made with sharp in the
// test (plus the CC0 photographs in runtime/samples/ when they are there).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { decodeImage, sniffImageType, SUPPORTED_IMAGE_TYPES } from '../src/image-decode';
import { readMultipartFile } from '../src/multipart';
import { BadRequestError, InferenceError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../src/errors';

const LIMIT = 40_000_000;
const RED = [255, 0, 0];
const BLUE = [0, 0, 255];

/** width x height RGB, left half red, right half blue. */
function halves(width: number, height: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(x < width / 2 ? RED : BLUE, (y * width + x) * 3);
  }
  return raw;
}

function raw(data: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4) {
  return sharp(data, { raw: { width, height, channels } });
}

/** Deterministic noise, so JPEGs have lots of scan data after the header. */
function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function pixel(img: { data: Uint8Array; width: number; channels: number }, x: number, y: number): number[] {
  const i = (y * img.width + x) * img.channels;
  return Array.from(img.data.subarray(i, i + img.channels));
}

function expectColour(actual: number[], expected: number[], tolerance: number) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(tolerance));
}

/** Resolves to the rejection (or fails the test if the promise resolves). */
async function rejection(p: Promise<unknown>): Promise<InferenceError> {
  try {
    await p;
  } catch (err) {
    return err as InferenceError;
  }
  throw new Error('expected the promise to reject');
}

/** A PNG whose IHDR claims width x height, with a tiny (wrong-sized) IDAT; valid CRCs. */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(typed) >>> 0);
    return Buffer.concat([len, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('sniffImageType', () => {
  test('recognises each supported format from its magic bytes', async () => {
    const base = raw(halves(8, 4), 8, 4, 3);
    expect(sniffImageType(await base.clone().jpeg().toBuffer())).toBe('image/jpeg');
    expect(sniffImageType(await base.clone().png().toBuffer())).toBe('image/png');
    expect(sniffImageType(await base.clone().webp().toBuffer())).toBe('image/webp');
    expect(sniffImageType(await base.clone().gif().toBuffer())).toBe('image/gif');
    expect([...SUPPORTED_IMAGE_TYPES].sort()).toEqual(['image/gif', 'image/jpeg', 'image/png', 'image/webp']);
  });

  test('returns undefined for other formats, text and short input', async () => {
    expect(sniffImageType(await raw(halves(8, 4), 8, 4, 3).tiff().toBuffer())).toBeUndefined();
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeUndefined();
    expect(sniffImageType(Buffer.from('hello'))).toBeUndefined();
    expect(sniffImageType(new Uint8Array([0xff, 0xd8]))).toBeUndefined();
    expect(sniffImageType(new Uint8Array(0))).toBeUndefined();
  });
});

describe('decodeImage', () => {
  test('turns off sharp\'s operation cache when loaded', () => {
    const stats = sharp.cache();
    expect(stats.memory.max).toBe(0);
    expect(stats.items.max).toBe(0);
  });

  test.each([
    ['jpeg', (s: Sharp) => s.jpeg({ quality: 95 }), 40],
    ['png', (s: Sharp) => s.png(), 0],
    ['webp', (s: Sharp) => s.webp({ quality: 95 }), 40],
    ['gif', (s: Sharp) => s.gif(), 0],
  ])('decodes %s to the right size, 3 channels and colours', async (_name, encode, tolerance) => {
    const bytes = await encode(raw(halves(32, 16), 32, 16, 3)).toBuffer();
    const img = await decodeImage(bytes, { channels: 3, maxPixels: LIMIT });
    expect([img.width, img.height, img.channels]).toEqual([32, 16, 3]);
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(img.data.length).toBe(32 * 16 * 3);
    expectColour(pixel(img, 2, 8), RED, tolerance);
    expectColour(pixel(img, 29, 8), BLUE, tolerance);
  });

  test('expands a greyscale PNG to 3 equal channels', async () => {
    const grey = Buffer.alloc(6 * 4, 77);
    grey[0] = 200;
    // sharp writes RGB PNGs unless told the output is greyscale.
    const png = await raw(grey, 6, 4, 1).toColourspace('b-w').png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    const img = await decodeImage(png, { channels: 3, maxPixels: LIMIT });
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([6, 4, 3, 6 * 4 * 3]);
    expect(pixel(img, 0, 0)).toEqual([200, 200, 200]);
    expect(pixel(img, 5, 3)).toEqual([77, 77, 77]);
  });

  test('drops the alpha of RGBA and grey+alpha PNGs', async () => {
    const rgba = Buffer.alloc(4 * 2 * 4);
    for (let i = 0; i < 8; i++) rgba.set([10, 20, 30, i * 30], i * 4);
    const rgbaPng = await raw(rgba, 4, 2, 4).png().toBuffer();
    expect((await sharp(rgbaPng).metadata()).channels).toBe(4);
    const img = await decodeImage(rgbaPng, { channels: 3, maxPixels: LIMIT });
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([4, 2, 3, 24]);
    expect(pixel(img, 3, 1)).toEqual([10, 20, 30]);

    const greyAlpha = await raw(Buffer.from([90, 0, 90, 255]), 2, 1, 2).toColourspace('b-w').png().toBuffer();
    expect((await sharp(greyAlpha).metadata()).channels).toBe(2);
    const g = await decodeImage(greyAlpha, { channels: 3, maxPixels: LIMIT });
    expect(Array.from(g.data)).toEqual([90, 90, 90, 90, 90, 90]);
  });

  test('channels=1 gives one greyscale channel, also from RGBA', async () => {
    const rgb = Buffer.alloc(4 * 3);
    rgb.set([255, 255, 255], 0); // white, black, red, blue
    rgb.set(RED, 6);
    rgb.set(BLUE, 9);
    const img = await decodeImage(await raw(rgb, 4, 1, 3).png().toBuffer(), { channels: 1, maxPixels: LIMIT });
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([4, 1, 1, 4]);
    expect(img.data[0]).toBe(255);
    expect(img.data[1]).toBe(0);
    expect(img.data[2]).toBeGreaterThan(img.data[3]); // red is lighter than blue in luma

    const rgba = await raw(Buffer.from([255, 255, 255, 0, 0, 0, 0, 255]), 2, 1, 4).png().toBuffer();
    const g = await decodeImage(rgba, { channels: 1, maxPixels: LIMIT });
    expect(Array.from(g.data)).toEqual([255, 0]);
  });

  test('reduces a 16-bit PNG to 8-bit values', async () => {
    const png16 = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#ff8000' } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const img = await decodeImage(png16, { channels: 3, maxPixels: LIMIT });
    expect(img.data.length).toBe(3 * 2 * 3);
    expectColour(pixel(img, 1, 1), [255, 128, 0], 1);
  });

  test('applies EXIF orientation (6: rotate 90 degrees clockwise)', async () => {
    const jpeg = await raw(halves(40, 20), 40, 20, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const meta = await sharp(jpeg).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([40, 20, 6]);
    const img = await decodeImage(jpeg, { channels: 3, maxPixels: LIMIT });
    // Stored 40x20 with red on the left; displayed 20x40 with red on top.
    expect([img.width, img.height]).toEqual([20, 40]);
    expectColour(pixel(img, 10, 2), RED, 40);
    expectColour(pixel(img, 10, 37), BLUE, 40);
  });

  test('an animated GIF gives its first frame', async () => {
    const frames = Buffer.alloc(8 * 12 * 3);
    for (let i = 0; i < 8 * 12; i++) frames.set(i < 8 * 6 ? RED : BLUE, i * 3);
    const gif = await sharp(frames, { raw: { width: 8, height: 12, channels: 3, pageHeight: 6 } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const img = await decodeImage(gif, { channels: 3, maxPixels: LIMIT });
    expect([img.width, img.height, img.channels]).toEqual([8, 6, 3]);
    for (let y = 0; y < 6; y++) expect(pixel(img, 4, y)).toEqual(RED);
  });

  test('resizes in sharp to exactly the asked size (no crop), after orientation', async () => {
    const png = await raw(halves(40, 20), 40, 20, 3).png().toBuffer();
    const img = await decodeImage(png, { channels: 3, maxPixels: LIMIT, resize: { width: 4, height: 9, kernel: 'nearest' } });
    expect([img.width, img.height, img.data.length]).toEqual([4, 9, 4 * 9 * 3]);
    for (let y = 0; y < 9; y++) {
      expect(pixel(img, 0, y)).toEqual(RED); // the aspect ratio changed: both halves are still there
      expect(pixel(img, 3, y)).toEqual(BLUE);
    }
    const rotated = await raw(halves(40, 20), 40, 20, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    for (const kernel of ['lanczos3', 'linear', 'cubic'] as const) {
      const r = await decodeImage(rotated, { channels: 1, maxPixels: LIMIT, resize: { width: 10, height: 30, kernel } });
      expect([r.width, r.height, r.channels, r.data.length]).toEqual([10, 30, 1, 300]);
    }
  });

  test('a truncated JPEG is a 400, not a grey image', async () => {
    const jpeg = await raw(noise(256 * 256 * 3), 256, 256, 3).jpeg({ quality: 90 }).toBuffer();
    const cut = jpeg.subarray(0, jpeg.length >> 1);
    // The header is intact and sharp, if let, would decode the cut file.
    expect((await sharp(cut).metadata()).width).toBe(256);
    await expect(sharp(cut, { failOn: 'none' }).raw().toBuffer()).resolves.toHaveLength(256 * 256 * 3);
    const err = await rejection(decodeImage(cut, { channels: 3, maxPixels: LIMIT }));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/image\/jpeg.*corrupt or truncated/);
    expect(err.message).not.toMatch(/\n/);
  });

  test('a truncated or corrupt PNG is a 400', async () => {
    const png = await raw(noise(128 * 128 * 3, 7), 128, 128, 3).png().toBuffer();
    expect(await rejection(decodeImage(png.subarray(0, png.length >> 1), { channels: 3, maxPixels: LIMIT }))).toBeInstanceOf(BadRequestError);
    const corrupt = Buffer.from(png);
    corrupt.fill(0x55, 40, 400);
    expect(await rejection(decodeImage(corrupt, { channels: 3, maxPixels: LIMIT }))).toBeInstanceOf(BadRequestError);
    // Only the signature: a supported type that is not a readable image.
    const sig = await rejection(decodeImage(png.subarray(0, 8), { channels: 3, maxPixels: LIMIT }));
    expect(sig).toBeInstanceOf(InferenceError);
    expect([400, 415]).toContain(sig.statusCode);
  });

  test('random bytes, text, SVG and TIFF are 415s that name the accepted types', async () => {
    const tiff = await raw(halves(8, 4), 8, 4, 3).tiff().toBuffer();
    await expect(sharp(tiff).raw().toBuffer()).resolves.toBeDefined(); // sharp itself would read it
    const bodies: [Uint8Array, RegExp][] = [
      [noise(4096, 3), /match no supported image format/],
      [Buffer.from('{"instances": [[1, 2, 3]]}'), /JSON/],
      [Buffer.from('just some text\n'), /text/],
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'), /XML, SVG/],
      [tiff, /TIFF/],
    ];
    for (const [bytes, why] of bodies) {
      const err = await rejection(decodeImage(bytes, { channels: 3, maxPixels: LIMIT }));
      expect(err).toBeInstanceOf(UnsupportedMediaTypeError);
      expect(err.statusCode).toBe(415);
      expect(err.message).toMatch(why);
      expect(err.message).toContain('image/jpeg, image/png, image/webp, image/gif');
    }
  });

  test('an empty body is a 400', async () => {
    const err = await rejection(decodeImage(new Uint8Array(0), { channels: 3, maxPixels: LIMIT }));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toMatch(/empty/);
  });

  test('a header claiming 100000x100000 pixels is a 413 from the header alone', async () => {
    const png = pngHeader(100_000, 100_000);
    expect(png.length).toBeLessThan(100);
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const err = await rejection(decodeImage(png, { channels: 3, maxPixels: LIMIT }));
    expect(Date.now() - started).toBeLessThan(2000);
    // 30 GB of pixels were never allocated.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.statusCode).toBe(413);
    expect(err.message).toContain('100000x100000');
    expect(err.message).toContain(String(LIMIT));
  });

  test('the pixel limit is inclusive, and big images under it decode', async () => {
    const png = await sharp({ create: { width: 100, height: 50, channels: 3, background: '#102030' } }).png().toBuffer();
    await expect(decodeImage(png, { channels: 3, maxPixels: 5000 })).resolves.toMatchObject({ width: 100, height: 50 });
    const err = await rejection(decodeImage(png, { channels: 3, maxPixels: 4999 }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.message).toContain('100x50 (5000 pixels)');

    const big = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    const img = await decodeImage(big, { channels: 3, maxPixels: LIMIT });
    expect([img.width, img.height, img.data.length]).toEqual([4000, 3000, 4000 * 3000 * 3]);
    expectColour(pixel(img, 3999, 2999), [0x40, 0x60, 0x80], 3);
  });

  test('invalid options are programming errors, not client errors', async () => {
    const png = await raw(halves(8, 4), 8, 4, 3).png().toBuffer();
    const bad = await rejection(decodeImage(png, { channels: 3, maxPixels: LIMIT, resize: { width: 0, height: 4, kernel: 'nearest' } }));
    expect(bad).not.toBeInstanceOf(InferenceError);
    expect(bad.message).toMatch(/resize width and height/);
  });

  const samplesDir = path.join(__dirname, '..', 'samples');
  const samples = existsSync(samplesDir) ? readdirSync(samplesDir).filter((f) => /\.(jpe?g|png|webp|gif)$/i.test(f)) : [];
  if (samples.length > 0) {
    test.each(samples)('decodes the sample photograph %s', async (file) => {
      const bytes = readFileSync(path.join(samplesDir, file));
      const meta = await sharp(bytes).metadata();
      const img = await decodeImage(bytes, { channels: 3, maxPixels: LIMIT });
      const [w, h] = (meta.orientation ?? 1) >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
      expect([img.width, img.height, img.channels, img.data.length]).toEqual([w, h, 3, w! * h! * 3]);
      const small = await decodeImage(bytes, { channels: 1, maxPixels: LIMIT, resize: { width: 224, height: 224, kernel: 'lanczos3' } });
      expect([small.width, small.height, small.data.length]).toEqual([224, 224, 224 * 224]);
    });
  }
});

describe('readMultipartFile', () => {
  const OPTIONS = { field: 'image', maxBytes: 1024 * 1024 };

  async function form(parts: [string, string | Blob, string?][]): Promise<{ body: Buffer; contentType: string }> {
    const fd = new FormData();
    for (const [name, value, filename] of parts) {
      if (typeof value === 'string') fd.append(name, value);
      else fd.append(name, value, filename);
    }
    const res = new Response(fd);
    return { body: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type')! };
  }

  /** A Blob of the bytes (a copy: Blob wants ArrayBuffer-backed parts). */
  const blob = (bytes: Uint8Array, type: string) => new Blob([new Uint8Array(bytes)], { type });

  let png: Buffer;
  beforeAll(async () => {
    png = await raw(halves(16, 8), 16, 8, 3).png().toBuffer();
  });

  test('extracts the file field, and it decodes', async () => {
    const { body, contentType } = await form([
      ['note', 'hello'],
      ['other', blob(Buffer.from('not this'), 'text/plain'), 'other.txt'],
      ['image', blob(png, 'image/png'), 'cat.png'],
    ]);
    expect(contentType).toMatch(/^multipart\/form-data; boundary=/);
    const file = await readMultipartFile(body, contentType, OPTIONS);
    expect(file.filename).toBe('cat.png');
    expect(file.contentType).toBe('image/png');
    expect(Buffer.compare(file.bytes, png)).toBe(0);
    const img = await decodeImage(file.bytes, { channels: 3, maxPixels: LIMIT });
    expect([img.width, img.height]).toEqual([16, 8]);
  });

  test('takes the first of two files in the field', async () => {
    const second = Buffer.from('second file');
    const { body, contentType } = await form([
      ['image', blob(png, 'image/png'), 'first.png'],
      ['image', blob(second, 'image/png'), 'second.png'],
    ]);
    const file = await readMultipartFile(body, contentType, OPTIONS);
    expect(file.filename).toBe('first.png');
    expect(Buffer.compare(file.bytes, png)).toBe(0);
  });

  test('a missing field is a 400 naming the expected and the present fields', async () => {
    const { body, contentType } = await form([
      ['photo', blob(png, 'image/png'), 'cat.png'],
      ['caption', 'a cat'],
    ]);
    const err = await rejection(readMultipartFile(body, contentType, OPTIONS));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toContain("no file field 'image'");
    expect(err.message).toContain("'photo'");
    expect(err.message).toContain("'caption'");

    const text = await form([['image', 'not a file']]);
    const asText = await rejection(readMultipartFile(text.body, text.contentType, OPTIONS));
    expect(asText).toBeInstanceOf(BadRequestError);
    expect(asText.message).toMatch(/text value, not a file/);
  });

  test('a file over maxBytes is a 413; exactly maxBytes is fine', async () => {
    const { body, contentType } = await form([['image', blob(png, 'image/png'), 'cat.png']]);
    const exact = await readMultipartFile(body, contentType, { field: 'image', maxBytes: png.length });
    expect(exact.bytes.length).toBe(png.length);
    const err = await rejection(readMultipartFile(body, contentType, { field: 'image', maxBytes: png.length - 1 }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.statusCode).toBe(413);
    expect(err.message).toContain(String(png.length - 1));
  });

  test('a missing boundary or garbage body is a 400; another content type a 415', async () => {
    const { body, contentType } = await form([['image', blob(png, 'image/png'), 'cat.png']]);
    const noBoundary = await rejection(readMultipartFile(body, 'multipart/form-data', OPTIONS));
    expect(noBoundary).toBeInstanceOf(BadRequestError);
    expect(noBoundary.message).toMatch(/boundary/);
    const garbage = await rejection(readMultipartFile(noise(2000, 9), contentType, OPTIONS));
    expect(garbage).toBeInstanceOf(BadRequestError);
    const empty = await rejection(readMultipartFile(Buffer.alloc(0), contentType, OPTIONS));
    expect(empty).toBeInstanceOf(BadRequestError);
    const other = await rejection(readMultipartFile(body, 'application/x-www-form-urlencoded', OPTIONS));
    expect(other).toBeInstanceOf(UnsupportedMediaTypeError);
  });

  test('a truncated body is a 400, and every cut settles', async () => {
    const { body, contentType } = await form([
      ['note', 'hello'],
      ['image', blob(png, 'image/png'), 'cat.png'],
    ]);
    const half = await rejection(readMultipartFile(body.subarray(0, body.length >> 1), contentType, OPTIONS));
    expect(half).toBeInstanceOf(BadRequestError);
    expect(half.message).toMatch(/Malformed multipart/);

    const hang = Symbol('hang');
    for (let cut = 0; cut < body.length; cut += 7) {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        readMultipartFile(body.subarray(0, cut), contentType, OPTIONS).then(
          (file) => file,
          (err: unknown) => err,
        ),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(hang), 1000);
        }),
      ]);
      clearTimeout(timer);
      expect(outcome).not.toBe(hang);
      // A cut inside the image never passes; a 400 for everything else.
      expect(outcome).toBeInstanceOf(BadRequestError);
    }
  });
});
