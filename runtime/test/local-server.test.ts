// The local HTTP server (startLocalServer) over loopback with the demo MobileNetV2 model
// served as "demo": every route of routes.ts with real bodies, every client error the
// server answers, concurrency, and that no request leaks tensors.
import { request as httpRequest } from 'node:http';
import { createConnection } from 'node:net';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { startLocalServer } from '../src/local-server';
import { DEMO_MODEL_DIR, demoTask, sample, serviceFor } from './support/models';
import type { LocalServer } from '../src/local-server';
import type { InferenceService } from '../src/service';

interface LabelScore {
  label: string;
  score: number;
}

const LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
const SMALL_LIMIT = 1000;

let service: InferenceService;
let server: LocalServer;
let small: LocalServer;
let jpeg: Buffer; // rocket.jpg
let png: Buffer; // chelsea.png
let tinyPng: Buffer; // 8x8, well under SMALL_LIMIT
/** Every error response seen in this file, checked for shape at the end. */
const errorBodies: { what: string; status: number; contentType: string | null; text: string }[] = [];

beforeAll(async () => {
  const task = await demoTask();
  service = await serviceFor(DEMO_MODEL_DIR, task, { modelName: 'demo' });
  const smallService = await serviceFor(DEMO_MODEL_DIR, task, { modelName: 'demo', maxBodyBytes: SMALL_LIMIT });
  server = await startLocalServer(service, { port: 0, host: '127.0.0.1' });
  small = await startLocalServer(smallService, { port: 0, host: '127.0.0.1' });
  jpeg = await sample('rocket.jpg');
  png = await sample('chelsea.png');
  tinyPng = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
}, 120_000);

afterAll(async () => {
  await server?.close();
  await small?.close();
});

async function call(path: string, init: RequestInit = {}, base = server.url): Promise<Response> {
  return fetch(`${base}${path}`, init);
}

async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return JSON.parse(await res.text()) as T;
}

/** Asserts an error status and returns the message; records the body for the shape checks. */
async function expectError(res: Response, status: number, what: string): Promise<string> {
  const text = await res.text();
  errorBodies.push({ what, status: res.status, contentType: res.headers.get('content-type'), text });
  expect({ what, status: res.status }).toEqual({ what, status });
  const body = JSON.parse(text) as { error: string };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  expect(body.error.length).toBeGreaterThan(10);
  return body.error;
}

function post(body: BodyInit | Buffer, contentType?: string): RequestInit {
  return { method: 'POST', body: Buffer.isBuffer(body) ? new Uint8Array(body) : body, headers: contentType ? { 'content-type': contentType } : {} };
}

async function classify(bytes: Buffer, contentType: string): Promise<LabelScore[]> {
  const res = await call('/classify', post(bytes, contentType));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await json<{ predictions: LabelScore[] }>(res)).predictions;
}

function expectDistribution(predictions: LabelScore[]): void {
  expect(predictions).toHaveLength(5);
  expect(predictions.map((p) => p.label).sort()).toEqual([...LABELS].sort());
  for (let i = 1; i < predictions.length; i++) expect(predictions[i - 1].score).toBeGreaterThanOrEqual(predictions[i].score);
  const sum = predictions.reduce((a, p) => a + p.score, 0);
  expect(sum).toBeCloseTo(1, 3);
}

function expectTop(predictions: LabelScore[], label: string, min: number): void {
  expectDistribution(predictions);
  expect(predictions[0].label).toBe(label);
  expect(predictions[0].score).toBeGreaterThan(min);
}

/** chelsea.png preprocessed independently of the runtime: RGB, bilinear (align corners) to 224, /255. */
async function preprocessedChelsea(): Promise<number[]> {
  const { data, info } = await sharp(png).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  const values = tf.tidy(() => {
    const x = tf.tensor3d(new Int32Array(data), [info.height, info.width, 3], 'int32');
    return tf.div(tf.image.resizeBilinear(x, [224, 224], true), 255).dataSync();
  });
  // Five decimals keep the JSON near 1 MB; far finer than the model can tell apart.
  return Array.from(values, (v) => Math.round(v * 1e5) / 1e5);
}

/** A raw HTTP/1.1 request whose Content-Length header is set by the test, not computed from the body. */
function rawRequest(base: string, path: string, headers: Record<string, string | number>, body: Buffer): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Only part of the declared body is sent: the answer must not wait for the rest.
    req.write(body);
  });
}

describe('health and metadata routes', () => {
  test('GET /health answers ok with the model, backend, format and task', async () => {
    const res = await call('/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json(res)).toEqual({ status: 'ok', model: 'demo', backend: 'wasm', format: 'layers', task: 'image-classification' });
  });

  test('GET /v2/health/live and /v2/health/ready answer like /health', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({ status: 'ok', model: 'demo' });
    }
  });

  test('GET /v1/models/demo (and /versions/1) reports version 1 AVAILABLE', async () => {
    for (const path of ['/v1/models/demo', '/v1/models/demo/versions/1']) {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    }
  });

  test('GET /v2/models/demo describes the input and output tensors', async () => {
    const res = await call('/v2/models/demo');
    expect(res.status).toBe(200);
    const meta = await json<{ name: string; versions: string[]; platform: string; inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { name: string; datatype: string; shape: number[] }[] }>(res);
    expect(meta.name).toBe('demo');
    expect(meta.versions).toEqual(['1']);
    expect(meta.platform).toBe('tensorflowjs_layers');
    expect(meta.inputs).toEqual([{ name: 'input_1', datatype: 'FP32', shape: [-1, 224, 224, 3] }]);
    expect(meta.outputs).toHaveLength(1);
    expect(meta.outputs[0].datatype).toBe('FP32');
    expect(meta.outputs[0].shape).toEqual([-1, 5]);
    expect(typeof meta.outputs[0].name).toBe('string');
    expect(meta.outputs[0].name.length).toBeGreaterThan(0);
  });

  test('GET /v2/models/demo/ready answers ready', async () => {
    const res = await call('/v2/models/demo/ready');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ name: 'demo', ready: true });
  });
});

describe('POST /classify', () => {
  test('raw image/jpeg bytes: rocket.jpg is Drawing', async () => {
    const predictions = await classify(jpeg, 'image/jpeg');
    expectTop(predictions, 'Drawing', 0.8);
    expect(predictions[0].score).toBeCloseTo(0.89, 1);
  });

  test('raw image/png bytes: chelsea.png is Neutral', async () => {
    const predictions = await classify(png, 'image/png');
    expectTop(predictions, 'Neutral', 0.85);
    expect(predictions[0].score).toBeCloseTo(0.93, 1);
  });

  test('multipart/form-data with the field "image" gives the same answer as the raw bytes', async () => {
    const raw = await classify(jpeg, 'image/jpeg');
    const form = new FormData();
    form.append('note', 'a text field before the file');
    form.append('image', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'rocket.jpg');
    const res = await call('/classify', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const { predictions } = await json<{ predictions: LabelScore[] }>(res);
    expectTop(predictions, 'Drawing', 0.8);
    expect(predictions.map((p) => p.label)).toEqual(raw.map((p) => p.label));
    predictions.forEach((p, i) => expect(p.score).toBeCloseTo(raw[i].score, 5));
  });

  test('JSON {"b64": ...} is accepted too', async () => {
    const res = await call('/classify', post(JSON.stringify({ b64: png.toString('base64') }), 'application/json'));
    expect(res.status).toBe(200);
    expectTop((await json<{ predictions: LabelScore[] }>(res)).predictions, 'Neutral', 0.85);
  });
});

describe('POST /v1/models/demo:predict', () => {
  test('{"instances": [{"b64": ...}]} classifies each image, in order', async () => {
    const body = { instances: [{ b64: png.toString('base64') }, { b64: jpeg.toString('base64') }] };
    const res = await call('/v1/models/demo:predict', post(JSON.stringify(body), 'application/json'));
    expect(res.status).toBe(200);
    const { predictions } = await json<{ predictions: LabelScore[][] }>(res);
    expect(predictions).toHaveLength(2);
    expectTop(predictions[0], 'Neutral', 0.85);
    expectTop(predictions[1], 'Drawing', 0.8);
  });

  test('/versions/1:predict is the same servable', async () => {
    const body = { instances: [{ b64: jpeg.toString('base64') }] };
    const res = await call('/v1/models/demo/versions/1:predict', post(JSON.stringify(body), 'application/json'));
    expect(res.status).toBe(200);
    expectTop((await json<{ predictions: LabelScore[][] }>(res)).predictions[0], 'Drawing', 0.8);
  });
});

describe('POST /v2/models/demo/infer', () => {
  test('a preprocessed chelsea.png as FP32 [1,224,224,3] answers [1,5] scores matching /classify', async () => {
    const classified = await classify(png, 'image/png');
    const data = await preprocessedChelsea();
    expect(data).toHaveLength(224 * 224 * 3);
    const body = { id: 'req-42', inputs: [{ name: 'input_1', shape: [1, 224, 224, 3], datatype: 'FP32', data }] };
    const res = await call('/v2/models/demo/infer', post(JSON.stringify(body), 'application/json'));
    expect(res.status).toBe(200);
    const answer = await json<{ model_name: string; model_version: string; id: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] }>(res);
    expect(answer.model_name).toBe('demo');
    expect(answer.model_version).toBe('1');
    expect(answer.id).toBe('req-42');
    expect(answer.outputs).toHaveLength(1);
    const [out] = answer.outputs;
    expect(out.datatype).toBe('FP32');
    expect(out.shape).toEqual([1, 5]);
    expect(out.data).toHaveLength(5);
    const byLabel = Object.fromEntries(classified.map((p) => [p.label, p.score]));
    LABELS.forEach((label, i) => expect(Math.abs(out.data[i] - byLabel[label])).toBeLessThan(2e-3));
    expect(LABELS[out.data.indexOf(Math.max(...out.data))]).toBe('Neutral');
  });

  test('zeros answer a softmax row of [1,5]', async () => {
    const body = { inputs: [{ name: 'input_1', shape: [1, 224, 224, 3], datatype: 'FP32', data: new Array(224 * 224 * 3).fill(0) }] };
    const res = await call('/v2/models/demo/infer', post(JSON.stringify(body), 'application/json'));
    expect(res.status).toBe(200);
    const { outputs } = await json<{ outputs: { shape: number[]; data: number[] }[] }>(res);
    expect(outputs[0].shape).toEqual([1, 5]);
    expect(outputs[0].data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });
});

describe('client errors', () => {
  test('unknown model name: 404 in TF Serving words, on every model route', async () => {
    const paths: [string, RequestInit][] = [
      ['/v1/models/nope', {}],
      ['/v2/models/nope', {}],
      ['/v1/models/nope:predict', post(JSON.stringify({ instances: [{ b64: jpeg.toString('base64') }] }), 'application/json')],
      ['/v2/models/nope/infer', post(JSON.stringify({ inputs: [] }), 'application/json')],
    ];
    for (const [path, init] of paths) {
      const message = await expectError(await call(path, init), 404, path);
      expect(message).toContain('Servable not found for request: Latest(nope)');
      expect(message).toContain("'demo'");
    }
  });

  test('unknown route: 404 that lists the routes', async () => {
    const message = await expectError(await call('/v1/nothing/here'), 404, 'unknown route');
    expect(message).toContain('No route GET /v1/nothing/here');
    expect(message).toContain('POST /classify');
    await expectError(await call('/', post('x', 'text/plain')), 404, 'POST /');
  });

  test('request targets: "//health" routes /health; an absolute URL routes its path; an unparsable one is a 400', async () => {
    const send = (target: string) => new Promise<string>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const socket = createConnection({ host: hostname, port: Number(port) }, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (d: Buffer) => { text += d.toString(); });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(await send('//health')).toMatch(/^HTTP\/1\.1 404[\s\S]*No route GET \/\/health/);
    expect(await send(`http://127.0.0.1/health`)).toMatch(/^HTTP\/1\.1 200[\s\S]*"status":"ok"/);
    expect(await send('http://[bad/health')).toMatch(/^HTTP\/1\.1 400[\s\S]*not a path or URL/);
  });

  test('GET /classify: 405 naming POST', async () => {
    const res = await call('/classify');
    expect(res.headers.get('allow')).toBe('POST');
    const message = await expectError(res, 405, 'GET /classify');
    expect(message).toContain('use POST');
  });

  test('text/plain to /classify: 415', async () => {
    const message = await expectError(await call('/classify', post('hello, this is not an image', 'text/plain')), 415, 'text/plain');
    expect(message).toContain('text/plain');
  });

  test('an image/png header on text bytes: 415 that says what the bytes look like', async () => {
    const message = await expectError(await call('/classify', post('not really a png', 'image/png')), 415, 'text as png');
    expect(message).toContain('looks like text');
  });

  test('malformed JSON: 400', async () => {
    const message = await expectError(await call('/v1/models/demo:predict', post('{"instances": [1, 2', 'application/json')), 400, 'bad json predict');
    expect(message).toContain('not valid JSON');
    await expectError(await call('/v2/models/demo/infer', post('{nope', 'application/json')), 400, 'bad json infer');
  });

  test('a V2 input of the wrong shape: 422 naming the expected shape', async () => {
    const body = { inputs: [{ name: 'input_1', shape: [1, 10], datatype: 'FP32', data: new Array(10).fill(0.5) }] };
    const message = await expectError(await call('/v2/models/demo/infer', post(JSON.stringify(body), 'application/json')), 422, 'wrong shape');
    expect(message).toContain('[-1,224,224,3]');
    expect(message).toContain('[1,10]');
    const short = { inputs: [{ name: 'input_1', shape: [1, 224, 224, 3], datatype: 'FP32', data: [0, 1, 2] }] };
    const message2 = await expectError(await call('/v2/models/demo/infer', post(JSON.stringify(short), 'application/json')), 422, 'too few values');
    expect(message2).toContain('needs 150528 values, got 3');
  });

  test('a truncated JPEG: 400 corrupt or truncated', async () => {
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    const message = await expectError(await call('/classify', post(truncated, 'image/jpeg')), 400, 'truncated jpeg');
    expect(message).toMatch(/corrupt or truncated/);
  });

  test('an empty body to /classify: 400', async () => {
    await expectError(await call('/classify', post(Buffer.alloc(0), 'image/jpeg')), 400, 'empty body');
  });

  test('multipart without the "image" field: 400', async () => {
    const form = new FormData();
    form.append('picture', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'rocket.jpg');
    const message = await expectError(await call('/classify', { method: 'POST', body: form }), 400, 'multipart wrong field');
    expect(message).toContain('image');
  });

  test('after all the bad requests the server still classifies correctly', async () => {
    expectTop(await classify(jpeg, 'image/jpeg'), 'Drawing', 0.8);
    expectTop(await classify(png, 'image/png'), 'Neutral', 0.85);
  });
});

describe('body limit (a second server with maxBodyBytes 1000)', () => {
  test('a body under the limit is served', async () => {
    expect(tinyPng.length).toBeLessThan(SMALL_LIMIT);
    const res = await call('/classify', post(tinyPng, 'image/png'), small.url);
    expect(res.status).toBe(200);
    expectDistribution((await json<{ predictions: LabelScore[] }>(res)).predictions);
  });

  test('a 2000-byte body: 413 naming the limit', async () => {
    const message = await expectError(await call('/classify', post(jpeg.subarray(0, 2000), 'image/jpeg'), small.url), 413, '2000 bytes');
    expect(message).toContain('1000 bytes');
  });

  test('a declared Content-Length over the limit is refused before the body arrives', async () => {
    // 10 MB declared, 10 bytes sent: a server that waited for the body would never answer.
    const res = await rawRequest(small.url, '/classify', { 'content-type': 'image/jpeg', 'content-length': 10_000_000 }, jpeg.subarray(0, 10));
    errorBodies.push({ what: 'declared 10 MB', status: res.status, contentType: String(res.headers['content-type']), text: res.text });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    const body = JSON.parse(res.text) as { error: string };
    expect(body.error).toContain('over 1000 bytes');
  });

  test('a chunked body (no Content-Length) that grows over the limit: 413', async () => {
    const chunks = [jpeg.subarray(0, 600), jpeg.subarray(600, 1200), jpeg.subarray(1200, 1800)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(new Uint8Array(next));
        else controller.close();
      },
    });
    const res = await call('/classify', { method: 'POST', body: stream, headers: { 'content-type': 'image/jpeg' }, duplex: 'half' } as RequestInit, small.url);
    await expectError(res, 413, 'chunked over limit');
  });

  test('the limited server keeps serving after the 413s', async () => {
    const health = await call('/health', {}, small.url);
    expect(health.status).toBe(200);
    const res = await call('/classify', post(tinyPng, 'image/png'), small.url);
    expect(res.status).toBe(200);
    expectDistribution((await json<{ predictions: LabelScore[] }>(res)).predictions);
  });
});

describe('concurrency', () => {
  test('16 concurrent /classify requests of mixed images answer as sequential ones do', async () => {
    const images: [string, string][] = [['rocket.jpg', 'image/jpeg'], ['chelsea.png', 'image/png'], ['coffee.jpg', 'image/jpeg'], ['astronaut.jpg', 'image/jpeg']];
    const bytes = await Promise.all(images.map(([name]) => sample(name)));
    const sequential: LabelScore[][] = [];
    for (let i = 0; i < images.length; i++) sequential.push(await classify(bytes[i], images[i][1]));
    expectTop(sequential[0], 'Drawing', 0.8);
    expectTop(sequential[1], 'Neutral', 0.85);
    const order = Array.from({ length: 16 }, (_, i) => (i * 3) % images.length);
    const concurrent = await Promise.all(order.map((k) => classify(bytes[k], images[k][1])));
    concurrent.forEach((predictions, i) => {
      const expected = sequential[order[i]];
      expect(predictions.map((p) => p.label)).toEqual(expected.map((p) => p.label));
      predictions.forEach((p, j) => expect(p.score).toBeCloseTo(expected[j].score, 5));
    });
  });
});

describe('tensor leaks', () => {
  test('a round of good and bad requests leaves tf.memory().numTensors unchanged', async () => {
    // One round first, so anything allocated once (kernels, caches) is already there.
    const round = async () => {
      await classify(jpeg, 'image/jpeg');
      const ok = await call('/v1/models/demo:predict', post(JSON.stringify({ instances: [{ b64: png.toString('base64') }] }), 'application/json'));
      expect(ok.status).toBe(200);
      await ok.text();
      const zeros = { inputs: [{ name: 'input_1', shape: [1, 224, 224, 3], datatype: 'FP32', data: new Array(224 * 224 * 3).fill(0) }] };
      const v2 = await call('/v2/models/demo/infer', post(JSON.stringify(zeros), 'application/json'));
      expect(v2.status).toBe(200);
      await v2.text();
      const bad: [string, RequestInit, number][] = [
        ['/classify', post(jpeg.subarray(0, 3000), 'image/jpeg'), 400],
        ['/classify', post('text', 'text/plain'), 415],
        ['/v2/models/demo/infer', post(JSON.stringify({ inputs: [{ name: 'input_1', shape: [1, 10], datatype: 'FP32', data: new Array(10).fill(0) }] }), 'application/json'), 422],
        ['/v2/models/demo/infer', post(JSON.stringify({ inputs: [{ name: 'input_1', shape: [1, 224, 224, 3], datatype: 'FP32', data: [1, 2] }] }), 'application/json'), 422],
        ['/v1/models/demo:predict', post(JSON.stringify({ instances: [[1, 2, 3]] }), 'application/json'), 422],
        ['/v1/models/demo:predict', post(JSON.stringify({ instances: [{ b64: png.toString('base64') }, { b64: Buffer.from('GIF89a broken').toString('base64') }] }), 'application/json'), 400],
        ['/v1/models/demo:predict', post('{', 'application/json'), 400],
      ];
      for (const [path, init, status] of bad) await expectError(await call(path, init), status, `leak round ${path} ${status}`);
    };
    await round();
    const before = tf.memory().numTensors;
    expect(before).toBeGreaterThan(0); // the model's weights
    await round();
    await round();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('error bodies', () => {
  test('every error answer is JSON {"error": string} without a stack trace', () => {
    expect(errorBodies.length).toBeGreaterThanOrEqual(20);
    for (const e of errorBodies) {
      expect({ what: e.what, contentType: e.contentType }).toEqual({ what: e.what, contentType: expect.stringMatching(/^application\/json/) });
      const body = JSON.parse(e.text) as Record<string, unknown>;
      expect({ what: e.what, keys: Object.keys(body), type: typeof body.error }).toEqual({ what: e.what, keys: ['error'], type: 'string' });
      expect({ what: e.what, text: e.text }).not.toEqual({ what: e.what, text: expect.stringMatching(/\n\s+at |\\n\s+at |    at /) });
      expect(e.text).not.toMatch(/node_modules|\/src\/|\.ts:\d+/);
    }
  });
});
