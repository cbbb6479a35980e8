// Request bytes -> raw pixels (uint8, height x width x channels) with sharp (libvips).
// Every way a body can be wrong ends as a typed error with a message a client can act
// on: empty (400), not a supported image (415), too many pixels (413, checked from the
// header before any pixel is decoded), truncated or corrupt (400). Raw sharp errors never
// escape as 500s.
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import { BadRequestError, InferenceError, PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError, isOutOfMemory } from './errors';
import { IMAGE_DECODE_TIMEOUT_SECONDS, MAX_JPEG_SCANS } from './constants';

// sharp's operation cache (libvips' cache of recent operations and their results, 50 MB by
// default) only pays off when the same image is processed again with the same operations.
// A Lambda serves a stream of different images, so the cache never hits; it only keeps
// memory that the model and the tensors need. Turned off once, when the module loads.
sharp.cache(false);

/** The image types decodeImage accepts, as media types. */
export const SUPPORTED_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'] as const;
export type SupportedImageType = (typeof SUPPORTED_IMAGE_TYPES)[number];

const ACCEPTED = SUPPORTED_IMAGE_TYPES.join(', ');

export type SharpKernel = 'lanczos3' | 'linear' | 'cubic' | 'nearest';

export interface DecodeOptions {
  /** 3: RGB (greyscale sources are expanded); 1: greyscale. */
  readonly channels: 1 | 3;
  /** Largest width x height accepted; checked from the header before decoding. */
  readonly maxPixels: number;
  /** Resize to exactly this size (no aspect-preserving crop) in the same sharp pipeline. */
  readonly resize?: { readonly width: number; readonly height: number; readonly kernel: SharpKernel };
  /**
   * Read the pixel values as they are stored, ignoring an embedded ICC profile (Adobe RGB,
   * Display P3), as TensorFlow's decoders do. Default false: converted to sRGB.
   */
  readonly ignoreIccProfile?: boolean;
}

export interface DecodedImage {
  /** uint8 pixels, row-major, height x width x channels. May view sharp's output buffer. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((b, i) => bytes[offset + i] === b);
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** The supported image type the bytes start with, from their magic bytes; undefined otherwise. */
export function sniffImageType(bytes: Uint8Array): SupportedImageType | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp';
  return undefined;
}

/** A few common things that are not a supported image, to name in a 415. */
function describeUnsupported(bytes: Uint8Array): string {
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'it looks like a TIFF image';
  if (startsWith(bytes, ascii('BM'))) return 'it looks like a BMP image';
  if (startsWith(bytes, ascii('ftyp'), 4)) return 'it looks like a HEIF/AVIF image or a video';
  if (startsWith(bytes, ascii('%PDF'))) return 'it looks like a PDF document';
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1').trimStart();
  if (head.startsWith('<')) return 'it looks like XML, SVG or HTML text';
  if (head.startsWith('{') || head.startsWith('[')) return 'it looks like JSON text';
  if (/^[\x20-\x7e\t\r\n]+$/.test(head)) return 'it looks like text';
  return 'its first bytes match no supported image format';
}

function unsupported(bytes: Uint8Array): UnsupportedMediaTypeError {
  return new UnsupportedMediaTypeError(`The body is not a supported image (${describeUnsupported(bytes)}). Send one of: ${ACCEPTED}.`);
}

function tooManyPixels(width: number, height: number, maxPixels: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The image is ${width}x${height} (${width * height} pixels); the limit is ${maxPixels} pixels. Send a smaller image.`,
  );
}

/**
 * Maps an error thrown by sharp while reading or decoding to a typed error. Out-of-memory
 * errors pass through unchanged so that toHttpError answers them with a 503.
 */
function mapSharpError(err: unknown, type: SupportedImageType, maxPixels: number): unknown {
  if (err instanceof InferenceError) return err;
  if (isOutOfMemory(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/exceeds pixel limit/i.test(message)) {
    return new PayloadTooLargeError(`The image has more than ${maxPixels} pixels, the limit. Send a smaller image.`);
  }
  if (/\btimeout: \d+% complete/i.test(message)) {
    return new UnprocessableError(`The ${type} image took more than ${IMAGE_DECODE_TIMEOUT_SECONDS} s to decode and was abandoned. Send a smaller or simpler image (e.g. a baseline JPEG near the model's input size).`);
  }
  if (/unsupported image format/i.test(message)) {
    return new UnsupportedMediaTypeError(`The body starts like ${type} but is not a readable image. Send one of: ${ACCEPTED}.`);
  }
  // libvips' message is not used: under concurrency it can carry another request's decoder text.
  return new BadRequestError(`The ${type} image could not be decoded: it is corrupt or truncated. Send a complete ${type} file.`);
}

/**
 * The number of scans (SOS segments) of a JPEG, counting at most to `limit + 1`: walks the
 * marker segments by their lengths, and each scan's entropy-coded data to the next marker
 * (0xFF followed by neither 0x00, a stuffed byte, nor a restart marker). Linear in the
 * bytes and allocation-free; a truncated file counts the scans it has.
 */
export function jpegScanCount(bytes: Uint8Array, limit: number = MAX_JPEG_SCANS): number {
  let scans = 0;
  let i = 2; // after SOI
  while (i + 1 < bytes.length) {
    if (bytes[i] !== 0xff) return scans; // not at a marker: corrupt, decodeImage says so
    const marker = bytes[i + 1];
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0xd9) return scans; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; } // no length
    if (i + 3 >= bytes.length) return scans;
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    i += 2 + length;
    if (marker !== 0xda) continue;
    if (++scans > limit) return scans;
    // The scan's entropy-coded data runs to the next marker.
    for (;;) {
      i = bytes.indexOf(0xff, i);
      if (i < 0 || i + 1 >= bytes.length) return scans;
      const next = bytes[i + 1];
      if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
      i += next === 0xff ? 1 : 2;
    }
  }
  return scans;
}

function validateOptions(options: DecodeOptions): void {
  if (options.channels !== 1 && options.channels !== 3) {
    throw new Error(`decodeImage: channels must be 1 or 3, not ${String(options.channels)}.`);
  }
  if (!(options.maxPixels > 0)) {
    throw new Error(`decodeImage: maxPixels must be a positive number, not ${String(options.maxPixels)}.`);
  }
  const r = options.resize;
  if (r && !(Number.isInteger(r.width) && r.width > 0 && Number.isInteger(r.height) && r.height > 0)) {
    throw new Error(`decodeImage: resize width and height must be positive integers, not ${r.width}x${r.height}.`);
  }
}

/**
 * The pixel count (width x height of the first frame) an image's header claims, read
 * without decoding a pixel; undefined when the bytes are not a supported image or their
 * header cannot be read (decodeImage then says what is wrong).
 */
export async function imagePixels(bytes: Uint8Array): Promise<number | undefined> {
  if (!sniffImageType(bytes)) return undefined;
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const meta = await sharp(input, { limitInputPixels: false, pages: 1 }).metadata().catch(() => undefined);
  return meta?.width && meta.height ? meta.width * meta.height : undefined;
}

/**
 * Decodes a JPEG, PNG, WebP or GIF (first frame) into uint8 HWC pixels: EXIF orientation
 * applied, converted to sRGB, alpha dropped, and greyscale expanded to 3 channels or RGB
 * reduced to 1, as asked. With `resize`, also resized to exactly width x height with
 * sharp's kernel in the same pipeline.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<DecodedImage> {
  validateOptions(options);
  if (bytes.length === 0) {
    throw new BadRequestError(`The request body is empty. Send an image: ${ACCEPTED}.`);
  }
  // Sniff first: sharp reads many more formats (TIFF, HEIF, SVG, PDF...) than we accept,
  // and some of them (SVG) are not safe to render from untrusted input.
  const type = sniffImageType(bytes);
  if (!type) throw unsupported(bytes);

  // libjpeg decodes the whole image once per scan of a progressive JPEG: thousands of tiny
  // scans are minutes of CPU, refused before a pixel is decoded.
  if (type === 'image/jpeg') {
    const scans = jpegScanCount(bytes, MAX_JPEG_SCANS);
    if (scans > MAX_JPEG_SCANS) {
      throw new UnprocessableError(`The JPEG has more than ${MAX_JPEG_SCANS} scans (progressive passes), the limit; encoders write 1 (baseline) to about 10. Re-encode it (e.g. as a baseline JPEG) and send it again.`);
    }
  }

  // A view of the caller's bytes, not a copy.
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxPixels = Math.floor(options.maxPixels);
  // sharp takes an integral pixel limit; above 2^53 there is no meaningful limit anyway.
  const pixelLimit = Number.isSafeInteger(maxPixels) ? maxPixels : false;

  // One pass: libvips checks the header against limitInputPixels before it decodes a
  // pixel. Parameter errors from building the pipeline are programming errors and are not
  // mapped; only what happens while reading the image is.
  let pipeline = sharp(input, {
    // 'error' aborts on truncated or corrupt data (a truncated JPEG would otherwise decode
    // with its missing rows grey). sharp's default, 'warning', also rejects the benign
    // warnings many phone and camera JPEGs carry (e.g. extraneous bytes before a marker).
    failOn: 'error',
    // A second guard on the pixel count, enforced by libvips itself.
    limitInputPixels: pixelLimit,
    // Top-to-bottom streaming decode; libvips switches to random access where an
    // operation (e.g. a 90 degree rotation) needs it.
    sequentialRead: true,
    // The first frame of an animated GIF or WebP (sharp's default, stated for clarity).
    pages: 1,
    ignoreIcc: options.ignoreIccProfile === true,
  }).rotate(); // EXIF orientation, applied before the resize so width/height are the final ones
  if (options.resize) {
    pipeline = pipeline.resize(options.resize.width, options.resize.height, { fit: 'fill', kernel: options.resize.kernel });
  }
  pipeline = options.channels === 3
    ? pipeline.toColourspace('srgb').removeAlpha() // greyscale -> 3 bands, CMYK/ICC -> sRGB
    : pipeline.greyscale().removeAlpha();
  pipeline = pipeline.raw({ depth: 'uchar' }) // 16-bit PNGs come out as 8-bit too
    // A time bound on libvips' work, whatever makes it slow; it stops the decode itself.
    .timeout({ seconds: IMAGE_DECODE_TIMEOUT_SECONDS });

  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (err) {
    // Only now read the header again, to say how large the image claims to be.
    if (err instanceof Error && /exceeds pixel limit/i.test(err.message)) {
      const meta = await sharp(input, { limitInputPixels: false }).metadata().catch(() => undefined);
      if (meta?.width && meta.height) throw tooManyPixels(meta.width, meta.height, maxPixels);
    }
    throw mapSharpError(err, type, maxPixels);
  }
  const { data, info } = out;
  if (info.channels !== options.channels || data.length !== info.width * info.height * options.channels) {
    throw new Error(`decodeImage: sharp returned ${info.width}x${info.height}x${info.channels} (${data.length} bytes) for ${options.channels} channels.`);
  }
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: options.channels,
  };
}
