// A model is never served from bytes that are not the model's. Read from S3 through a
// fault-injecting proxy (test/support/s3-fault-proxy.ts) in front of s3rver, every fault
// (a dropped connection, no headers, a stalled or trickling body, wrong bytes of the right
// length, a longer or truncated body) either heals on a retry, and the model answers as
// the original does, or fails in bounded time with an error that names the object; the
// cached copy is checked against the digests recorded at download before it is reused; a
// local folder whose shards hold bytes too many or too few, or lie outside it, is refused.
import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdtemp, readFile, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { modelS3Client } from '../src/aws-clients';
import { ConfigurationError } from '../src/errors';
import { loadModel } from '../src/model';
import { MODEL_DOWNLOAD_LIMITS, ModelDownloadError, ModelIntegrityError } from '../src/model-download';
import { resolveModelDir } from '../src/model-store';
import { constNode, dim, linearGraphModel, placeholderNode, useWasm, writeGraphModel } from './support/models';
import { startS3FaultProxy } from './support/s3-fault-proxy';
import { S3_CREDENTIALS, startS3Server } from './support/s3-server';
import type { ModelDownloadLimits } from '../src/model-download';
import type { ServableModel } from '../src/model';
import type { FaultRule, S3FaultProxy } from './support/s3-fault-proxy';
import type { S3TestServer } from './support/s3-server';

type ModelStore = typeof import('../src/model-store');

const WASM = { name: 'wasm', reason: 'tests', native: false } as const;
const BUCKET = 'models';
const PREFIX = 'wide/';
const URI = `s3://${BUCKET}/${PREFIX}`;
const SHARD = 'group1-shard1of1.bin';
const SHARD_URI = `${URI}${SHARD}`;
/** Inputs of the test model: its one weight file is 16384 x 2 float32s, 128 KB. */
const FEATURES = 16_384;

/** Small bounds, so that every fault resolves in well under a second per attempt. */
const LIMITS: ModelDownloadLimits = { responseTimeoutMs: 300, stallTimeoutMs: 300, minBytesPerSecond: 1024 * 1024, maxAttempts: 3, retryDelayMs: 10 };

let server: S3TestServer;
let proxy: S3FaultProxy;
let s3: S3Client;
let root: string;
let files: Record<string, Buffer>;
let x: number[][];
let reference: number[][];

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(os.tmpdir(), 'model-integrity-'));
  server = await startS3Server();
  proxy = await startS3FaultProxy(server.endpoint);
  // As the runtime's own model client: the model store retries, the SDK does not.
  s3 = new S3Client({ endpoint: proxy.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3_CREDENTIALS, maxAttempts: 1 });
  const direct = server.client();
  await direct.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const local = await wideLinearModel();
  files = Object.fromEntries(await Promise.all((await readdir(local)).map(async (name) => [name, await readFile(path.join(local, name))] as const)));
  for (const [name, bytes] of Object.entries(files)) {
    await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${name}`, Body: bytes }));
  }
  x = [Array.from({ length: FEATURES }, (_, i) => ((i % 13) - 6) / 6)];
  reference = await answers(local);
}, 30_000);

afterEach(() => proxy.reset());

afterAll(async () => {
  s3?.destroy();
  await proxy?.stop();
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('S3 download limits', () => {
  test('the defaults: 2 s for headers, 2 s without bytes, 1 MB/s at the slowest, 3 attempts from 100 ms apart', () => {
    expect(MODEL_DOWNLOAD_LIMITS).toEqual({ responseTimeoutMs: 2000, stallTimeoutMs: 2000, minBytesPerSecond: 1024 * 1024, maxAttempts: 3, retryDelayMs: 100 });
  });

  test('the runtime\'s model client makes one SDK attempt per request: the store\'s retries are the only ones', async () => {
    const client = await modelS3Client();
    expect(await client.config.maxAttempts()).toBe(1);
  });

  test('with the defaults, a shard that stalls on every attempt fails well inside the 10 s on-demand init', () => {
    const { responseTimeoutMs, stallTimeoutMs, maxAttempts, retryDelayMs } = MODEL_DOWNLOAD_LIMITS;
    const longestPauses = Array.from({ length: maxAttempts - 1 }, (_, i) => retryDelayMs * 2 ** i).reduce((a, b) => a + b, 0);
    expect(maxAttempts * Math.max(responseTimeoutMs, stallTimeoutMs) + longestPauses).toBeLessThan(7_000);
  });
});

describe('a model read from S3 through a faulty connection', () => {
  test('a clean read records each object\'s SHA-256 and what it was checked against (the ETag MD5), and serves the original\'s answers', async () => {
    const cacheDir = await newCacheDir();

    const dir = await resolveModelDir(URI, { cacheDir, s3, limits: LIMITS });

    expect(await answers(dir)).toEqual(reference);
    const marker = await readMarker(dir);
    expect(marker.objects).toEqual(Object.keys(files).sort().map((name) => expect.objectContaining({
      path: name, size: files[name].length, sha256: sha256(files[name]), verifiedBy: ['etag-md5'],
    })));
  });

  describe.each<[string, FaultRule['fault'], RegExp]>([
    ['the connection dropped before an answer', { kind: 'drop' }, /connection failed \(ECONNRESET|socket hang up/],
    ['no response headers', { kind: 'stall-headers' }, /no response in 300 ms/],
    ['the body stalling after 64 KB', { kind: 'stall-body', afterBytes: 64 * 1024 }, /no bytes for 300 ms after 64\.0 KB of 128\.0 KB/],
    ['the body cut off after 1000 bytes', { kind: 'truncate', bytes: 1000 }, /connection broke after 1000 B of 128\.0 KB|body ended after 1000 B/],
  ])('%s', (_name, fault, reason) => {
    test('once: the GET is retried, and the model answers as the original does', async () => {
      proxy.add({ key: `${PREFIX}${SHARD}`, fault, times: 1 });
      const logger = recordingLogger();

      const dir = await resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS, logger });

      expect(await answers(dir)).toEqual(reference);
      expect(shardGets()).toEqual([fault.kind, 'none']);
      expect(logger.entries).toContainEqual(['Retrying model download', expect.objectContaining({ object: SHARD_URI, attempt: 1, maxAttempts: 3, reason: expect.stringMatching(reason) })]);
    });

    test('every time: the init fails within the bounds, naming the object and what happened, and nothing is cached', async () => {
      proxy.add({ key: `${PREFIX}${SHARD}`, fault });
      const cacheDir = await newCacheDir();
      const started = Date.now();

      const error = await errorOf(resolveModelDir(URI, { cacheDir, s3, limits: LIMITS }));

      // 3 attempts, each within its 726 ms deadline (300 ms for headers + 300 ms stalled + 128 KB at 1 MB/s), and the pauses.
      expect(Date.now() - started).toBeLessThan(3 * 726 + 1000);
      expect(error).toBeInstanceOf(ModelDownloadError);
      expect(error.message).toContain(`Could not download ${SHARD_URI} after 3 attempts: `);
      expect(error.message).toMatch(reason);
      expect(shardGets()).toEqual([fault.kind, fault.kind, fault.kind]);
      expect(await markerIn(cacheDir)).toBe(false);
    });
  });

  test('a body that trickles slower than 1 MB/s without ever stalling fails on its deadline', async () => {
    proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'trickle', chunkBytes: 4096, intervalMs: 100 } });
    const started = Date.now();

    const error = await errorOf(resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: { ...LIMITS, maxAttempts: 2 } }));

    // 300 ms for headers + 300 ms stalled + 131080 bytes at 1 MB/s.
    const deadlineMs = 300 + 300 + Math.ceil(files[SHARD].length * 1000 / (1024 * 1024));
    expect(Date.now() - started).toBeLessThan(2 * deadlineMs + 1000);
    expect(error.message).toMatch(new RegExp(`Could not download ${SHARD_URI} after 2 attempts: not complete ${deadlineMs} ms after the request, with \\d+\\.\\d KB of 128\\.0 KB \\(slower than 1\\.0 MB/s\\)`));
  });

  test('wrong bytes of the right length once: caught by the ETag\'s MD5, downloaded again, and the right model served', async () => {
    proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'corrupt' }, times: 1 });
    const logger = recordingLogger();

    const dir = await resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS, logger });

    expect(await answers(dir)).toEqual(reference);
    expect(await readFile(path.join(dir, SHARD))).toEqual(files[SHARD]);
    expect(logger.entries).toContainEqual(['Retrying model download', expect.objectContaining({
      object: SHARD_URI, reason: `the bytes' MD5 is ${md5(corrupted(files[SHARD]))}, but the ETag says ${md5(files[SHARD])}`,
    })]);
  });

  test('wrong bytes every time: one retry, then an integrity error with expected and actual MD5, and nothing is cached', async () => {
    proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'corrupt' } });
    const cacheDir = await newCacheDir();

    const error = await errorOf(resolveModelDir(URI, { cacheDir, s3, limits: LIMITS }));

    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`${SHARD_URI}: the bytes' MD5 is ${md5(corrupted(files[SHARD]))}, but the ETag says ${md5(files[SHARD])}, after 2 attempts`);
    expect(error.message).toMatch(/upload the model again/);
    expect(shardGets()).toEqual(['corrupt', 'corrupt']);
    expect(await markerIn(cacheDir)).toBe(false);
    const [modelDir] = await readdir(cacheDir);
    expect(await readdir(path.join(cacheDir, modelDir))).not.toContain(SHARD);

    // Once the connection is clean again, the next init downloads the model.
    proxy.reset();
    expect(await answers(await resolveModelDir(URI, { cacheDir, s3, limits: LIMITS }))).toEqual(reference);
  });

  test('a longer body, with a Content-Length that says so, is refused before it is read', async () => {
    proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'extra-bytes', bytes: 64 } });

    const error = await errorOf(resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS }));

    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect(error.message).toContain(`${SHARD_URI}: S3 answered with ${files[SHARD].length + 64} bytes (Content-Length), but the listing says ${files[SHARD].length}`);
  });

  test('bytes past the Content-Length are never read: the model is the original', async () => {
    proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'overrun', bytes: 64 } });

    const dir = await resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS });

    expect(await readFile(path.join(dir, SHARD))).toEqual(files[SHARD]);
    expect(await answers(dir)).toEqual(reference);
  });

  test('a listing that never answers is retried, then fails naming the listing', async () => {
    proxy.add({ list: true, fault: { kind: 'stall-headers' } });
    const started = Date.now();

    const error = await errorOf(resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS }));

    // 3 attempts of 300 ms for headers + 300 ms for the body of a listing page, and the pauses.
    expect(Date.now() - started).toBeLessThan(3 * 600 + 1000);
    expect(error).toBeInstanceOf(ModelDownloadError);
    expect(error.message).toContain(`Could not download the listing of ${URI} after 3 attempts: no complete response in 600 ms`);
  });

  describe('objects whose ETag is not an MD5 of their bytes', () => {
    // s3rver gives every object a plain MD5 ETag and no checksums: the proxy sends the
    // headers real S3 sends for a multipart upload with a full-object CRC32, and for SSE-KMS.
    const multipart = () => ({ etag: `"${md5(files[SHARD])}-2"`, 'x-amz-checksum-crc32': crc32Base64(files[SHARD]), 'x-amz-checksum-type': 'FULL_OBJECT' });

    test('multipart with a full-object CRC32: verified by the SDK\'s checksum check', async () => {
      proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'pass' }, headers: multipart() });

      const dir = await resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS });

      expect((await readMarker(dir)).objects.find((o) => o.path === SHARD)?.verifiedBy).toEqual(['s3-checksum-crc32']);
      expect(await answers(dir)).toEqual(reference);
    });

    test('multipart with a full-object CRC32 and wrong bytes: the checksum mismatch is an integrity error', async () => {
      proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'corrupt' }, headers: multipart() });
      const cacheDir = await newCacheDir();

      const error = await errorOf(resolveModelDir(URI, { cacheDir, s3, limits: LIMITS }));

      expect(error).toBeInstanceOf(ModelIntegrityError);
      expect(error.message).toContain(`${SHARD_URI}: Checksum mismatch: expected "${crc32Base64(files[SHARD])}" but received "${crc32Base64(corrupted(files[SHARD]))}" in response header "x-amz-checksum-crc32"`);
      expect(shardGets()).toEqual(['corrupt', 'corrupt']);
      expect(await markerIn(cacheDir)).toBe(false);
    });

    test('SSE-KMS without an S3 checksum: accepted (not refused for its ETag), logged as not verifiable, its SHA-256 recorded', async () => {
      const kmsEtag = `"${md5(Buffer.from('not the bytes'))}"`;
      proxy.add({ key: `${PREFIX}${SHARD}`, fault: { kind: 'pass' }, headers: { etag: kmsEtag, 'x-amz-server-side-encryption': 'aws:kms' } });
      const logger = recordingLogger();

      const dir = await resolveModelDir(URI, { cacheDir: await newCacheDir(), s3, limits: LIMITS, logger });

      expect((await readMarker(dir)).objects.find((o) => o.path === SHARD)).toMatchObject({ verifiedBy: [], sha256: sha256(files[SHARD]) });
      expect(logger.entries).toContainEqual(['Model objects not verifiable against S3', expect.objectContaining({
        uri: URI, objects: [expect.objectContaining({ key: `${PREFIX}${SHARD}`, sha256: sha256(files[SHARD]) })],
      })]);
      expect(await answers(dir)).toEqual(reference);
    });
  });
});

describe('the cached copy in the cache folder', () => {
  test('a shard rewritten on disk at the same size is detected by its SHA-256, logged and downloaded again', async () => {
    const cacheDir = await newCacheDir();
    const dir = await resolveModelDir(URI, { cacheDir, s3, limits: LIMITS });
    const bytes = await readFile(path.join(dir, SHARD));
    await writeFile(path.join(dir, SHARD), corrupted(bytes));
    proxy.reset();
    const logger = recordingLogger();

    const again = await (await freshModelStore()).resolveModelDir(URI, { cacheDir, s3, limits: LIMITS, logger });

    expect(again).toBe(dir);
    expect(logger.entries).toContainEqual(['Model cache damaged: downloading again', expect.objectContaining({
      file: SHARD, expected: `sha256 ${sha256(files[SHARD])}`, actual: `sha256 ${sha256(corrupted(files[SHARD]))}`,
    })]);
    expect(proxy.requests.filter((r) => r.key !== '')).toHaveLength(Object.keys(files).length);
    expect(await readFile(path.join(dir, SHARD))).toEqual(files[SHARD]);
    expect(await answers(dir)).toEqual(reference);
  });

  test('an intact cache is reused without the network, after its digests are checked', async () => {
    const cacheDir = await newCacheDir();
    const dir = await resolveModelDir(URI, { cacheDir, s3, limits: LIMITS });
    proxy.reset();
    const logger = recordingLogger();

    expect(await (await freshModelStore()).resolveModelDir(URI, { cacheDir, s3, limits: LIMITS, logger })).toBe(dir);

    expect(proxy.requests).toEqual([]);
    expect(logger.entries).toEqual([['Model cache hit', expect.objectContaining({ dir, ms: expect.any(Number) })]]);
  });

  test('a cache left by an earlier runtime (a marker without digests) is downloaded again', async () => {
    const cacheDir = await newCacheDir();
    const dir = await resolveModelDir(URI, { cacheDir, s3, limits: LIMITS });
    const { objects } = await readMarker(dir);
    await writeFile(path.join(dir, '.complete.json'), JSON.stringify({ uri: URI, objects: objects.map(({ path: p, key, size, etag }) => ({ path: p, key, size, etag })) }));
    proxy.reset();

    await (await freshModelStore()).resolveModelDir(URI, { cacheDir, s3, limits: LIMITS });

    expect(proxy.requests.filter((r) => r.key !== '')).toHaveLength(Object.keys(files).length);
    expect((await readMarker(dir)).version).toBe(2);
  });
});

describe('a local model folder', () => {
  test('a shard with 64 extra bytes is refused, naming the file, the bytes it holds and the bytes its weights take', async () => {
    const { dir } = await linearGraphModel();
    await appendFile(path.join(dir, SHARD), Buffer.alloc(64));

    const error = await errorOf(loadModel(tf, dir, 'auto', WASM));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`${path.join(dir, SHARD)} holds 96 bytes, but the 2 weights model.json lists for it take 32: 64 bytes too many.`);
  });

  test('a shard 4 bytes short is refused', async () => {
    const { dir } = await linearGraphModel();
    await truncate(path.join(dir, SHARD), 28);

    await expect(loadModel(tf, dir, 'auto', WASM)).rejects.toThrow(`${path.join(dir, SHARD)} holds 28 bytes, but the 2 weights model.json lists for it take 32: 4 bytes too few.`);
  });

  test.each([
    ['"../"', (outside: string) => path.join('..', path.basename(path.dirname(outside)), path.basename(outside))],
    ['an absolute path', (outside: string) => outside],
  ])('a weight path with %s is refused, though the file it names exists and is right', async (_name, spell) => {
    const { dir } = await linearGraphModel();
    const outsideDir = await mkdtemp(path.join(os.tmpdir(), 'outside-'));
    const outside = path.join(outsideDir, 'weights.bin');
    await copyFile(path.join(dir, SHARD), outside);
    const weightPath = spell(outside);
    await rewriteManifest(dir, (manifest) => [{ ...manifest[0], paths: [weightPath] }]);

    const error = await errorOf(loadModel(tf, dir, 'auto', WASM));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`lists the weight file ${JSON.stringify(weightPath)} (weightsManifest group 1), which is outside the model folder`);
  });

  test('a shard that is a symbolic link out of the folder is refused', async () => {
    const { dir } = await linearGraphModel();
    const outside = path.join(await mkdtemp(path.join(os.tmpdir(), 'outside-')), 'weights.bin');
    await copyFile(path.join(dir, SHARD), outside);
    await rm(path.join(dir, SHARD));
    await symlink(outside, path.join(dir, SHARD));

    await expect(loadModel(tf, dir, 'auto', WASM)).rejects.toThrow(`resolves to ${outside}, outside the model folder`);
  });

  test('a group split over two shards is checked as a whole: the right total loads, and the error names both files', async () => {
    const { dir } = await linearGraphModel();
    const original = await predictIn(dir, [[1, 2, 3]]);
    const bytes = await readFile(path.join(dir, SHARD));
    await writeFile(path.join(dir, 'part1.bin'), bytes.subarray(0, 20));
    await writeFile(path.join(dir, 'part2.bin'), bytes.subarray(20));
    await rewriteManifest(dir, (manifest) => [{ ...manifest[0], paths: ['part1.bin', 'part2.bin'] }]);

    expect(await predictIn(dir, [[1, 2, 3]])).toEqual(original);

    await appendFile(path.join(dir, 'part2.bin'), Buffer.alloc(8));
    await expect(loadModel(tf, dir, 'auto', WASM)).rejects.toThrow(`The weight files of weightsManifest group 1 (${path.join(dir, 'part1.bin')}, ${path.join(dir, 'part2.bin')}) hold 40 bytes together (20 + 20), but the 2 weights model.json lists for them take 32: 8 bytes too many.`);
  });

  test('quantized weights are sized by their quantization dtype (uint8: 1 byte a value)', async () => {
    const dir = await writeGraphModel('quantized', [
      placeholderNode('x', 'DT_FLOAT', dim(-1, 3)),
      constNode('W', 'DT_FLOAT', dim(3, 2)),
      { name: 'y', op: 'MatMul', input: ['x', 'W'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
    ], []);
    await writeFile(path.join(dir, SHARD), Buffer.from([0, 1, 2, 3, 4, 5]));
    await rewriteManifest(dir, () => [{ paths: [SHARD], weights: [{ name: 'W', shape: [3, 2], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5 } }] }]);

    // W = [[-1, -0.5], [0, 0.5], [1, 1.5]]
    expect(await predictIn(dir, [[1, 1, 1]])).toEqual([[0, 1.5]]);

    await appendFile(path.join(dir, SHARD), Buffer.alloc(2));
    await expect(loadModel(tf, dir, 'auto', WASM)).rejects.toThrow('holds 8 bytes, but the 1 weights model.json lists for it take 6: 2 bytes too many.');
  });

  test('string weights are sized from their length prefixes', async () => {
    const dir = await writeGraphModel('strings', [
      placeholderNode('x', 'DT_FLOAT', dim(-1, 1)),
      { name: 'labels', op: 'Const', attr: { dtype: { type: 'DT_STRING' }, value: { tensor: { dtype: 'DT_STRING', tensorShape: dim(2) } } } },
      { name: 'y', op: 'Identity', input: ['x'], attr: { T: { type: 'DT_FLOAT' } } },
    ], []);
    const strings = Buffer.concat(['cat', 'dog!'].map((s) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(s.length);
      return Buffer.concat([length, Buffer.from(s)]);
    }));
    await writeFile(path.join(dir, SHARD), strings);
    await rewriteManifest(dir, () => [{ paths: [SHARD], weights: [{ name: 'labels', shape: [2], dtype: 'string' }] }]);

    (await loadModel(tf, dir, 'auto', WASM)).dispose();

    await appendFile(path.join(dir, SHARD), Buffer.alloc(64));
    await expect(loadModel(tf, dir, 'auto', WASM)).rejects.toThrow(`holds ${strings.length + 64} bytes, but the 1 weights model.json lists for it take ${strings.length}: 64 bytes too many.`);
  });
});

// --- helpers -------------------------------------------------------------------------

/** y = x . W + b with x: [-1, 16384]: a 128 KB weight file, so a body can stall part-way. */
async function wideLinearModel(): Promise<string> {
  const W = Array.from({ length: FEATURES * 2 }, (_, i) => (((i * 7919) % 2001) - 1000) / 1000);
  return writeGraphModel('wide-linear', [
    placeholderNode('x', 'DT_FLOAT', dim(-1, FEATURES)),
    constNode('W', 'DT_FLOAT', dim(FEATURES, 2)),
    constNode('b', 'DT_FLOAT', dim(2)),
    { name: 'MatMul', op: 'MatMul', input: ['x', 'W'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'y', op: 'AddV2', input: ['MatMul', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
  ], [{ name: 'W', shape: [FEATURES, 2], dtype: 'float32', values: W }, { name: 'b', shape: [2], dtype: 'float32', values: [0.25, -0.5] }]);
}

/** The model in `dir`, loaded as the runtime loads it, run on the test input. */
async function answers(dir: string): Promise<number[][]> {
  return predictIn(dir, x);
}

async function predictIn(dir: string, rows: number[][]): Promise<number[][]> {
  const model = await loadModel(tf, dir, 'auto', WASM);
  try {
    return await predict(model, rows);
  } finally {
    model.dispose();
  }
}

async function predict(model: ServableModel, rows: number[][]): Promise<number[][]> {
  const input = tf.tensor2d(rows);
  const out = await model.run({ [model.inputs[0].name]: input });
  try {
    return (await Object.values(out)[0].array()) as number[][];
  } finally {
    input.dispose();
    tf.dispose(Object.values(out));
  }
}

/** The bytes with the one in the middle inverted: what the proxy's 'corrupt' fault sends. */
function corrupted(bytes: Buffer): Buffer {
  const wrong = Buffer.from(bytes);
  wrong[Math.floor(bytes.length / 2)] ^= 0xff;
  return wrong;
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A CRC32 as S3 sends it: the 4 bytes, big-endian, in base64. */
function crc32Base64(bytes: Buffer): string {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(crc32(bytes));
  return value.toString('base64');
}

/** The faults applied to the shard's GETs, in order. */
function shardGets(): string[] {
  return proxy.requests.filter((r) => r.key === `${PREFIX}${SHARD}`).map((r) => r.fault);
}

interface MarkerJson {
  readonly version?: number;
  readonly objects: readonly { path: string; key: string; size: number; etag?: string; sha256: string; verifiedBy: string[] }[];
}

async function readMarker(dir: string): Promise<MarkerJson> {
  return JSON.parse(await readFile(path.join(dir, '.complete.json'), 'utf8')) as MarkerJson;
}

async function markerIn(cacheDir: string): Promise<boolean> {
  for (const dir of await readdir(cacheDir)) {
    if ((await readdir(path.join(cacheDir, dir))).includes('.complete.json')) return true;
  }
  return false;
}

async function rewriteManifest(dir: string, change: (manifest: tf.io.WeightsManifestConfig) => unknown): Promise<void> {
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(await readFile(file, 'utf8')) as { weightsManifest: tf.io.WeightsManifestConfig };
  await writeFile(file, JSON.stringify({ ...json, weightsManifest: change(json.weightsManifest) }));
}

async function newCacheDir(): Promise<string> {
  return mkdtemp(path.join(root, 'cache-'));
}

/** The module loaded afresh, as a new Lambda process would: no in-process memo. */
async function freshModelStore(): Promise<ModelStore> {
  let loaded: ModelStore | undefined;
  await jest.isolateModulesAsync(async () => {
    loaded = await import('../src/model-store');
  });
  return loaded!;
}

function recordingLogger(): { entries: Array<[string, object | undefined]>; info(msg: string, extra?: object): void } {
  const entries: Array<[string, object | undefined]> = [];
  return { entries, info: (msg, extra) => entries.push([msg, extra]) };
}

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(() => undefined, (err: unknown) => err);
  if (!(outcome instanceof Error)) throw new Error(`expected a rejection with an Error, got ${String(outcome)}`);
  return outcome;
}
