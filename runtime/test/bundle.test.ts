// The Lambda bundle (dist/handler.mjs), rebuilt from the current source, in a folder that
// holds only its production dependencies, installed the way docker/Dockerfile installs
// them: it loads the demo model at import (init) and answers real event shapes.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jsonLines, runNodeScript } from './support/bundle-child';
import { apiGatewayV1Event, apiGatewayV2Event, functionUrlEvent, scheduledEvent } from './support/events';
import { DEMO_MODEL_DIR, RUNTIME_DIR, sample } from './support/models';

interface LabelScore {
  label: string;
  score: number;
}

interface ProxyResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout lines that are JSON objects (Powertools logs and EMF metrics). */
  logs: Record<string, unknown>[];
  answers?: { ok?: unknown; thrown?: string }[];
}

const MARK = '@@ANSWERS@@';

// Reads a JSON array of events on stdin, imports the bundle (init: backend, model load,
// warm-up), invokes the handler with each event in turn and prints the answers on one
// marked line.
const SCRIPT = `
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const events = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { handler } = await import('./dist/handler.mjs');
const answers = [];
for (const [i, event] of events.entries()) {
  try {
    answers.push({ ok: await handler(event, { awsRequestId: 'bundle-test-' + i, functionName: 'bundle-test' }) });
  } catch (err) {
    answers.push({ thrown: String(err && err.message) });
  }
}
process.stdout.write('\\n${MARK}' + JSON.stringify(answers) + '\\n');
`;

let dir: string;
let taskJson: string;

/** Runs a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}`));
    });
  });
}

/** The environment of the Lambda process: the parent's, minus anything that configures the runtime or Powertools. */
function lambdaEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SERVERLESS_TF_|POWERTOOLS_|AWS_LAMBDA_|NODE_OPTIONS$|NODE_PATH$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

async function invoke(events: unknown[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const { code, stdout, stderr } = await runNodeScript(SCRIPT, { cwd: dir, env, stdin: JSON.stringify(events), timeoutMs: 60_000 });
  const marked = stdout.split('\n').find((l) => l.startsWith(MARK));
  return { code, stdout, stderr, logs: jsonLines(stdout), answers: marked ? JSON.parse(marked.slice(MARK.length)) as RunResult['answers'] : undefined };
}

beforeAll(async () => {
  // dist/ is the bundle of the current source: jest's globalSetup builds it once per run.
  dir = await mkdtemp(path.join(os.tmpdir(), 'bundle-test-'));
  await cp(path.join(RUNTIME_DIR, 'dist'), path.join(dir, 'dist'), { recursive: true });
  await cp(path.join(RUNTIME_DIR, 'package.json'), path.join(dir, 'package.json'));
  await cp(path.join(RUNTIME_DIR, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  // As docker/Dockerfile does: production dependencies from the lockfile, no install
  // scripts (tfjs-node's would download libtensorflow), then tfjs-node-gpu removed.
  // Not --omit=optional: sharp's prebuilt binaries (@img/sharp-linux-x64 and its libvips)
  // are optional dependencies, and sharp cannot load without them.
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], dir, 170_000);
  await rm(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu'), { recursive: true, force: true });
  taskJson = await readFile(path.join(DEMO_MODEL_DIR, 'task.json'), 'utf8');
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the bundle folder', () => {
  test('holds dist/handler.mjs and only production dependencies', async () => {
    expect(existsSync(path.join(dir, 'dist', 'handler.mjs'))).toBe(true);
    const modules = path.join(dir, 'node_modules');
    for (const prod of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp', '@aws-lambda-powertools/logger', 'busboy']) {
      expect({ prod, present: existsSync(path.join(modules, prod, 'package.json')) }).toEqual({ prod, present: true });
    }
    for (const dev of ['jest', 'typescript', 'nsfwjs', 'esbuild', 'ts-jest', 's3rver', '@tensorflow/tfjs-node-gpu']) {
      expect({ dev, present: existsSync(path.join(modules, dev)) }).toEqual({ dev, present: false });
    }
    const names = await readdir(modules);
    expect(names).not.toContain('@esbuild');
    expect(names).not.toContain('@jest');
  });
});

describe('dist/handler.mjs answers real events', () => {
  let result: RunResult;
  let jpeg: Buffer;
  let png: Buffer;

  beforeAll(async () => {
    jpeg = await sample('rocket.jpg');
    png = await sample('chelsea.png');
    const events = [
      apiGatewayV1Event({ path: '/classify', body: jpeg, contentType: 'image/jpeg', base64: true }),
      apiGatewayV2Event({ path: '/classify', stage: 'prod', body: png, contentType: 'image/png', base64: true }),
      functionUrlEvent({ path: '/v1/models/demo:predict', body: JSON.stringify({ instances: [{ b64: jpeg.toString('base64') }] }), contentType: 'application/json' }),
      { warmup: true },
      scheduledEvent,
      { instances: [{ b64: png.toString('base64') }] },
      apiGatewayV1Event({ path: '/classify', body: 'this is text, not an image', contentType: 'text/plain' }),
      functionUrlEvent({ method: 'GET', path: '/health' }),
    ];
    result = await invoke(events, lambdaEnv({
      SERVERLESS_TF_MODEL_URI: DEMO_MODEL_DIR,
      SERVERLESS_TF_TASK: taskJson,
      SERVERLESS_TF_MODEL_NAME: 'demo',
    }));
  }, 90_000);

  function answer(i: number): unknown {
    expect(result.answers?.[i]).toHaveProperty('ok');
    return result.answers![i].ok;
  }

  function proxy(i: number, status: number): { res: ProxyResponse; body: Record<string, unknown> } {
    const res = answer(i) as ProxyResponse;
    expect(res.statusCode).toBe(status);
    expect(res.isBase64Encoded).toBe(false);
    expect(res.headers['Content-Type']).toBe('application/json');
    return { res, body: JSON.parse(res.body) as Record<string, unknown> };
  }

  function expectTop(predictions: LabelScore[], label: string, min: number): void {
    expect(predictions).toHaveLength(5);
    expect(predictions[0].label).toBe(label);
    expect(predictions[0].score).toBeGreaterThan(min);
    expect(predictions.reduce((a, p) => a + p.score, 0)).toBeCloseTo(1, 3);
  }

  test('the process initialises, answers every event and exits 0', () => {
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/Error|at /) });
    expect(result.answers).toHaveLength(8);
    expect(result.answers!.filter((a) => 'thrown' in a)).toEqual([]);
  });

  test('auto chooses wasm, and the Powertools log line says why', () => {
    const chosen = result.logs.filter((l) => l.message === 'TensorFlow backend chosen');
    expect(chosen).toHaveLength(1);
    const [line] = chosen;
    expect(line).toMatchObject({ level: 'INFO', service: 'serverless-tf', model: 'demo', name: 'wasm', native: false });
    expect(typeof line.timestamp).toBe('string');
    // tensorflow-gpu skipped (no GPU here), tensorflow tried and failed: tfjs-node is
    // installed without its install script, so its native addon is missing.
    expect(line.reason).toMatch(/^first that started \(tensorflow-gpu: [^;]+; tensorflow: .*tfjs_binding\.node/);
    const loaded = result.logs.find((l) => l.message === 'Model loaded and warmed');
    expect(loaded).toMatchObject({ backend: 'wasm', format: 'layers', task: 'image-classification', modelDir: DEMO_MODEL_DIR });
    expect(result.stdout.indexOf('TensorFlow backend chosen')).toBeLessThan(result.stdout.indexOf('Model loaded and warmed'));
  });

  test('API Gateway REST (v1) POST /classify with a base64 JPEG', () => {
    const { res, body } = proxy(0, 200);
    expect(Object.keys(res).sort()).toEqual(['body', 'headers', 'isBase64Encoded', 'statusCode']);
    expectTop(body.predictions as LabelScore[], 'Drawing', 0.8);
  });

  test('HTTP API (v2) with the named stage "prod" and a base64 PNG', () => {
    const { body } = proxy(1, 200);
    expectTop(body.predictions as LabelScore[], 'Neutral', 0.85);
  });

  test('Function URL event: TF Serving predict with a b64 instance', () => {
    const { body } = proxy(2, 200);
    const predictions = body.predictions as LabelScore[][];
    expect(predictions).toHaveLength(1);
    expectTop(predictions[0], 'Drawing', 0.8);
  });

  test('warm-up ping {"warmup": true}: warm, no longer cold', () => {
    expect(answer(3)).toEqual({ warm: true, coldStart: false, model: 'demo', backend: 'wasm' });
  });

  test('EventBridge scheduled event is a warm-up too', () => {
    expect(answer(4)).toEqual({ warm: true, coldStart: false, model: 'demo', backend: 'wasm' });
  });

  test('direct invocation {"instances": [{"b64": ...}]} answers predictions (no proxy envelope)', () => {
    const direct = answer(5) as { predictions: LabelScore[][] };
    expect(Object.keys(direct)).toEqual(['predictions']);
    expectTop(direct.predictions[0], 'Neutral', 0.85);
  });

  test('v1 text/plain to /classify: a 415 proxy response with a JSON error, no stack', () => {
    const { res, body } = proxy(6, 415);
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toContain('text/plain');
    expect(res.body).not.toMatch(/\n\s+at |\\n\s+at /);
    const rejected = result.logs.find((l) => l.message === 'Request rejected');
    expect(rejected).toMatchObject({ level: 'INFO', path: '/classify', statusCode: 415 });
  });

  test('Function URL GET /health', () => {
    const { body } = proxy(7, 200);
    expect(body).toEqual({ status: 'ok', model: 'demo', backend: 'wasm', format: 'layers', task: 'image-classification' });
  });

  test('the first invocation is the cold start: one ColdStart metric', () => {
    const cold = result.logs.filter((l) => 'ColdStart' in l);
    expect(cold).toHaveLength(1);
    expect(cold[0]).toMatchObject({ ColdStart: 1, model: 'demo', service: 'serverless-tf' });
  });
});

describe('init failure', () => {
  test('without SERVERLESS_TF_MODEL_URI the import fails with a message naming the variable', async () => {
    const result = await invoke([], lambdaEnv({ SERVERLESS_TF_TASK: taskJson, SERVERLESS_TF_MODEL_NAME: 'demo' }));
    expect(result.code).not.toBe(0);
    expect(result.answers).toBeUndefined();
    expect(`${result.stderr}\n${result.stdout}`).toMatch(/SERVERLESS_TF_MODEL_URI is not set/);
    expect(result.stderr).toMatch(/ConfigurationError/);
  }, 60_000);
});
