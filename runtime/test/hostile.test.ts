// Hostile inputs (issue 16): every one answers a clear JSON 4xx or 503 in bounded time, and
// the next normal request is answered correctly. A request too large for the wasm heap is
// refused before any work; a backend that still faults (a real WebAssembly trap, from a
// graph model whose GatherNd reads where an index points) answers 503, reports unhealthy,
// and its process exits after answering: the bundled handler under the real
// aws-lambda-ric, and `serverless-tf serve`. Every input is generated here.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { S3Client } from '@aws-sdk/client-s3';
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, RUNTIME_DIR, constNode, demoTask, dim, linearGraphModel, placeholderNode, sample, serviceFor, trainIrisModel, writeGraphModel } from './support/models';
import { apiGatewayV2Event, s3Event, sqsEvent } from './support/events';
import { startRuntimeApi } from './support/lambda-runtime-api';
import { lambdaTools } from './support/lambda-sandbox';
import { route } from '../src/routes';
import { createHandler } from '../src/handler';
import { ConfigurationError } from '../src/errors';
import { MAX_IMAGES_PER_REQUEST, MAX_TENSOR_RANK } from '../src/constants';
import { RuntimeEnvironment } from '../../lib/runtime-environment';
import type { InferenceService } from '../src/service';
import type { HttpResponse } from '../src/http';

interface Answer { status: number; json: Record<string, unknown>; headers: Record<string, string>; errorKind?: string }

async function ask(service: InferenceService, method: string, urlPath: string, body?: unknown): Promise<Answer> {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const res: HttpResponse = await route(service, { method, path: urlPath, headers: { 'content-type': 'application/json' }, body: bytes });
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown>, headers: res.headers, ...(res.errorKind ? { errorKind: res.errorKind } : {}) };
}

/**
 * A TF.js graph model y = GatherNd(params, indices), params = [10, 20, 30, 40], indices:
 * [-1, 1] int32. The wasm kernel reads params[index] without a bounds check, so an index
 * of 500,000,000 reads 2 GB past the array: a real `memory access out of bounds` trap.
 */
async function gatherGraphModel(): Promise<string> {
  return writeGraphModel('gather-model', [
    placeholderNode('indices', 'DT_INT32', dim(-1, 1)),
    constNode('params', 'DT_FLOAT', dim(4)),
    { name: 'y', op: 'GatherNd', input: ['params', 'indices'], attr: { Tparams: { type: 'DT_FLOAT' }, Tindices: { type: 'DT_INT32' } } },
  ], [{ name: 'params', shape: [4], dtype: 'float32', values: [10, 20, 30, 40] }]);
}

const FAULTING_INDEX = 500_000_000;
const gather = (index: number) => ({ inputs: [{ name: 'indices', shape: [1, 1], datatype: 'INT32', data: [index] }] });

async function png(width: number, height: number): Promise<string> {
  return (await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 64, b: 32 } } }).png().toBuffer()).toString('base64');
}

/** `[[[...[1]...]]]`, `depth` arrays deep, as JSON text (JSON.stringify itself would overflow the stack). */
function nested(depth: number, leaf = '1'): string {
  return '['.repeat(depth) + leaf + ']'.repeat(depth);
}

const tensorTask = { type: 'tensor' } as const;

/** What `promise` resolves to, or 'still running' after `ms`; the timer never outlives it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'still running'>((resolve) => { timer = setTimeout(() => resolve('still running'), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

describe('item 1: a WebAssembly trap in the backend is fatal to the environment', () => {
  let gatherDir: string;
  let tools: ReturnType<typeof lambdaTools>;
  beforeAll(async () => {
    gatherDir = await gatherGraphModel();
    // Node 22 and aws-lambda-ric are installed once per machine (about 70 s the first time,
    // longer while the Lambda-fidelity test builds them too), then found in the cache.
    tools = lambdaTools();
  }, 15 * 60 * 1000);

  test('the faulting request answers 503 OutOfMemory; health, readiness and every later inference answer 503', async () => {
    // GIVEN a healthy service
    const service = await serviceFor(gatherDir, tensorTask);
    const good = await ask(service, 'POST', '/v2/models/model/infer', gather(2));
    expect(good.status).toBe(200);
    expect((good.json.outputs as { data: number[] }[])[0].data).toEqual([30]);
    expect((await ask(service, 'GET', '/health')).status).toBe(200);

    // WHEN a request makes the wasm kernel trap
    const fault = await ask(service, 'POST', '/v2/models/model/infer', gather(FAULTING_INDEX));

    // THEN it answers 503 (kind OutOfMemory, with Retry-After), and the service is broken for good
    expect(fault.status).toBe(503);
    expect(fault.errorKind).toBe('OutOfMemory');
    expect(fault.headers['Retry-After']).toBe('1');
    expect(fault.json.error).toMatch(/TensorFlow backend failed.*being replaced\. Retry the request/);
    expect(service.backendFault?.error).toMatchObject({ name: 'RuntimeError', message: 'memory access out of bounds' });
    for (const probe of ['/health', '/v2/health/ready', '/v2/health/live', '/v2/models/model/ready', '/v1/models/model']) {
      const res = await ask(service, 'GET', probe);
      expect([probe, res.status, res.errorKind]).toEqual([probe, 503, 'OutOfMemory']);
      expect(res.json.error).toMatch(/backend failed at .* \(RuntimeError: memory access out of bounds\)/);
    }
    const later = await ask(service, 'POST', '/v2/models/model/infer', gather(2));
    expect(later.status).toBe(503);
    expect(later.json.error).toMatch(/no longer serves the model/);
    const rest = await ask(service, 'POST', '/v1/models/model:predict', { instances: [[1]] });
    expect(rest.status).toBe(503);
  });

  test('the bundled handler under aws-lambda-ric answers the 503, then its process ends so that Lambda replaces it', async () => {
    // GIVEN the bundle (dist/handler.mjs) run by the real runtime interface client against a Runtime API peer
    const peer = await startRuntimeApi();
    const child = spawn(tools.node22, [tools.ric, 'dist/handler.handler'], {
      cwd: RUNTIME_DIR,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LAMBDA_TASK_ROOT: RUNTIME_DIR,
        _HANDLER: 'dist/handler.handler',
        AWS_LAMBDA_RUNTIME_API: peer.address,
        AWS_LAMBDA_FUNCTION_NAME: 'hostile',
        AWS_LAMBDA_FUNCTION_VERSION: '1',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/hostile',
        AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/03/[1]0123456789abcdef0123456789abcdef',
        AWS_REGION: 'us-east-1',
        TMPDIR: os.tmpdir(),
        POWERTOOLS_METRICS_DISABLED: 'true',
        [RuntimeEnvironment.MODEL_URI]: gatherDir,
        [RuntimeEnvironment.TASK]: JSON.stringify(tensorTask),
        [RuntimeEnvironment.BACKEND]: 'wasm',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
    const exited = new Promise<string>((resolve) => child.on('close', (code, signal) => resolve(signal ?? `exit ${code}`)));
    // A process that ends early fails the test with its output, instead of a timeout.
    const died = exited.then((code) => {
      throw new Error(`the function process exited (${code}) before answering: ${output.slice(-3000)}`);
    });
    died.catch(() => undefined);
    const invoke = (event: unknown) => Promise.race([peer.invoke(event, { timeoutMs: 60_000 }), died]);
    const infer = (index: number) => apiGatewayV2Event({ path: '/v2/models/model/infer', body: JSON.stringify(gather(index)), contentType: 'application/json' });
    try {
      const good = await invoke(infer(1));
      expect(good.kind).toBe('response');
      expect(good.body).toMatchObject({ statusCode: 200 });

      // WHEN an invocation makes the backend trap
      const fault = await invoke(infer(FAULTING_INDEX));

      // THEN its answer reaches the Runtime API (a 503, not a lost invocation), and then the process
      // ends (SIGKILL, two event-loop turns after the answer is posted: process.exit() would wait for the
      // runtime client's long poll for the next invocation)
      expect(fault.kind).toBe('response');
      const res = fault.body as { statusCode: number; headers: Record<string, string>; body: string };
      expect(res.statusCode).toBe(503);
      expect(res.headers['Retry-After']).toBe('1');
      expect((JSON.parse(res.body) as { error: string }).error).toMatch(/TensorFlow backend failed/);
      const ended = await within(exited, 10_000);
      expect(ended).toBe('SIGKILL');
      expect(output).toMatch(/Exiting once the answer is posted, so that Lambda replaces this execution environment/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await peer.stop();
    }
  }, 120_000);

  test('serverless-tf serve answers the 503, says why on stderr and exits 1', async () => {
    // GIVEN the bundled CLI serving the model on loopback
    const child = spawn(process.execPath, [path.join(RUNTIME_DIR, 'dist', 'cli.mjs'), 'serve', '--model', gatherDir, '--task', JSON.stringify(tensorTask), '--backend', 'wasm', '--port', '0'], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/at (http:\/\/\S+)/.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start: ${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /at (http:\/\/\S+)/.exec(output)![1];
      const post = (index: number) => fetch(`${url}/v2/models/model/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(gather(index)) });
      expect((await post(3)).status).toBe(200);

      // WHEN a request makes the backend trap
      const res = await post(FAULTING_INDEX);

      // THEN the client gets its 503 as JSON, and the process stops with a clear message and status 1
      expect(res.status).toBe(503);
      expect(res.headers.get('connection')).toBe('close');
      expect(((await res.json()) as { error: string }).error).toMatch(/TensorFlow backend failed/);
      const code = await within(exited, 10_000);
      expect(code).toBe(1);
      expect(output).toMatch(/serverless-tf: the TensorFlow backend failed \(RuntimeError: memory access out of bounds\) and cannot serve the model any more; .*Exiting with status 1/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  }, 60_000);
});

describe('item 1: the images of one request are bounded before any pixel is decoded', () => {
  let demo: InferenceService;
  let pixelPng: string;
  beforeAll(async () => {
    demo = await serviceFor(DEMO_MODEL_DIR, await demoTask());
    pixelPng = await png(1, 1);
  });

  test('512 one-pixel PNGs to :predict (the 67 KB request that broke the wasm heap) are refused 413 at once; the next /classify is answered', async () => {
    // GIVEN the request of the issue
    const body = { instances: Array.from({ length: 512 }, () => ({ b64: pixelPng })) };
    const tensorsBefore = tf.memory().numTensors;

    // WHEN it is sent
    const started = performance.now();
    const res = await ask(demo, 'POST', '/v1/models/model:predict', body);

    // THEN a 413 says what to send instead, without running the model; the service still serves
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(413);
    expect(res.errorKind).toBe('PayloadTooLarge');
    expect(res.json.error).toBe(`The request has 512 images; the limit is ${MAX_IMAGES_PER_REQUEST} images per request. Send at most ${MAX_IMAGES_PER_REQUEST} images per request (split the request), or, for many images, an S3 batch input (JSON Lines, one {"b64": ...} per line).`);
    expect(demo.backendFault).toBeUndefined();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const next = await route(demo, { method: 'POST', path: '/classify', headers: { 'content-type': 'image/png' }, body: await sample('chelsea.png') });
    expect(next.statusCode).toBe(200);
    expect((JSON.parse(next.body) as { predictions: { label: string }[] }).predictions[0].label).toBe('Neutral');
    expect((await ask(demo, 'GET', '/health')).status).toBe(200);
  });

  test(`${MAX_IMAGES_PER_REQUEST} images are answered, one more is refused`, async () => {
    const over = await ask(demo, 'POST', '/v1/models/model:predict', { instances: Array.from({ length: MAX_IMAGES_PER_REQUEST + 1 }, () => ({ b64: pixelPng })) });
    expect(over.status).toBe(413);
    const at = await ask(demo, 'POST', '/v1/models/model:predict', { instances: Array.from({ length: MAX_IMAGES_PER_REQUEST }, () => ({ b64: pixelPng })) });
    expect(at.status).toBe(200);
    expect(at.json.predictions).toHaveLength(MAX_IMAGES_PER_REQUEST);
  });

  test('the images of one request may have no more pixels in all than one image may (maxImagePixels)', async () => {
    // GIVEN a limit of 10,000 pixels and 80x80 images (6,400 pixels each)
    const small = await serviceFor(DEMO_MODEL_DIR, await demoTask(), { maxImagePixels: 10_000 });
    const image = await png(80, 80);

    // WHEN one, then two of them are sent in one request
    const one = await ask(small, 'POST', '/v1/models/model:predict', { instances: [{ b64: image }] });
    const two = await ask(small, 'POST', '/v1/models/model:predict', { instances: [{ b64: image }, { b64: image }] });

    // THEN one is answered and two are refused 413, with what to send instead
    expect(one.status).toBe(200);
    expect(two.status).toBe(413);
    expect(two.json.error).toBe('The request\'s 2 images have 12800 pixels in all; the limit is 10000 pixels per request (the most one image may have). Send fewer or smaller images per request: downscale them to about the model\'s input size (224x224), or split the request.');
    small.model.dispose();
  });
});

describe('item 5: degenerate inputs are clean 4xx answers', () => {
  let linear: InferenceService;
  let iris: InferenceService;
  beforeAll(async () => {
    linear = await serviceFor((await linearGraphModel()).dir, tensorTask);
    iris = await serviceFor(await trainIrisModel(), { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] });
  });

  const tooDeep = new RegExp(`nested more than ${MAX_TENSOR_RANK} deep; a tensor has at most ${MAX_TENSOR_RANK} dimensions`);

  test.each([
    ['TF Serving instances', '/v1/models/model:predict', `{"instances":${nested(100_000)}}`],
    ['TF Serving columnar inputs', '/v1/models/model:predict', `{"inputs":${nested(100_000)}}`],
    ['TF Serving columnar inputs by name', '/v1/models/model:predict', `{"inputs":{"x":${nested(100_000)}}}`],
    ['KServe V2 data', '/v2/models/model/infer', `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":${nested(100_000)}}]}`],
    ['KServe V2 data, deep after a number', '/v2/models/model/infer', `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,${nested(100_000)}]}]}`],
  ])('nesting 100,000 deep in %s: 422, not a stack overflow', async (_what, urlPath, body) => {
    const res = await ask(linear, 'POST', urlPath, body);
    expect(res.status).toBe(422);
    expect(res.json.error).toMatch(tooDeep);
    // The next normal request is answered.
    expect((await ask(linear, 'POST', '/v1/models/model:predict', { instances: [[1, 2, 3]] })).status).toBe(200);
  });

  test('nesting 100,000 deep in a tabular feature: 422 that names the feature', async () => {
    const row = IRIS_FEATURES.map((f, i) => `"${f}":${i === 0 ? nested(100_000) : '1'}`).join(',');
    const res = await ask(iris, 'POST', '/v1/models/model:predict', `{"instances":[{${row}}]}`);
    expect(res.status).toBe(422);
    expect(res.json.error).toBe('instances[0]: feature \'sepal_length\' must be a finite number; got an array of 1.');
  });

  test.each([
    ['the linear model, shape [0,3]', 'linear', [0, 3]],
    ['the Iris model, shape [0,4]', 'iris', [0, 4]],
  ] as const)('KServe V2 with no values, %s: 422', async (_what, which, shape) => {
    const service = which === 'linear' ? linear : iris;
    const name = service.model.inputs[0].name;
    const res = await ask(service, 'POST', '/v2/models/model/infer', { inputs: [{ name, shape, datatype: 'FP32', data: [] }] });
    expect(res.status).toBe(422);
    expect(res.json.error).toBe(`Input '${name}': shape [${shape.join(',')}] has a dimension of size 0, so the tensor holds no values; send at least one value along every dimension.`);
  });

  test('TF Serving instances with no values ([[]]): 422', async () => {
    const res = await ask(linear, 'POST', '/v1/models/model:predict', { instances: [[]] });
    expect(res.status).toBe(422);
  });

  test.each([
    ['KServe V2 FP32', '/v2/models/model/infer', '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1e39,0,0]}]}'],
    ['KServe V2 FP64 into a float32 input', '/v2/models/model/infer', '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[0,-1e39,0]}]}'],
    ['TF Serving instances', '/v1/models/model:predict', '{"instances":[[0,0,1e39]]}'],
  ])('1e39 into a float32 input (%s): 422, not 200 with null outputs', async (_what, urlPath, body) => {
    const res = await ask(linear, 'POST', urlPath, body);
    expect(res.status).toBe(422);
    expect(res.json.error).toMatch(/^Input 'x' has dtype float32; value -?1e\+39 at index \d is out of its range \(magnitude at most 3.4028235e\+38\)\.$/);
  });

  test('1e39 as a tabular feature: 422', async () => {
    const res = await ask(iris, 'POST', '/v1/models/model:predict', { instances: [[1e39, 1, 1, 1]] });
    expect(res.status).toBe(422);
    expect(res.json.error).toMatch(/feature 'sepal_length' is 1e\+39, out of float32 range/);
  });

  test('the largest float32 is still accepted', async () => {
    const res = await ask(linear, 'POST', '/v2/models/model/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [3.4028234663852886e38, 0, 0] }] });
    expect(res.status).toBe(200);
  });

  describe('API Gateway v2 events that are not what API Gateway sends: 400', () => {
    const valid = () => apiGatewayV2Event({ path: '/health', method: 'GET' }) as unknown as Record<string, Record<string, unknown>>;
    const withHttp = (http: Record<string, unknown>) => {
      const event = valid();
      return { ...event, requestContext: { ...event.requestContext, http } };
    };
    test.each([
      ['no requestContext.http.method', () => withHttp({ path: '/health' }), /requestContext\.http\.method must be an HTTP method such as "POST"; got none/],
      ['a numeric requestContext.http.method', () => withHttp({ method: 42, path: '/health' }), /requestContext\.http\.method must be an HTTP method such as "POST"; got "number"/],
      ['string cookies', () => ({ ...valid(), cookies: 'session=abc' }), /cookies must be a list of strings; got string/],
      ['a numeric rawPath', () => ({ ...valid(), rawPath: 7 }), /rawPath must be a string; got number/],
    ])('%s', async (_what, make, message) => {
      const handler = createHandler(linear);
      const res = await handler(make()) as { statusCode: number; body: string };
      expect(res.statusCode).toBe(400);
      expect((JSON.parse(res.body) as { error: string }).error).toMatch(message);
    });
  });

  describe('an S3 record that names no object fails alone', () => {
    // Never called: the records here are refused, or skipped for their suffix, before any S3 request.
    const s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, endpoint: 'http://127.0.0.1:9' });
    const record = (key: string) => s3Event('uploads', key, '"0123"', 10).Records[0];
    const noS3 = () => {
      const { s3: _s3, ...rest } = record('x.txt');
      return rest;
    };
    const badKey = () => {
      const r = record('x.txt');
      return { ...r, s3: { ...r.s3, object: { ...r.s3.object, key: 'photos/%E0%A4%A.jpg' } } };
    };

    test('an S3 event: an error entry for the record without s3 and for the bad %-encoding, the others processed', async () => {
      const handler = createHandler(linear, { s3 });
      const res = await handler({ Records: [noS3(), badKey(), record('notes.txt')] }) as { results: Record<string, unknown>[] };
      expect(res.results).toEqual([
        { record: 0, error: 'The S3 event record has no s3.bucket.name and s3.object.key strings: it is not an S3 event notification record.' },
        { record: 1, error: expect.stringMatching(/^The S3 object key "photos\/%E0%A4%A\.jpg" in the event is not valid URL encoding/) },
        { input: 's3://uploads/notes.txt', rows: 0, failedRows: 0, skipped: 'not a .csv, .jsonl, .ndjson or image object' },
      ]);
    });

    test('SQS: the message with the bad record is a batch item failure, its neighbour is not', async () => {
      const handler = createHandler(linear, { s3 });
      const event = sqsEvent([JSON.stringify({ Records: [badKey()] }), JSON.stringify({ Records: [record('notes.txt')] }), JSON.stringify({ Records: [noS3()] })]);
      const res = await handler(event) as { batchItemFailures: { itemIdentifier: string }[] };
      expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].messageId }, { itemIdentifier: event.Records[2].messageId }]);
    });
  });

  describe('a model.json that is not a model is an init error that names the file', () => {
    async function modelDir(modelJson: string): Promise<string> {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'bad-model-'));
      await writeFile(path.join(dir, 'model.json'), modelJson);
      return dir;
    }
    test.each([
      ['not JSON', '{"format": "graph-model", "modelTopology": {', /model\.json is not valid JSON \(.+\): it is not a TF\.js model\.json, or it is truncated\. Export the model again/],
      ['JSON but not an object', '[1, 2]', /model\.json holds a JSON array, not a TF\.js model\.json object/],
      ['no modelTopology', '{"format": "graph-model", "weightsManifest": []}', /model\.json has no "modelTopology" object \(the key is missing\): it is not a TF\.js graph or layers model/],
      ['a bad weightsManifest', '{"format": "graph-model", "modelTopology": {"node": []}, "weightsManifest": {"paths": 1}}', /model\.json has a "weightsManifest" that is not a list/],
    ])('%s (format detected)', async (_what, json, message) => {
      const dir = await modelDir(json);
      const init = serviceFor(dir, tensorTask);
      await expect(init).rejects.toThrow(ConfigurationError);
      await expect(init).rejects.toThrow(message);
      await expect(init).rejects.toThrow(path.join(dir, 'model.json'));
    });

    test.each(['graph', 'layers'] as const)('no modelTopology with the format set to %s', async (modelFormat) => {
      const dir = await modelDir('{"weightsManifest": []}');
      const init = serviceFor(dir, tensorTask, { modelFormat });
      await expect(init).rejects.toThrow(ConfigurationError);
      await expect(init).rejects.toThrow(`${path.join(dir, 'model.json')} has no "modelTopology" object`);
    });
  });
});
