// resolveModelDir against a real S3 protocol peer: s3rver on loopback (test/support/s3-server.ts).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { resolveModelDir, safeLocalPath } from '../src/model-store';
import { startS3Server } from './support/s3-server';
import { useAwsEnvironment } from './support/aws-env';
import type { S3TestServer } from './support/s3-server';

type ModelStore = typeof import('../src/model-store');

const BUCKET = 'models';
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const SHARDS = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];


let root: string;
let server: S3TestServer;
let port: number;
let s3: S3Client;
let layersFiles: Record<string, Buffer>;
let savedFiles: Record<string, Buffer>;
let originalWeights: number[][];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'model-store-test-'));
  server = await startS3Server();
  port = server.port;
  s3 = new S3Client(clientConfig(`http://127.0.0.1:${port}`));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

  layersFiles = await buildLayersModel();
  savedFiles = {
    'saved_model.pb': Buffer.from('not a real graph, but bytes all the same'),
    'variables/variables.index': Buffer.from([1, 2, 3, 4, 5]),
    'variables/variables.data-00000-of-00001': Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251)),
  };
  await put('layers/', Buffer.alloc(0)); // a console-style folder marker, to be skipped
  for (const [name, bytes] of Object.entries(layersFiles)) await put(`layers/${name}`, bytes);
  for (const [name, bytes] of Object.entries(savedFiles)) await put(`saved/${name}`, bytes);
  await put('broken/model.json', layersFiles['model.json']);
  await put(`broken/${SHARDS[0]}`, layersFiles[SHARDS[0]]);
  await put('escape/model.json', layersFiles['model.json']);
  const outward = JSON.parse(layersFiles['model.json'].toString()) as { weightsManifest: { paths: string[] }[] };
  outward.weightsManifest[0].paths = [`../layers/${SHARDS[0]}`, SHARDS[1]];
  await put('outward/model.json', Buffer.from(JSON.stringify(outward)));
  await put(`outward/${SHARDS[1]}`, layersFiles[SHARDS[1]]);
  // s3rver collapses '..' inside a key, but keeps it as the last segment.
  await put('escape/..', Buffer.from('outside'));
}, 30_000);

afterAll(async () => {
  await server?.stop();
  s3?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('resolveModelDir', () => {
  test('downloads a layers model from S3 and it loads back with identical weights', async () => {
    const cacheDir = await newCacheDir();
    const logger = recordingLogger();

    const dir = await resolveModelDir(`s3://${BUCKET}/layers`, { cacheDir, s3, logger });

    expect(path.dirname(dir)).toBe(cacheDir);
    expect(path.basename(dir)).toBe(createHash('sha256').update(`s3://${BUCKET}/layers/`).digest('hex').slice(0, 16));
    expect((await readdir(dir)).sort()).toEqual(['.complete.json', ...SHARDS, 'model.json'].sort());
    const loaded = await loadLayersModel(dir);
    expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(originalWeights);
    const totalBytes = Object.values(layersFiles).reduce((sum, b) => sum + b.length, 0);
    expect(logger.entries).toContainEqual(['Downloading model', expect.objectContaining({ objects: 3, bytes: totalBytes })]);
    expect(logger.entries).toContainEqual(['Downloaded model', expect.objectContaining({ ms: expect.any(Number) })]);
  });

  test('a second resolve, in this process or a new one, uses the cache without the network', async () => {
    const cacheDir = await newCacheDir();
    const dir = await resolveModelDir(`s3://${BUCKET}/layers/`, { cacheDir, s3 });
    const offline = observedClient(`http://127.0.0.1:${await closedPort()}`);
    const logger = recordingLogger();

    expect(await resolveModelDir(`s3://${BUCKET}/layers/`, { cacheDir, s3: offline.client })).toBe(dir);
    const newProcess = await freshModelStore();
    expect(await newProcess.resolveModelDir(`s3://${BUCKET}/layers/`, { cacheDir, s3: offline.client, logger })).toBe(dir);

    expect(offline.calls).toEqual([]);
    expect(logger.entries).toEqual([['Model cache hit', expect.objectContaining({ dir })]]);
    // The offline client really is offline: using it fails.
    await expect(newProcess.resolveModelDir(`s3://${BUCKET}/saved/`, { cacheDir, s3: offline.client })).rejects.toThrow();
  });

  test('concurrent resolves share one download', async () => {
    const cacheDir = await newCacheDir();
    const { client, calls } = observedClient(`http://127.0.0.1:${port}`);
    const store = await freshModelStore();

    const dirs = await Promise.all(
      Array.from({ length: 4 }, () => store.resolveModelDir(`s3://${BUCKET}/layers/`, { cacheDir, s3: client })),
    );

    expect(new Set(dirs).size).toBe(1);
    expect(calls.filter((c) => c === 'ListObjectsV2Command')).toHaveLength(1);
    expect(calls.filter((c) => c === 'GetObjectCommand')).toHaveLength(3);
  });

  test('follows ListObjectsV2 pagination and keeps nested SavedModel paths', async () => {
    const cacheDir = await newCacheDir();
    const { client, calls } = observedClient(`http://127.0.0.1:${port}`, { maxKeys: 1 });

    const dir = await resolveModelDir(`s3://${BUCKET}/saved/`, { cacheDir, s3: client });

    expect(calls.filter((c) => c === 'ListObjectsV2Command')).toHaveLength(3);
    for (const [name, bytes] of Object.entries(savedFiles)) {
      expect(await readFile(path.join(dir, name))).toEqual(bytes);
    }
  });

  test('a shard listed in model.json but missing from S3 is named in the error', async () => {
    const cacheDir = await newCacheDir();

    const error = await errorOf(resolveModelDir(`s3://${BUCKET}/broken/`, { cacheDir, s3 }));

    expect(error.message).toContain(SHARDS[1]);
    expect(error.message).not.toContain(SHARDS[0]);
    expect(error.message).toContain(`s3://${BUCKET}/broken/`);
    const [dir] = await readdir(cacheDir);
    expect(await readdir(path.join(cacheDir, dir))).not.toContain('.complete.json');
  });

  test('an empty prefix is an error naming the location, and a later retry succeeds', async () => {
    const cacheDir = await newCacheDir();
    const uri = `s3://${BUCKET}/later/`;

    const error = await errorOf(resolveModelDir(uri, { cacheDir, s3 }));
    expect(error.message).toContain(`No objects found at ${uri}`);
    expect(error.message).toMatch(/permission|s3:ListBucket/);

    await put('later/saved_model.pb', Buffer.from('pb'));
    const dir = await resolveModelDir(uri, { cacheDir, s3 });
    expect(await readFile(path.join(dir, 'saved_model.pb'), 'utf8')).toBe('pb');
  });

  test('a damaged cache (missing or truncated file) is downloaded again', async () => {
    const cacheDir = await newCacheDir();
    const uri = `s3://${BUCKET}/layers/`;
    const dir = await resolveModelDir(uri, { cacheDir, s3 });

    await unlink(path.join(dir, SHARDS[1]));
    await writeFile(path.join(dir, 'stray.txt'), 'left over');
    const first = observedClient(`http://127.0.0.1:${port}`);
    expect(await (await freshModelStore()).resolveModelDir(uri, { cacheDir, s3: first.client })).toBe(dir);
    expect(first.calls.filter((c) => c === 'GetObjectCommand')).toHaveLength(3);
    expect(await readFile(path.join(dir, SHARDS[1]))).toEqual(layersFiles[SHARDS[1]]);
    expect(await readdir(dir)).not.toContain('stray.txt');

    await truncate(path.join(dir, SHARDS[0]), 1);
    const second = observedClient(`http://127.0.0.1:${port}`);
    expect(await (await freshModelStore()).resolveModelDir(uri, { cacheDir, s3: second.client })).toBe(dir);
    expect(second.calls.filter((c) => c === 'GetObjectCommand')).toHaveLength(3);
    expect(await readFile(path.join(dir, SHARDS[0]))).toEqual(layersFiles[SHARDS[0]]);
  });

  test('an object key with ".." is rejected before anything is written', async () => {
    const cacheDir = await newCacheDir();

    const error = await errorOf(resolveModelDir(`s3://${BUCKET}/escape/`, { cacheDir, s3 }));

    expect(error.message).toContain('"escape/.."');
    expect(await readdir(cacheDir)).toEqual([]);
  });

  test('a model.json whose weight path leaves the model folder ("../") is refused, naming the path, and nothing is cached', async () => {
    const cacheDir = await newCacheDir();

    const error = await errorOf(resolveModelDir(`s3://${BUCKET}/outward/`, { cacheDir, s3 }));

    expect(error.message).toContain(`model.json at s3://${BUCKET}/outward/ lists the weight file "../layers/${SHARDS[0]}", which is outside the model folder`);
    const [dir] = await readdir(cacheDir);
    expect(await readdir(path.join(cacheDir, dir))).not.toContain('.complete.json');
  });

  test('the completion marker records each object\'s size, ETag, SHA-256 and what its bytes were checked against', async () => {
    const cacheDir = await newCacheDir();

    const dir = await resolveModelDir(`s3://${BUCKET}/saved/`, { cacheDir, s3 });

    const marker = JSON.parse(await readFile(path.join(dir, '.complete.json'), 'utf8')) as { version: number; objects: object[] };
    expect(marker.version).toBe(2);
    expect(marker.objects).toEqual(Object.entries(savedFiles).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, bytes]) => ({
      path: name,
      key: `saved/${name}`,
      size: bytes.length,
      etag: `"${createHash('md5').update(bytes).digest('hex')}"`,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      verifiedBy: ['etag-md5'],
    })));
  });

  test('with no client given, the endpoint comes from AWS_ENDPOINT_URL_S3 and path style is used', async () => {
    const cacheDir = await newCacheDir();
    // 'localhost', not an IP: the SDK already uses path style for IP endpoints by itself.
    const restoreEnv = useAwsEnvironment({
      AWS_ENDPOINT_URL_S3: `http://localhost:${port}`,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    });
    try {
      const dir = await resolveModelDir(`s3://${BUCKET}/saved/`, { cacheDir });
      expect(await readFile(path.join(dir, 'saved_model.pb'))).toEqual(savedFiles['saved_model.pb']);
    } finally {
      restoreEnv();
    }
  });

  test('a local model folder is returned as given, as a path or a file:// URL', async () => {
    const layers = path.join(root, 'local-layers');
    const saved = path.join(root, 'local-saved');
    await mkdir(layers, { recursive: true });
    await mkdir(saved, { recursive: true });
    await writeFile(path.join(layers, 'model.json'), '{}');
    await writeFile(path.join(saved, 'saved_model.pb'), 'pb');
    const cacheDir = await newCacheDir();

    expect(await resolveModelDir(layers, { cacheDir })).toBe(layers);
    expect(await resolveModelDir(saved, { cacheDir })).toBe(saved);
    expect(await resolveModelDir(pathToFileURL(layers).href, { cacheDir })).toBe(layers);
    const relative = path.relative(process.cwd(), layers);
    expect(await resolveModelDir(relative, { cacheDir })).toBe(relative);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  test('a local folder without model files, or no folder at all, is a configuration error', async () => {
    const empty = path.join(root, 'local-empty');
    await mkdir(empty, { recursive: true });
    await writeFile(path.join(empty, 'weights.bin'), 'x');
    const cacheDir = await newCacheDir();

    const noModel = await errorOf(resolveModelDir(empty, { cacheDir }));
    expect(noModel.message).toContain(empty);
    expect(noModel.message).toMatch(/model\.json.*saved_model\.pb/);

    const missing = path.join(root, 'does-not-exist');
    const noDir = await errorOf(resolveModelDir(missing, { cacheDir }));
    expect(noDir.message).toContain(missing);
    expect(noDir.message).toMatch(/does not exist/);
  });
});

describe('safeLocalPath', () => {
  const modelDir = path.join(os.tmpdir(), 'model');

  test('keeps nested relative paths inside the folder', () => {
    expect(safeLocalPath(modelDir, 'variables/variables.index')).toBe(path.join(modelDir, 'variables', 'variables.index'));
    expect(safeLocalPath(modelDir, 'a..b/c..')).toBe(path.join(modelDir, 'a..b', 'c..'));
  });

  test.each(['..', '../x', 'a/../../x', 'a/../b', '/etc/passwd', '', 'a/..', '..\\x'])('rejects %j', (relative) => {
    expect(() => safeLocalPath(modelDir, relative)).toThrow(/outside the model folder/);
  });
});

// --- helpers -------------------------------------------------------------------------

function clientConfig(endpoint: string) {
  return { endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 };
}

/** A client that records each command it sends and can shrink listing pages. */
function observedClient(endpoint: string, options: { maxKeys?: number } = {}): { client: S3Client; calls: string[] } {
  const client = new S3Client(clientConfig(endpoint));
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? 'unknown');
      if (options.maxKeys !== undefined && context.commandName === 'ListObjectsV2Command') {
        (args.input as { MaxKeys?: number }).MaxKeys = options.maxKeys;
      }
      return next(args);
    },
    { step: 'initialize', name: 'observeCommands' },
  );
  return { client, calls };
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

async function put(key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function newCacheDir(): Promise<string> {
  return mkdtemp(path.join(root, 'cache-'));
}

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(outcome instanceof Error)) throw new Error(`expected a rejection with an Error, got ${String(outcome)}`);
  return outcome;
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port: free } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return free;
}

/** A tiny real layers model, saved as model.json plus two weight shards. */
async function buildLayersModel(): Promise<Record<string, Buffer>> {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
  originalWeights = model.getWeights().map((w) => Array.from(w.dataSync()));
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const weights = Buffer.from(tf.io.CompositeArrayBuffer.join(artifacts!.weightData!));
  const cut = Math.floor(weights.length / 2);
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'model-store.test',
    convertedBy: null,
    modelTopology: artifacts!.modelTopology,
    weightsManifest: [{ paths: SHARDS, weights: artifacts!.weightSpecs }],
  };
  return {
    'model.json': Buffer.from(JSON.stringify(modelJson)),
    [SHARDS[0]]: weights.subarray(0, cut),
    [SHARDS[1]]: weights.subarray(cut),
  };
}

/** Loads a layers model from a folder, reading the shards model.json names. */
async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p))));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: new Uint8Array(Buffer.concat(shards)).buffer,
    }),
  );
}
