// Turns the configured model location (a local folder or an s3:// prefix) into a local
// folder the TensorFlow loaders can read. An S3 model is downloaded at most once per
// process, each object within a time bound and checked against S3's integrity data
// (model-download.ts), and a completed download left in the cache folder by an earlier
// process (a warm /tmp) is reused without touching the network once every file's
// SHA-256 matches the one recorded when it was downloaded.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelS3Client, s3Commands } from './aws-clients';
import { MODEL_DOWNLOAD_LIMITS, downloadVerified, sendBounded, sha256OfFile } from './model-download';
import { missingModelFileError } from './model';
import type { ModelDownloadLimits } from './model-download';
import type { S3Client } from '@aws-sdk/client-s3';

export interface ModelStoreLogger {
  info(msg: string, extra?: object): void;
}

export interface ResolveModelDirOptions {
  /** Parent folder for downloaded models; each S3 location gets its own subfolder. */
  readonly cacheDir: string;
  /** The client for the model's requests; its own retries should be off (maxAttempts 1), as these requests retry themselves. */
  readonly s3?: S3Client;
  readonly logger?: ModelStoreLogger;
  /** Time bounds and retries of each S3 request. @default MODEL_DOWNLOAD_LIMITS */
  readonly limits?: Partial<ModelDownloadLimits>;
  /** The TF.js model file in the folder when it is not model.json (SERVERLESS_TF_MODEL_FILE). */
  readonly modelFile?: string;
}

/** Written last, so its presence means every file it lists was fully downloaded and verified. */
const MARKER_FILE = '.complete.json';

/** Markers of earlier runtimes recorded no digests: their caches are downloaded again. */
const MARKER_VERSION = 2;

/** Enough parallel GETs to fill Lambda's network link without exhausting sockets. */
const DOWNLOAD_CONCURRENCY = 8;

const MODEL_FILES = ['model.json', 'saved_model.pb'] as const;

interface S3Location {
  readonly bucket: string;
  /** Empty, or ending in '/', so that `models/a` never matches `models/ab/...`. */
  readonly prefix: string;
  readonly uri: string;
}

interface ListedObject {
  /** Path relative to the model folder, '/'-separated. */
  readonly path: string;
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
}

interface CachedObject extends ListedObject {
  /** Hex SHA-256 of the bytes as downloaded: the cached file must still have it. */
  readonly sha256: string;
  /** What the download was checked against (ETag MD5, an S3 checksum); empty: nothing S3 had. */
  readonly verifiedBy: readonly string[];
}

interface Marker {
  readonly version: typeof MARKER_VERSION;
  readonly uri: string;
  readonly objects: readonly CachedObject[];
}

// One download per location per process: Lambda may start several initialisers
// (e.g. warm-up and first request) that all ask for the same model.
const inFlight = new Map<string, Promise<string>>();

/**
 * Returns a local folder holding the model at `uri`: a local path (or file:// URL) as
 * given, or the cache folder an s3://bucket/prefix/ location was downloaded into.
 * Throws at init: a plain Error for a wrong location, a ModelDownloadError naming the
 * object that could not be fetched in time, a ModelIntegrityError for one whose bytes do
 * not match S3's integrity data on the retry either.
 */
export async function resolveModelDir(uri: string, options: ResolveModelDirOptions): Promise<string> {
  if (!uri.startsWith('s3://')) {
    const dir = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
    await assertLocalModelDir(dir, options.modelFile);
    return dir;
  }
  const location = parseS3Uri(uri);
  const memoKey = `${path.resolve(options.cacheDir)}\n${location.uri}\n${options.modelFile ?? ''}`;
  let pending = inFlight.get(memoKey);
  if (!pending) {
    pending = fetchToCache(location, options);
    inFlight.set(memoKey, pending);
    // A failure must not stick: the next init (or a retry) should try again.
    pending.catch(() => inFlight.delete(memoKey));
  }
  return pending;
}

/**
 * Resolves an object's path relative to the model folder to a path inside `root`, or
 * throws when it would land outside (`..` segments, absolute paths): object keys are
 * untrusted input and must not be able to overwrite arbitrary files.
 */
export function safeLocalPath(root: string, relative: string): string {
  const segments = relative.split(/[\\/]/);
  const resolvedRoot = path.resolve(root);
  const target = path.resolve(resolvedRoot, relative);
  if (
    relative === '' ||
    relative.includes('\0') ||
    path.isAbsolute(relative) ||
    segments.includes('..') ||
    !target.startsWith(resolvedRoot + path.sep)
  ) {
    throw new Error(`Refusing to write "${relative}" outside the model folder ${resolvedRoot}.`);
  }
  return target;
}

function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`Model URI "${uri}" is not of the form s3://bucket/prefix/.`);
  const bucket = match[1];
  const rawPrefix = match[2];
  const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  return { bucket, prefix, uri: `s3://${bucket}/${prefix}` };
}

async function assertLocalModelDir(dir: string, modelFile: string | undefined): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new Error(`Model directory ${dir} does not exist or is not a directory. Expected a folder containing ${modelFile ?? MODEL_FILES.join(' or ')}.`);
  }
  for (const file of modelFile !== undefined ? [modelFile] : MODEL_FILES) {
    if (await isFile(path.join(dir, file))) return;
  }
  throw await missingModelFileError(dir, modelFile);
}

async function fetchToCache(location: S3Location, options: ResolveModelDirOptions): Promise<string> {
  // A model file of another name is one model of a folder of several: it gets a cache of its own.
  const key = options.modelFile === undefined ? location.uri : `${location.uri}\n${options.modelFile}`;
  const dir = path.join(options.cacheDir, createHash('sha256').update(key).digest('hex').slice(0, 16));
  const limits: ModelDownloadLimits = { ...MODEL_DOWNLOAD_LIMITS, ...options.limits };
  const checkStarted = Date.now();
  if (await isCacheIntact(dir, location, options.logger)) {
    options.logger?.info('Model cache hit', { uri: location.uri, dir, ms: Date.now() - checkStarted });
    return dir;
  }

  const s3 = options.s3 ?? await modelS3Client();
  const listed = await listModelObjects(s3, location, dir, limits, options.logger);
  const started = Date.now();

  // Whatever is there is stale, partial or damaged; mixing it with new files could load a hybrid.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const objects: CachedObject[] = [];
  let wanted = listed;
  if (options.modelFile !== undefined) {
    // Only the named model file and the weight files it lists (human-models keep forty models under one prefix).
    const file = listed.find((o) => o.path === options.modelFile);
    if (!file) throw await missingModelFileError(dir, options.modelFile, location.uri, listed.map((o) => o.path).filter((p) => !p.includes('/')));
    objects.push(await downloadObject(s3, location, file, dir, limits, options.logger));
    const weights = new Set((await weightPaths(path.join(dir, file.path), location)).map((p) => path.posix.normalize(p.replace(/\\/g, '/'))));
    wanted = listed.filter((o) => weights.has(o.path));
  }
  const toDownload = wanted.filter((o) => !objects.some((done) => done.path === o.path));
  options.logger?.info('Downloading model', { uri: location.uri, objects: wanted.length + objects.length, bytes: [...wanted, ...objects].reduce((sum, o) => sum + o.size, 0), dir });
  await forEachLimited(toDownload, DOWNLOAD_CONCURRENCY, async (o) => {
    objects.push(await downloadObject(s3, location, o, dir, limits, options.logger));
  });
  await assertModelComplete(dir, objects, location, options.modelFile);

  const unverified = objects.filter((o) => o.verifiedBy.length === 0);
  if (unverified.length > 0) {
    // Nothing in S3 to check these against: their SHA-256 still guards the cached copy.
    options.logger?.info('Model objects not verifiable against S3', {
      uri: location.uri,
      objects: unverified.map((o) => ({ key: o.key, etag: o.etag, sha256: o.sha256 })),
      reason: 'a multipart or SSE-KMS ETag is not an MD5 of the bytes, and S3 holds no full-object checksum for them',
    });
  }
  const marker: Marker = { version: MARKER_VERSION, uri: location.uri, objects: sortByPath(objects) };
  await writeAtomically(path.join(dir, MARKER_FILE), JSON.stringify(marker, null, 2));
  options.logger?.info('Downloaded model', { uri: location.uri, dir, ms: Date.now() - started });
  return dir;
}

/** True when the marker lists this location and every file it lists has its recorded size and SHA-256. */
async function isCacheIntact(dir: string, location: S3Location, logger: ModelStoreLogger | undefined): Promise<boolean> {
  let marker: Marker;
  try {
    marker = JSON.parse(await readFile(path.join(dir, MARKER_FILE), 'utf8')) as Marker;
  } catch {
    return false;
  }
  if (marker.version !== MARKER_VERSION || marker.uri !== location.uri || !Array.isArray(marker.objects) || marker.objects.length === 0) return false;
  let damaged: { file: string; expected: string; actual: string } | undefined;
  await forEachLimited(marker.objects, DOWNLOAD_CONCURRENCY, async (object) => {
    let file: string;
    try {
      file = safeLocalPath(dir, object.path);
    } catch {
      damaged ??= { file: object.path, expected: 'a path inside the model folder', actual: object.path };
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      damaged ??= { file: object.path, expected: `${object.size} bytes`, actual: 'missing' };
    } else if (info.size !== object.size) {
      damaged ??= { file: object.path, expected: `${object.size} bytes`, actual: `${info.size} bytes` };
    } else if (!damaged) {
      const actual = await sha256OfFile(file);
      if (actual !== object.sha256) damaged ??= { file: object.path, expected: `sha256 ${object.sha256}`, actual: `sha256 ${actual}` };
    }
  });
  if (damaged) {
    logger?.info('Model cache damaged: downloading again', { uri: location.uri, dir, ...damaged });
    return false;
  }
  return true;
}

async function listModelObjects(
  s3: S3Client, location: S3Location, dir: string, limits: ModelDownloadLimits, logger: ModelStoreLogger | undefined,
): Promise<ListedObject[]> {
  const { ListObjectsV2Command } = await s3Commands();
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const command = new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix, ContinuationToken: token });
    const page = await sendBounded(`the listing of ${location.uri}`, limits, logger, (abortSignal) => s3.send(command, { abortSignal }));
    for (const entry of page.Contents ?? []) {
      // Keys ending in '/' are the empty "folder" objects the S3 console creates.
      if (!entry.Key || entry.Key.endsWith('/')) continue;
      const relative = entry.Key.slice(location.prefix.length);
      try {
        safeLocalPath(dir, relative);
      } catch {
        throw new Error(`Object key "${entry.Key}" under ${location.uri} would be written outside the model folder; rename or remove it.`);
      }
      objects.push({ path: relative, key: entry.Key, size: entry.Size ?? 0, etag: entry.ETag });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);

  if (objects.length === 0) {
    throw new Error(
      `No objects found at ${location.uri}. Check the model URI, and that the function's role may s3:ListBucket on ${location.bucket} and s3:GetObject under the prefix.`,
    );
  }
  return objects;
}

async function downloadObject(
  s3: S3Client, location: S3Location, object: ListedObject, dir: string, limits: ModelDownloadLimits, logger: ModelStoreLogger | undefined,
): Promise<CachedObject> {
  const target = safeLocalPath(dir, object.path);
  await mkdir(path.dirname(target), { recursive: true });
  // A unique temp name, so a crash or a parallel process never leaves a half file under the real name.
  const temp = `${target}.${process.pid}.${randomUUID().slice(0, 8)}.part`;
  try {
    const verified = await downloadVerified(s3, { ...object, bucket: location.bucket }, temp, limits, logger);
    await rename(temp, target);
    return { ...object, ...verified };
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Fails with the list of files a loader would miss, before we promise the folder is usable. */
async function assertModelComplete(dir: string, objects: readonly ListedObject[], location: S3Location, modelFile: string | undefined): Promise<void> {
  const missing: string[] = [];
  const modelJsonPath = path.join(dir, modelFile ?? 'model.json');
  if (await isFile(modelJsonPath)) {
    for (const shard of await weightPaths(modelJsonPath, location)) {
      let file: string;
      try {
        file = safeLocalPath(dir, shard);
      } catch {
        throw new Error(`model.json at ${location.uri} lists the weight file "${shard}", which is outside the model folder: weight paths must be relative paths inside it, without "..".`);
      }
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile() || info.size === 0) missing.push(shard);
    }
  } else if (modelFile === undefined && await isFile(path.join(dir, 'saved_model.pb'))) {
    const hasVariables = objects.some((o) => o.path.startsWith('variables/'));
    if (hasVariables && !(await isFile(path.join(dir, 'variables', 'variables.index')))) {
      missing.push('variables/variables.index');
    }
  } else {
    throw await missingModelFileError(dir, modelFile, location.uri);
  }
  if (missing.length > 0) {
    throw new Error(`The model at ${location.uri} is incomplete: missing or empty ${missing.join(', ')}. Upload the whole model folder.`);
  }
}

async function weightPaths(modelJsonPath: string, location: S3Location): Promise<string[]> {
  let manifest: unknown;
  try {
    manifest = (JSON.parse(await readFile(modelJsonPath, 'utf8')) as { weightsManifest?: unknown }).weightsManifest;
  } catch (err) {
    throw new Error(`model.json at ${location.uri} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(manifest)) return [];
  const groups: unknown[] = manifest;
  return groups.flatMap((group) => {
    const paths: unknown = typeof group === 'object' && group !== null ? (group as { paths?: unknown }).paths : undefined;
    return Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
  });
}

/** Runs `task` over `items`, at most `limit` at once; stops starting new ones after a failure. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  // Wait for every worker, so no write is still running when the caller cleans up or retries.
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

function sortByPath(objects: readonly CachedObject[]): CachedObject[] {
  return [...objects].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function writeAtomically(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.part`;
  await writeFile(temp, content);
  await rename(temp, file);
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}
