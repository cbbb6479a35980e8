// Shared pieces of the runtime benchmark: where things are, the sample images, the
// environment the bundled handler reads, the API Gateway REST (v1) proxy event, and
// the statistics. Plain Node ESM, no dependencies beyond the runtime's own.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const RUNTIME_DIR = join(BENCH_DIR, '..');
export const REPO_DIR = join(RUNTIME_DIR, '..');
export const MODEL_DIR = join(RUNTIME_DIR, 'models', 'mobilenet_v2');
export const SAMPLES_DIR = join(RUNTIME_DIR, 'samples');
export const HANDLER_PATH = join(RUNTIME_DIR, 'dist', 'handler.mjs');
export const MODEL_NAME = 'mobilenet_v2';

const MEDIA_TYPES = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif' };

/** Every sample photograph, sorted by name: { name, path, type, bytes }. */
export function loadSamples() {
  return readdirSync(SAMPLES_DIR)
    .filter((f) => MEDIA_TYPES[extname(f).toLowerCase()])
    .sort()
    .map((name) => {
      const path = join(SAMPLES_DIR, name);
      return { name, path, type: MEDIA_TYPES[extname(name).toLowerCase()], bytes: readFileSync(path) };
    });
}

/** The task config of the demo model (its task.json). */
export function loadTask() {
  return JSON.parse(readFileSync(join(MODEL_DIR, 'task.json'), 'utf8'));
}

/** What the bench needs before it can run; a message per missing piece. */
export function missingPrerequisites() {
  const missing = [];
  if (!existsSync(join(MODEL_DIR, 'model.json'))) missing.push(`${MODEL_DIR}/model.json is missing: run \`npm run demo-model\` in runtime/.`);
  if (!existsSync(HANDLER_PATH)) missing.push(`${HANDLER_PATH} is missing: run \`npm run bundle\` in runtime/.`);
  if (!existsSync(SAMPLES_DIR) || loadSamples().length === 0) missing.push(`No sample images in ${SAMPLES_DIR}.`);
  return missing;
}

/**
 * The environment the bundled handler (dist/handler.mjs) reads: the demo model, its task,
 * the wasm backend, and Powertools at its Lambda defaults (INFO logs, metrics on stdout).
 */
export function handlerEnv(base = process.env) {
  const env = {
    ...base,
    SERVERLESS_TF_MODEL_URI: MODEL_DIR,
    SERVERLESS_TF_TASK: JSON.stringify(loadTask()),
    SERVERLESS_TF_BACKEND: 'wasm',
    SERVERLESS_TF_MODEL_NAME: MODEL_NAME,
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  // Development mode pretty-prints logs; Lambda never has it.
  delete env.POWERTOOLS_DEV;
  return env;
}

/** An API Gateway REST API (v1) proxy event for POST /classify with the image as a base64 body. */
export function apiGatewayV1Event(image, requestId = 'bench-request') {
  const headers = {
    Accept: 'application/json',
    'Content-Type': image.type,
    Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'serverless-tf-bench',
    'X-Forwarded-For': '203.0.113.10',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  };
  return {
    resource: '/classify',
    path: '/classify',
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      resourceId: 'abc123',
      resourcePath: '/classify',
      httpMethod: 'POST',
      path: '/prod/classify',
      protocol: 'HTTP/1.1',
      stage: 'prod',
      requestId,
      requestTimeEpoch: 1700000000000,
      identity: { sourceIp: '203.0.113.10', userAgent: 'serverless-tf-bench' },
    },
    body: image.bytes.toString('base64'),
    isBase64Encoded: true,
  };
}

/** A Lambda context with the fields the handler reads. */
export function lambdaContext(requestId) {
  return { awsRequestId: requestId, functionName: 'serverless-tf-bench', memoryLimitInMB: '3008' };
}

/** Indices of the k largest scores, best first. */
export function topIndices(scores, k) {
  const idx = Array.from(scores, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a]);
  return idx.slice(0, k);
}

/** Nearest-rank percentile (p in 0..100) of a list of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export const median = (values) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const p90 = (values) => percentile(values, 90);

export function summary(values) {
  return { n: values.length, median: median(values), p90: p90(values), min: Math.min(...values), max: Math.max(...values) };
}

export const ms = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** The machine a bench ran on, for the first line of its section. */
export function machineInfo() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model?.trim() ?? 'unknown CPU',
    cores: availableParallelism(),
    ramGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
    arch: process.arch,
  };
}

/**
 * `text` (BENCHMARKS.md) with the section under `heading` (up to the next # or ## heading)
 * replaced by `section`, or with `section` appended; other benches' sections are kept.
 */
export function replaceSection(text, heading, section) {
  const body = section.replace(/\n+$/, '');
  if (!text.trim()) return `# Benchmarks\n\n${body}\n`;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return `${text.replace(/\n*$/, '\n\n')}${body}\n`;
  let end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  if (end < 0) end = lines.length;
  const before = lines.slice(0, start).join('\n');
  const after = lines.slice(end).join('\n');
  return `${before}${before ? '\n' : ''}${body}\n${after ? `\n${after}` : ''}`;
}

/** Writes `section` into BENCHMARKS.md at the repository root, read right before (other benches write theirs); returns the path. */
export function writeSection(heading, section) {
  const path = join(REPO_DIR, 'BENCHMARKS.md');
  writeFileSync(path, replaceSection(existsSync(path) ? readFileSync(path, 'utf8') : '', heading, section));
  return path;
}

/**
 * Bundles a benchmark's server entry with esbuild: `body` is TypeScript that runs with the
 * runtime's configFromEnv, InferenceService, startLocalServer, createObservability and tf
 * imported from runtime/src (as `serverless-tf serve` uses them), and may import more. TF.js
 * and sharp stay external (their native parts load from runtime/node_modules).
 */
export async function bundleServer(outfile, sourcefile, body) {
  const { build } = await import('esbuild');
  await build({
    stdin: {
      contents: `
        import { configFromEnv } from './src/config';
        import { InferenceService } from './src/service';
        import { startLocalServer } from './src/local-server';
        import { createObservability } from './src/observability';
        import { tf } from './src/backend';
${body}`,
      resolveDir: RUNTIME_DIR, sourcefile, loader: 'ts',
    },
    absWorkingDir: RUNTIME_DIR, outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm',
    external: ['@tensorflow/*', 'sharp'], logLevel: 'warning',
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return outfile;
}

/**
 * Warm milliseconds per `model.predict` + `data()` of a random input at each batch size in
 * `sizes` (median of at least `minRuns` runs, and of enough for `images` images, after `warm`
 * untimed ones), and per image.
 */
export async function timeBatches(tf, model, sizes, { warm, minRuns, images }) {
  const rows = [];
  for (const n of sizes) {
    const x = tf.randomUniform([n, 224, 224, 3]);
    const times = [];
    for (let i = 0; i < warm + Math.max(minRuns, images / n); i++) {
      const t0 = performance.now();
      const y = model.predict(x);
      await y.data();
      y.dispose();
      if (i >= warm) times.push(performance.now() - t0);
    }
    x.dispose();
    const ms = median(times);
    rows.push({ batch: n, ms, perImage: ms / n });
  }
  return rows;
}
