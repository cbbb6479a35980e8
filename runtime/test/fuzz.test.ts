// Property-based tests (fast-check, issue 7): random and malformed HTTP requests through
// every front door (API Gateway REST and HTTP API events through the handler, and the
// router itself) for the three tasks. Whatever arrives, the answer is a proxy response
// with a 2xx or a 4xx (never a 5xx for client input), a 4xx body is `{"error": "..."}`
// without a stack trace, no promise rejection goes unhandled and no tensor is leaked.
// Runs are bounded in count and time (at most 48 s in all, about 8 s on a quiet machine), and
// a property cut short by its time limit before a quarter of its cases ran fails.
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { createHandler } from '../src/handler';
import { route } from '../src/routes';
import { parseTfServingJson } from '../src/protocols/tf-serving-json';
import { DEMO_MODEL_DIR, IRIS_FEATURES, demoTask, linearGraphModel, sample, serviceFor, trainIrisModel } from './support/models';
import { apiGatewayV1Event, apiGatewayV2Event, functionUrlEvent } from './support/events';
import type { InferenceService } from '../src/service';
import type { LambdaHandler } from '../src/handler';

interface Answer {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

interface Target {
  readonly name: string;
  readonly [fc.toStringMethod]: () => string;
  readonly service: InferenceService;
  readonly handler: LambdaHandler;
}

const SAMPLE_NAMES = ['astronaut.jpg', 'camera.png', 'chelsea.png', 'coffee.jpg', 'rocket.jpg'];
/** How far a property goes: up to `numRuns` cases within `seconds`, and at least `minRuns` of them. */
interface Budget {
  readonly numRuns: number;
  readonly minRuns: number;
  readonly seconds: number;
}

/** A quarter of the cases must run in time: a machine under load still passes, one that manages a handful fails. */
const budget = (numRuns: number, seconds = 5): Budget => ({ numRuns, minRuns: Math.ceil(numRuns / 4), seconds });

/**
 * Checks `property` on up to `budget.numRuns` generated cases, interrupted after
 * `budget.seconds`. A failing case fails the test with fast-check's report (seed, path and
 * shrunk counterexample), and so does an interruption before `budget.minRuns` cases passed:
 * fast-check counts an interrupted run as a success, which would let a stalled runtime or a
 * starved machine pass on a few cases.
 */
async function fuzz<Ts>(property: fc.IAsyncProperty<Ts>, { numRuns, minRuns, seconds }: Budget): Promise<void> {
  const details = await fc.check(property, { numRuns, includeErrorInReport: true, plugins: [fc.interruptAfterTimeLimit(seconds * 1000)] });
  if (details.failed) throw new Error(await fc.asyncDefaultReportMessage(details), { cause: details.errorInstance });
  if (details.numRuns < minRuns) {
    throw new Error(`Only ${details.numRuns} of ${numRuns} cases ran within ${seconds} s, below the ${minRuns} this property needs to mean anything: find what made the cases slow (or give the property more time), do not lower minRuns.`);
  }
}

let targets: Target[];
let batchedImages: Target;
let samples: Buffer[];
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', recordUnhandled);
  // fast-check prints a failing case with this name instead of the whole service.
  const target = (name: string, service: InferenceService): Target => ({
    name, service, handler: createHandler(service), [fc.toStringMethod]: () => name,
  });
  const task = await demoTask();
  targets = [
    target('demo', await serviceFor(DEMO_MODEL_DIR, task, { modelName: 'demo' })),
    target('iris', await serviceFor(await trainIrisModel(), { type: 'tabular', features: [...IRIS_FEATURES], labels: ['setosa', 'versicolor', 'virginica'] }, { modelName: 'iris' })),
    target('linear', await serviceFor((await linearGraphModel()).dir, { type: 'tensor' }, { modelName: 'linear' })),
  ];
  batchedImages = target('demo', await serviceFor(DEMO_MODEL_DIR, task, { modelName: 'demo', coalesceMaxRows: 8, coalesceMaxWaitMs: 2 }));
  samples = await Promise.all(SAMPLE_NAMES.map(sample));
}, 120_000);

afterAll(() => {
  process.off('unhandledRejection', recordUnhandled);
});

afterEach(async () => {
  // A rejection nobody handled surfaces after the microtask queue drains.
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
});

/** The contract every answer to client input keeps. Returns a label for fc's report. */
function checkAnswer(res: unknown, what: string): void {
  const answer = res as Answer;
  const problem = answerProblem(answer);
  if (problem) throw new Error(`${what}: ${problem}\nanswer: ${JSON.stringify(answer).slice(0, 600)}`);
}

function answerProblem(answer: Answer): string | undefined {
  if (typeof answer !== 'object' || answer === null) return 'not an object';
  if (!Number.isInteger(answer.statusCode)) return 'no integer statusCode';
  if (!((answer.statusCode >= 200 && answer.statusCode < 300) || (answer.statusCode >= 400 && answer.statusCode < 500))) return `status ${answer.statusCode}`;
  if (typeof answer.body !== 'string') return 'body is not a string';
  let json: unknown;
  try {
    // The production parser: TF Serving answers carry NaN, Infinity and -Infinity as tokens.
    json = parseTfServingJson(answer.body);
  } catch {
    return 'body is not JSON (nor TF Serving JSON)';
  }
  if (/\n\s+at \S|\bat [\w.<>]+ \(.*:\d+:\d+\)|node_modules|\/src\/\w+\.ts/.test(answer.body)) return 'body holds a stack trace or a source path';
  if (answer.statusCode >= 400) {
    const keys = typeof json === 'object' && json !== null ? Object.keys(json) : [];
    const error = (json as { error?: unknown }).error;
    if (keys.join() !== 'error' || typeof error !== 'string' || error.length === 0) return 'a 4xx body must be exactly {"error": "<non-empty string>"}';
  }
  return undefined;
}

/** Runs one generated case and asserts it leaves no tensor behind. */
async function noLeak<T>(work: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await work();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`leaked ${after - before} tensors`);
  return result;
}

// ---- arbitraries -------------------------------------------------------------------------

const targetArb = () => fc.constantFrom(...targets);

const methodArb = fc.oneof(
  { arbitrary: fc.constant('POST'), weight: 5 },
  { arbitrary: fc.constant('GET'), weight: 2 },
  { arbitrary: fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'post', 'get', 'Post'), weight: 2 },
  { arbitrary: fc.string({ maxLength: 8 }), weight: 1 },
);

const pathArb = (name: string) => fc.oneof(
  { arbitrary: fc.constantFrom('/classify', `/v1/models/${name}:predict`, `/v2/models/${name}/infer`), weight: 8 },
  fc.constantFrom(
    '/health', '/v2/health/live', '/v2/health/ready', '/classify', '/classify/', '//classify', '/', '', '/v1/models', '/v1/models/',
    `/v1/models/${name}:predict`, `/v1/models/${name}/versions/1:predict`, `/v1/models/${name}`, `/v1/models/${name}/`,
    `/v2/models/${name}/infer`, `/v2/models/${name}/versions/1/infer`, `/v2/models/${name}`, `/v2/models/${name}/ready`,
  ),
  fc.tuple(fc.constantFrom('/v1/models/', '/v2/models/'), fc.oneof(fc.constant(name), fc.string({ maxLength: 16 })), fc.constantFrom(':predict', '/infer', '', '/versions/1', '/versions/2:predict', ':classify'))
    .map((parts) => parts.join('')),
  fc.webPath(),
  fc.string({ maxLength: 40, unit: 'binary' }).map((s) => `/${s}`),
);

const contentTypeArb = fc.oneof(
  fc.constantFrom(
    'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/csv', 'application/csv', 'image/jpeg', 'image/png',
    'image/webp', 'image/gif', 'image/bmp', 'application/octet-stream', 'multipart/form-data; boundary=XyZ', 'multipart/form-data',
    'multipart/form-data; boundary=', 'text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json', ';', '',
  ),
  fc.string({ maxLength: 30 }),
);

const scalarArb = fc.oneof(
  fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 6 }),
  fc.constantFrom(1e308, -0, 3.5e38, 2 ** 31, -(2 ** 53), 0.5),
);
const { nested: nestedArb } = fc.letrec((tie) => ({
  nested: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarArb, fc.array(tie('nested'), { maxLength: 5 }), fc.dictionary(fc.string({ maxLength: 5 }), tie('nested'), { maxKeys: 3 })),
}));

const FEATURE_OR_INPUT = ['x', 'a', 'b', 'image', 'b64', 'input_1', ...IRIS_FEATURES];

/** Rows of finite numbers: of the right width for the linear (3) or Iris (4) model now and then. */
const numberArb = fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }));
const rowsArb = fc.array(fc.array(numberArb, { minLength: 3, maxLength: 4 }), { minLength: 1, maxLength: 4 });

const predictBodyArb = fc.oneof(
  rowsArb.map((instances) => ({ instances })),
  rowsArb.map((inputs) => ({ inputs })),
  fc.record({
    instances: fc.oneof(
      nestedArb,
      fc.array(nestedArb, { maxLength: 5 }),
      fc.array(fc.array(fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 3 })), { minLength: 2, maxLength: 5 }), { maxLength: 4 }),
      fc.array(fc.dictionary(fc.constantFrom(...FEATURE_OR_INPUT), scalarArb, { maxKeys: 5 }), { maxLength: 4 }),
      fc.array(fc.record({ b64: fc.oneof(fc.base64String({ maxLength: 64 }), fc.string({ maxLength: 20 })) }), { maxLength: 3 }),
      fc.array(fc.record({ image_bytes: fc.record({ b64: fc.base64String({ maxLength: 64 }) }) }), { maxLength: 2 }),
    ),
  }),
  fc.record({ inputs: fc.oneof(nestedArb, fc.dictionary(fc.constantFrom(...FEATURE_OR_INPUT), nestedArb, { maxKeys: 3 })) }),
  fc.record({ instances: nestedArb, inputs: nestedArb }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
).map((v) => JSON.stringify(v) ?? 'null');

const inferInputArb = fc.record({
  name: fc.oneof(fc.constantFrom(...FEATURE_OR_INPUT), fc.string({ maxLength: 6 })),
  shape: fc.oneof(
    fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 4 }),
    fc.array(fc.oneof(fc.nat(), fc.constant(2 ** 31), fc.double()), { maxLength: 3 }),
    fc.constantFrom([1, 3], [2, 3], [1, 4], [3], [], [0, 3], [1, 224, 224, 3]),
    nestedArb,
  ),
  datatype: fc.oneof(fc.constantFrom('FP32', 'FP16', 'FP64', 'INT32', 'INT64', 'INT8', 'UINT8', 'BOOL', 'BYTES'), fc.string({ maxLength: 5 })),
  data: fc.oneof(nestedArb, fc.array(fc.double(), { maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 6 })),
}, { requiredKeys: [] });

const inferBodyArb = fc.oneof(
  // Consistent requests for the linear model (x: [n, 3] FP32), with one field perturbed now and then.
  fc.tuple(rowsArb, fc.constantFrom('x', 'input', 'y'), fc.constantFrom('FP32', 'FP64', 'INT32', 'BOOL', 'UINT8'), fc.boolean()).map(([rows, name, datatype, honestShape]) => ({
    inputs: [{ name, datatype, shape: honestShape ? [rows.length, rows[0].length] : [rows[0].length, rows.length], data: rows.flat() }],
  })),
  fc.record({
    inputs: fc.oneof(fc.array(inferInputArb, { maxLength: 3 }), nestedArb),
    outputs: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('y', 'dense_1'), fc.string({ maxLength: 5 })) }), { maxLength: 2 }),
    id: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
  }, { requiredKeys: ['inputs'] }),
  fc.jsonValue({ maxDepth: 3 }),
).map((v) => JSON.stringify(v) ?? 'null');

const csvArb = fc.oneof(
  fc.array(fc.array(fc.oneof(fc.double().map(String), fc.string({ maxLength: 6 }), fc.constant('')), { maxLength: 5 }), { maxLength: 5 })
    .map((rows) => [IRIS_FEATURES.join(','), ...rows.map((r) => r.join(','))].join('\n')),
  fc.string({ maxLength: 120 }),
  fc.constant(`${IRIS_FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n"unclosed,1,2,3\n`),
);

/** A real sample, flipped, truncated, spliced and extended at random. */
const mutatedImageArb = () => fc.record({
  base: fc.constantFrom(...samples),
  ops: fc.array(fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.oneof(fc.nat(64), fc.nat()), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.oneof(fc.nat(256), fc.nat()) }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant('splice' as const), at: fc.oneof(fc.nat(64), fc.nat()), bytes: fc.uint8Array({ maxLength: 32 }) }),
  ), { maxLength: 4 }),
}).map(({ base, ops }) => {
  let bytes = Buffer.from(base);
  for (const op of ops) {
    const at = bytes.length === 0 ? 0 : ('at' in op ? op.at % bytes.length : 0);
    if (op.kind === 'flip' && bytes.length > 0) bytes[at] = op.value;
    if (op.kind === 'truncate') bytes = bytes.subarray(0, at);
    if (op.kind === 'append') bytes = Buffer.concat([bytes, op.bytes]);
    if (op.kind === 'splice') bytes = Buffer.concat([bytes.subarray(0, at), op.bytes, bytes.subarray(at)]);
  }
  return bytes;
});

function multipart(boundary: string, field: string, bytes: Buffer, type: string): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="x"\r\nContent-Type: ${type}\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

const multipartArb = () => fc.record({
  field: fc.constantFrom('image', 'file', ''),
  bytes: fc.oneof(mutatedImageArb(), fc.uint8Array({ maxLength: 128 }).map((b) => Buffer.from(b))),
  cut: fc.option(fc.nat(400), { nil: undefined }),
}).map(({ field, bytes, cut }) => {
  const body = multipart('XyZ', field, bytes, 'image/jpeg');
  return cut === undefined ? body : body.subarray(0, cut);
});

const bodyArb = () => fc.oneof(
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 120, unit: 'binary' }).map((s) => Buffer.from(s)),
  predictBodyArb.map((s) => Buffer.from(s)),
  inferBodyArb.map((s) => Buffer.from(s)),
  csvArb.map((s) => Buffer.from(s)),
  multipartArb(),
  mutatedImageArb(),
  fc.constant(Buffer.alloc(0)),
);

const headersArb = fc.dictionary(
  fc.oneof(fc.constantFrom('Content-Type', 'content-type', 'Content-Length', 'Transfer-Encoding', 'Content-Encoding', 'Accept', 'X-Forwarded-For', 'Cookie'), fc.string({ maxLength: 12 })),
  fc.string({ maxLength: 40 }),
  { maxKeys: 4 },
);

/** A body as an event carries it: plain text, valid base64, or text wrongly flagged as base64. */
const encodingArb = fc.constantFrom('text', 'base64', 'base64-flag-only', 'base64-wrapped', 'null');

function encode(body: Buffer, how: string): { body: string | null; isBase64Encoded: boolean } {
  switch (how) {
    case 'base64': return { body: body.toString('base64'), isBase64Encoded: true };
    case 'base64-flag-only': return { body: body.toString('latin1'), isBase64Encoded: true };
    case 'base64-wrapped': return { body: body.toString('base64').replace(/(.{76})/g, '$1\n'), isBase64Encoded: true };
    case 'null': return { body: null, isBase64Encoded: false };
    default: return { body: body.toString('utf8'), isBase64Encoded: false };
  }
}

// ---- properties --------------------------------------------------------------------------

test('API Gateway REST (v1) events with random methods, paths, headers, bodies and encodings', async () => {
  await fuzz(fc.asyncProperty(
    targetArb(), methodArb, fc.nat(), bodyArb(), contentTypeArb, headersArb, encodingArb,
    async (t, method, pathSeed, body, contentType, headers, how) => {
      const path = fc.sample(pathArb(t.service.modelName), { numRuns: 1, seed: pathSeed })[0];
      const event = { ...apiGatewayV1Event({ method, path, contentType, headers }), ...encode(body, how) };
      const res = await noLeak(() => t.handler(event));
      checkAnswer(res, `${t.name} v1 ${method} ${path}`);
    },
  ), budget(400));
});

test('API Gateway HTTP API (v2) and Function URL events, with stages and cookies', async () => {
  await fuzz(fc.asyncProperty(
    targetArb(), methodArb, fc.nat(), bodyArb(), contentTypeArb, headersArb, encodingArb,
    fc.constantFrom('$default', 'prod', 'v1'), fc.boolean(), fc.array(fc.string({ maxLength: 12 }), { maxLength: 2 }),
    async (t, method, pathSeed, body, contentType, headers, how, stage, functionUrl, cookies) => {
      const path = fc.sample(pathArb(t.service.modelName), { numRuns: 1, seed: pathSeed })[0];
      const base = functionUrl
        ? functionUrlEvent({ method, path, contentType, headers })
        : apiGatewayV2Event({ method, path, contentType, headers, stage });
      const encoded = encode(body, how);
      const event = { ...base, body: encoded.body ?? undefined, isBase64Encoded: encoded.isBase64Encoded, ...(cookies.length ? { cookies } : {}) };
      const res = await noLeak(() => t.handler(event));
      checkAnswer(res, `${t.name} v2 ${method} ${path}`);
    },
  ), budget(400));
});

test('malformed proxy events (fields of the wrong type or missing) are 4xx, not crashes', async () => {
  // Header values stay strings here: a number in a header value is a 500 today (see the
  // issue 7 report: http.ts normalizeHeaders keeps non-string values, mediaType() then throws).
  const wrong = fc.oneof(
    fc.constant(undefined), fc.constant(null), fc.integer(), fc.boolean(), fc.constant({}), fc.constant([]), fc.string({ maxLength: 8 }),
  );
  const headers = fc.oneof(wrong, fc.dictionary(fc.constantFrom('content-type', 'Content-Type', 'cookie', 'x'), fc.string({ maxLength: 20 }), { maxKeys: 2 }));
  await fuzz(fc.asyncProperty(
    targetArb(),
    fc.boolean(),
    fc.record({ body: wrong, headers, multiValueHeaders: wrong, path: wrong, isBase64Encoded: wrong, rawPath: wrong }, { requiredKeys: [] }),
    async (t, v2, broken) => {
      const base = v2
        ? apiGatewayV2Event({ path: '/classify', body: samples[0], base64: true, contentType: 'image/jpeg' })
        : apiGatewayV1Event({ path: `/v1/models/${t.service.modelName}:predict`, body: '{"instances":[[1,2,3]]}', contentType: 'application/json' });
      const event = { ...base, ...broken };
      const res = await noLeak(() => t.handler(event));
      checkAnswer(res, `${t.name} ${v2 ? 'v2' : 'v1'} with ${JSON.stringify(broken)}`);
    },
  ), budget(200));
});

test('route() with random methods, paths, content types and bodies', async () => {
  await fuzz(fc.asyncProperty(
    targetArb(), methodArb, fc.nat(), contentTypeArb, bodyArb(), headersArb,
    async (t, method, pathSeed, contentType, body, headers) => {
      const path = fc.sample(pathArb(t.service.modelName), { numRuns: 1, seed: pathSeed })[0];
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const res = await noLeak(() => route(t.service, { method, path, headers: { ...lower, 'content-type': contentType }, body }));
      checkAnswer(res, `${t.name} ${method} ${path} (${contentType})`);
    },
  ), budget(600));
});

test('/classify with real photographs flipped, truncated, spliced and extended, raw and as base64 events', async () => {
  const demo = targets[0];
  await fuzz(fc.asyncProperty(
    mutatedImageArb(), fc.constantFrom('image/jpeg', 'image/png', 'application/octet-stream', ''), fc.constantFrom('route', 'v1', 'v2'),
    async (bytes, contentType, via) => {
      const res = await noLeak(async () => {
        if (via === 'route') return route(demo.service, { method: 'POST', path: '/classify', headers: { 'content-type': contentType }, body: bytes });
        const input = { path: '/classify', body: bytes, base64: true, contentType };
        return demo.handler(via === 'v1' ? apiGatewayV1Event(input) : apiGatewayV2Event(input));
      });
      checkAnswer(res, `/classify ${via} ${contentType} ${bytes.length} bytes`);
    },
  ), budget(150, 10));
});

test('concurrent mutated images through a batching service: each answers on its own, nothing leaks', async () => {
  await fuzz(fc.asyncProperty(
    fc.array(mutatedImageArb(), { minLength: 2, maxLength: 6 }),
    async (images) => {
      const answers = await noLeak(() => Promise.all(images.map((body) => route(batchedImages.service, { method: 'POST', path: '/classify', headers: { 'content-type': 'image/jpeg' }, body }))));
      answers.forEach((res, i) => checkAnswer(res, `batched /classify #${i}, ${images[i].length} bytes`));
    },
  ), budget(30, 8));
});

test('random JSON for :predict and /infer on every task', async () => {
  await fuzz(fc.asyncProperty(
    targetArb(), fc.oneof(predictBodyArb.map((b) => ['predict', b] as const), inferBodyArb.map((b) => ['infer', b] as const), csvArb.map((b) => ['csv', b] as const)),
    async (t, [kind, body]) => {
      const name = t.service.modelName;
      const path = kind === 'infer' ? `/v2/models/${name}/infer` : `/v1/models/${name}:predict`;
      const contentType = kind === 'csv' ? 'text/csv' : 'application/json';
      const res = await noLeak(() => route(t.service, { method: 'POST', path, headers: { 'content-type': contentType }, body: Buffer.from(body) }));
      checkAnswer(res, `${t.name} ${kind} ${body.slice(0, 200)}`);
    },
  ), budget(1000));
});

test('direct invocation with random JSON values', async () => {
  await fuzz(fc.asyncProperty(
    targetArb(),
    fc.oneof(fc.jsonValue({ maxDepth: 3 }), predictBodyArb.map((s) => JSON.parse(s) as unknown), inferBodyArb.map((s) => JSON.parse(s) as unknown)),
    async (t, event) => {
      // Direct invocations answer client errors as {statusCode, error} and throw server errors.
      const res = await noLeak(() => t.handler(event)) as Record<string, unknown>;
      if (typeof res.statusCode === 'number') {
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
        expect(typeof res.error).toBe('string');
      }
    },
  ), budget(300));
});
