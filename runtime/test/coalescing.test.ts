// Request coalescing (issue 7's dynamic batching): concurrent predictions coalesce into one
// model call, bounded by a number of rows and a wait; each request gets its own answer or its own
// error; nothing leaks (tensors, timers). Real models throughout: the hand-written linear
// graph (y = x.W + b), the Iris classifier trained here, and the demo MobileNetV2.
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { coalescedModel } from '../src/coalescing/coalesced-model';
import { COALESCE_MAX_ROWS_DEFAULT, COALESCE_MAX_WAIT_MS_DEFAULT, CoalescingQueue, resolveCoalescing } from '../src/coalescing/queue';
import { configFromEnv, configWithDefaults } from '../src/config';
import { UnprocessableError, toHttpError } from '../src/errors';
import { startLocalServer } from '../src/local-server';
import { loadModel } from '../src/model';
import { createObservability } from '../src/observability';
import { route } from '../src/routes';
import { InferenceService } from '../src/service';
import { DEMO_MODEL_DIR, IRIS_FEATURES, constNode, demoTask, dim, irisData, linearGraphModel, placeholderNode, sample, trainIrisModel, useWasm, writeGraphModel } from './support/models';
import type { BackendName } from '../src/backend';
import type { CoalescingOptions } from '../src/coalescing/queue';
import type { ServableModel } from '../src/model';
import type { TaskConfig } from '../src/task-config';

const WASM = { name: 'wasm', reason: 'tests', native: false } as const;

/** A service with batching set as given, recording the BatchSize of every model call. */
async function observedService(modelUri: string, task: TaskConfig, batching: { coalesceMaxRows: number; coalesceMaxWaitMs?: number }, modelName = 'm') {
  const batchSizes: number[] = [];
  const obs = { ...createObservability(modelName), inference: (_ms: number, n: number) => batchSizes.push(n) };
  const service = await InferenceService.create(configWithDefaults({ modelUri, task, backend: 'wasm', modelName, ...batching }), obs);
  return { service, batchSizes };
}

function post(service: InferenceService, urlPath: string, body: string | Buffer, contentType = 'application/json') {
  return route(service, { method: 'POST', path: urlPath, headers: { 'content-type': contentType }, body: Buffer.isBuffer(body) ? body : Buffer.from(body) });
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Runs `body` and asserts it leaves as many tensors as it found. */
async function tensorsFlat<T>(body: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await body();
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

describe('settings', () => {
  test.each<[BackendName, number, number]>([
    ['tensorflow', COALESCE_MAX_ROWS_DEFAULT, COALESCE_MAX_WAIT_MS_DEFAULT],
    ['tensorflow-gpu', COALESCE_MAX_ROWS_DEFAULT, COALESCE_MAX_WAIT_MS_DEFAULT],
    ['wasm', 1, COALESCE_MAX_WAIT_MS_DEFAULT],
    ['cpu', 1, COALESCE_MAX_WAIT_MS_DEFAULT],
  ])('auto on the %s backend: maxRows %d (1 is off)', (backend, size, wait) => {
    expect(resolveCoalescing({ coalesceMaxRows: 'auto', coalesceMaxWaitMs: 'auto' }, backend)).toMatchObject({ maxRows: size, maxWaitMs: wait });
    expect(resolveCoalescing({}, backend)).toMatchObject({ maxRows: size });
  });

  test('a configured size wins over the backend; 1 is off', () => {
    expect(resolveCoalescing({ coalesceMaxRows: 8, coalesceMaxWaitMs: 'auto' }, 'wasm')).toMatchObject({ maxRows: 8, maxWaitMs: 5, reason: 'configured' });
    expect(resolveCoalescing({ coalesceMaxRows: 1, coalesceMaxWaitMs: 0 }, 'tensorflow-gpu')).toMatchObject({ maxRows: 1, reason: /off/ });
  });

  const env = (extra: Record<string, string>) => ({ SERVERLESS_TF_MODEL_URI: '/models/m', ...extra });

  test.each([
    [{}, 'auto', 'auto'],
    [{ SERVERLESS_TF_COALESCE_MAX_ROWS: 'auto', SERVERLESS_TF_COALESCE_MAX_WAIT_MS: '' }, 'auto', 'auto'],
    [{ SERVERLESS_TF_COALESCE_MAX_ROWS: '1' }, 1, 'auto'],
    [{ SERVERLESS_TF_COALESCE_MAX_ROWS: '32', SERVERLESS_TF_COALESCE_MAX_WAIT_MS: '0' }, 32, 0],
  ])('from the environment: %j', (vars, size, wait) => {
    const config = configFromEnv(env(vars as Record<string, string>));
    expect(config).toMatchObject({ coalesceMaxRows: size, coalesceMaxWaitMs: wait });
    expect(config.deprecations).toBeUndefined();
  });

  test('the old names (SERVERLESS_TF_BATCH_MAX_SIZE, _BATCH_MAX_WAIT_MS) still work, with a deprecation; the new names win', () => {
    const old = configFromEnv(env({ SERVERLESS_TF_BATCH_MAX_SIZE: '8', SERVERLESS_TF_BATCH_MAX_WAIT_MS: '3' }));
    expect(old).toMatchObject({ coalesceMaxRows: 8, coalesceMaxWaitMs: 3 });
    expect(old.deprecations).toEqual([
      'SERVERLESS_TF_BATCH_MAX_SIZE is deprecated: set SERVERLESS_TF_COALESCE_MAX_ROWS instead (same values).',
      'SERVERLESS_TF_BATCH_MAX_WAIT_MS is deprecated: set SERVERLESS_TF_COALESCE_MAX_WAIT_MS instead (same values).',
    ]);
    const both = configFromEnv(env({ SERVERLESS_TF_BATCH_MAX_SIZE: '8', SERVERLESS_TF_COALESCE_MAX_ROWS: '2' }));
    expect(both).toMatchObject({ coalesceMaxRows: 2 });
    expect(both.deprecations).toBeUndefined();
    expect(() => configFromEnv(env({ SERVERLESS_TF_BATCH_MAX_SIZE: '0' }))).toThrow(/SERVERLESS_TF_BATCH_MAX_SIZE must be "auto" or a whole number from 1 to 1024; got "0"/);
  });

  test.each([
    ['SERVERLESS_TF_COALESCE_MAX_ROWS', '0', /SERVERLESS_TF_COALESCE_MAX_ROWS must be "auto" or a whole number from 1 to 1024; got "0"/],
    ['SERVERLESS_TF_COALESCE_MAX_ROWS', '2000', /from 1 to 1024; got "2000"/],
    ['SERVERLESS_TF_COALESCE_MAX_ROWS', 'on', /SERVERLESS_TF_COALESCE_MAX_ROWS must be "auto" or a whole number/],
    ['SERVERLESS_TF_COALESCE_MAX_WAIT_MS', '-1', /SERVERLESS_TF_COALESCE_MAX_WAIT_MS must be "auto" or a whole number from 0 to 1000; got "-1"/],
    ['SERVERLESS_TF_COALESCE_MAX_WAIT_MS', '2.5', /SERVERLESS_TF_COALESCE_MAX_WAIT_MS must be .* got "2.5"/],
  ])('%s=%s is refused', (name, value, message) => {
    expect(() => configFromEnv(env({ [name]: value }))).toThrow(message);
  });

  test.each([
    [{ maxRows: 0, maxWaitMs: 5 }, /maxRows must be a whole number of at least 1; got 0/],
    [{ maxRows: 4, maxWaitMs: -1 }, /maxWaitMs must be a number of at least 0; got -1/],
    [{ maxRows: 4, maxWaitMs: 5, maxConcurrentCalls: 0 }, /maxConcurrentCalls must be a whole number of at least 1; got 0/],
  ])('CoalescingQueue refuses %j', (options, message) => {
    expect(() => new CoalescingQueue(async (xs) => xs, options)).toThrow(message);
  });
});

describe('CoalescingQueue over a real model (y = x.W + b)', () => {
  let model: ServableModel;
  let W: number[][];
  let b: number[];
  const expected = (x: number[]) => [0, 1].map((j) => x.reduce((s, xi, i) => s + xi * W[i][j], 0) + b[j]);

  beforeAll(async () => {
    await useWasm();
    const linear = await linearGraphModel();
    W = linear.W;
    b = linear.b;
    model = await loadModel(tf, linear.dir, 'auto', WASM);
  });

  /** A batcher whose runner predicts rows with the model, recording each call's size. */
  function rowsBatcher(options: CoalescingOptions, check?: (rows: readonly number[][]) => void, delayMs = 0) {
    const calls: number[] = [];
    let active = 0;
    let maxActive = 0;
    const batcher = new CoalescingQueue<number[], number[]>(async (rows) => {
      calls.push(rows.length);
      maxActive = Math.max(maxActive, ++active);
      try {
        if (delayMs) await sleep(delayMs);
        check?.(rows);
        const x = tf.tensor2d(rows as number[][]);
        let out: Record<string, tf.Tensor> = {};
        try {
          out = await model.run({ x });
          return await Object.values(out)[0].array() as number[][];
        } finally {
          x.dispose();
          for (const t of Object.values(out)) t.dispose();
        }
      } finally {
        active--;
      }
    }, options);
    return { batcher, calls, maxActive: () => maxActive };
  }

  const rows = (n: number) => Array.from({ length: n }, (_, i) => [i, i / 2, -i]);

  function expectRowsClose(actual: number[][], inputs: number[][]) {
    expect(actual).toHaveLength(inputs.length);
    actual.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(expected(inputs[i])[j], 4)));
  }

  test('concurrent submits coalesce into one call, each with its own row back', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 16, maxWaitMs: 20 });
    const inputs = rows(8);
    const results = await tensorsFlat(() => Promise.all(inputs.map((r) => batcher.submit(r))));
    expect(calls).toEqual([8]);
    expectRowsClose(results, inputs);
  });

  test('a full batch runs at once; the rest waits at most maxWaitMs; order is kept', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 8, maxWaitMs: 200 });
    const inputs = rows(20);
    const started = performance.now();
    const doneAt: number[] = [];
    const results = await tensorsFlat(() => Promise.all(inputs.map((r, i) => batcher.submit(r).then((y) => {
      doneAt[i] = performance.now() - started;
      return y;
    }))));
    expect(calls).toEqual([8, 8, 4]);
    expectRowsClose(results, inputs);
    expect(Math.max(...doneAt.slice(0, 16))).toBeLessThan(150);
    expect(Math.min(...doneAt.slice(16))).toBeGreaterThanOrEqual(195);
  });

  test('maxWaitMs counts from the first queued item, and a lone item waits it out', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 16, maxWaitMs: 200 });
    const started = performance.now();
    const first = batcher.submit([1, 2, 3]);
    await sleep(120);
    const second = batcher.submit([4, 5, 6]);
    await Promise.all([first, second]);
    const elapsed = performance.now() - started;
    expect(calls).toEqual([2]);
    expect(elapsed).toBeGreaterThanOrEqual(198);
    expect(elapsed).toBeLessThan(300); // not 320: the wait did not restart with the second item

    const alone = performance.now();
    await batcher.submit([1, 1, 1]);
    expect(performance.now() - alone).toBeGreaterThanOrEqual(198);
    expect(calls).toEqual([2, 1]);
  });

  test('one batch runs at a time; items that arrive meanwhile form the next batch (maxWaitMs 0)', async () => {
    const { batcher, calls, maxActive } = rowsBatcher({ maxRows: 16, maxWaitMs: 0 }, undefined, 100);
    const first = batcher.submit([1, 0, 0]);
    await sleep(5);
    const later = rows(5).map((r) => batcher.submit(r));
    expect(batcher.queued).toBe(5);
    await Promise.all([first, ...later]);
    expect(calls).toEqual([1, 5]);
    expect(maxActive()).toBe(1);
  });

  test('sizes and keys: rows count toward maxRows, and different keys never share a call', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 8, maxWaitMs: 10 });
    const sized = await Promise.all([3, 3, 3].map((n, i) => batcher.submit([i, 0, 0], { size: n })));
    expect(sized).toHaveLength(3);
    expect(calls).toEqual([2, 1]);
    calls.length = 0;
    await Promise.all([...rows(3).map((r) => batcher.submit(r, { key: 'a' })), ...rows(2).map((r) => batcher.submit(r, { key: 'b' }))]);
    expect([...calls].sort()).toEqual([2, 3]);
  });

  test('a bad neighbour fails alone: a row of the wrong width is refused as the input\'s fault, the others are re-run and answered', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 16, maxWaitMs: 20 }, (rs) => {
      const bad = rs.findIndex((r) => r.length !== 3);
      if (bad >= 0) throw new UnprocessableError(`row ${bad} has ${rs[bad].length} values; the model takes 3.`);
    });
    const inputs = [[1, 2, 3], [4, 5], [0, 0, 1], [2, 2, 2]];
    const settled = await tensorsFlat(() => Promise.allSettled(inputs.map((r) => batcher.submit(r))));
    expect(calls).toEqual([4, 1, 1, 1, 1]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    [0, 2, 3].forEach((i) => expectRowsClose([(settled[i] as PromiseFulfilledResult<number[]>).value], [inputs[i]]));
  });

  test('an internal error of a coalesced call (the environment\'s fault) fails every item once, without re-running each', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 16, maxWaitMs: 20 });
    // [4, 5] makes tf.tensor2d throw a plain Error: not a client error, so nothing is re-run.
    const settled = await tensorsFlat(() => Promise.allSettled([[1, 2, 3], [4, 5], [0, 0, 1]].map((r) => batcher.submit(r))));
    expect(calls).toEqual([3]);
    expect(settled.every((s) => s.status === 'rejected' && toHttpError(s.reason).statusCode === 500)).toBe(true);
  });

  test('a client error in a batched call is re-run item by item: only the bad item gets the 422', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 16, maxWaitMs: 20 }, (rs) => {
      const bad = rs.findIndex((r) => r.some((v) => !Number.isFinite(v)));
      if (bad >= 0) throw new UnprocessableError(`row ${bad} holds a value that is not finite.`);
    });
    const settled = await Promise.allSettled([[1, 2, 3], [NaN, 0, 0], [3, 2, 1]].map((r) => batcher.submit(r)));
    expect(calls).toEqual([3, 1, 1, 1]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(toHttpError((settled[1] as PromiseRejectedResult).reason).statusCode).toBe(422);
  });

  test('out of memory fails the whole batch with the 503 mapping, without re-running each item', async () => {
    const { batcher, calls } = rowsBatcher({ maxRows: 16, maxWaitMs: 20 }, (rs) => {
      if (rs.length > 1) throw new Error('Out of memory: failed to allocate 1.2GB for a batch');
    });
    const settled = await Promise.allSettled(rows(4).map((r) => batcher.submit(r)));
    expect(calls).toEqual([4]);
    expect(settled.every((s) => s.status === 'rejected' && toHttpError(s.reason).statusCode === 503)).toBe(true);
    expect(toHttpError((settled[0] as PromiseRejectedResult).reason).headers['Retry-After']).toBe('1');
  });

  test('no timer is left once the queue is empty', async () => {
    await sleep(150); // the timers of earlier tests (sleeps of up to 100 ms in a runner) end first
    const idle = timers();
    const { batcher } = rowsBatcher({ maxRows: 4, maxWaitMs: 50 });
    const pending = Promise.all(rows(6).map((r) => batcher.submit(r)));
    await sleep(0);
    expect(timers()).toBe(idle + 1); // the 2 rows after the full batch wait for their deadline
    await pending;
    expect(batcher.queued).toBe(0);
    expect(timers()).toBe(idle);
  });

  test('maxRows 1 is off: every submit is its own call, with no queue and no timer', async () => {
    const idle = timers();
    const { batcher, calls } = rowsBatcher({ maxRows: 1, maxWaitMs: 1000 });
    expect(batcher.enabled).toBe(false);
    const started = performance.now();
    const pending = Promise.all(rows(3).map((r) => batcher.submit(r)));
    expect(timers()).toBe(idle);
    expectRowsClose(await pending, rows(3));
    expect(calls).toEqual([1, 1, 1]);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

// maxRows is the number of good rows each test sends, with a long wait (15 s: 2 s split a
// group on a loaded CI machine, where decoding four images took longer): the group runs
// the moment it is full, so a slow machine cannot split it.
describe('through the service: tasks share batched model calls', () => {
  test('raw tensors (TF Serving and KServe V2) with the same non-batch shape share one call; a wrong shape fails alone', async () => {
    const linear = await linearGraphModel();
    const { service, batchSizes } = await observedService(linear.dir, { type: 'tensor' }, { coalesceMaxRows: 9, coalesceMaxWaitMs: 15000 }, 'linear');
    const expected = (x: number[]) => [0, 1].map((j) => x.reduce((s, xi, i) => s + xi * linear.W[i][j], 0) + linear.b[j]);
    const instances = [[[1, 2, 3]], [[0, 0, 1], [1, 1, 1]], [[2, 0, -1]], [[5, 5, 5], [1, 0, 0], [0, 1, 0]]];
    const answers = await tensorsFlat(() => Promise.all([
      ...instances.map((inst) => post(service, '/v1/models/linear:predict', JSON.stringify({ instances: inst }))),
      post(service, '/v2/models/linear/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 0, 0, 0, 0, 1] }] })),
      post(service, '/v1/models/linear:predict', JSON.stringify({ instances: [[1, 2, 3, 4]] })),
    ]));
    expect(batchSizes).toEqual([9]);
    instances.forEach((inst, k) => {
      expect(answers[k].statusCode).toBe(200);
      const predictions = JSON.parse(answers[k].body).predictions as number[][];
      predictions.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected(inst[i])[j], 4)));
    });
    const v2 = JSON.parse(answers[4].body) as { outputs: { shape: number[]; data: number[] }[] };
    expect(v2.outputs[0].shape).toEqual([2, 2]);
    v2.outputs[0].data.forEach((v, i) => expect(v).toBeCloseTo([...expected([1, 0, 0]), ...expected([0, 0, 1])][i], 4));
    expect(answers[5].statusCode).toBe(422);
  });

  test('tabular rows from concurrent JSON and CSV requests share one call and answer as unbatched', async () => {
    const dir = await trainIrisModel();
    const task: TaskConfig = { type: 'tabular', features: [...IRIS_FEATURES], labels: ['setosa', 'versicolor', 'virginica'] };
    const { service, batchSizes } = await observedService(dir, task, { coalesceMaxRows: 12, coalesceMaxWaitMs: 15000 }, 'iris');
    const { service: plain } = await observedService(dir, task, { coalesceMaxRows: 1 }, 'iris');
    const data = irisData().rows;
    const requests = [
      ...[0, 60, 120, 30, 90].map((i) => ({ body: JSON.stringify({ instances: [data[i]] }), type: 'application/json' })),
      { body: JSON.stringify({ instances: data.slice(10, 14).map((r) => Object.fromEntries(IRIS_FEATURES.map((f, j) => [f, r[j]]))) }), type: 'application/json' },
      { body: `${IRIS_FEATURES.join(',')}\n${data.slice(140, 143).map((r) => r.join(',')).join('\n')}\n`, type: 'text/csv' },
      { body: JSON.stringify({ instances: [{ sepal_length: 5 }] }), type: 'application/json' },
    ];
    const batched = await tensorsFlat(() => Promise.all(requests.map((r) => post(service, '/v1/models/iris:predict', r.body, r.type))));
    const sequential = [];
    for (const r of requests) sequential.push(await post(plain, '/v1/models/iris:predict', r.body, r.type));
    expect(batchSizes).toEqual([12]);
    expect(batched.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200, 200, 422]);
    expect(batched.map((r) => JSON.parse(r.body))).toEqual(sequential.map((r) => JSON.parse(r.body)));
  });

  test('images: decode stays per request, an undecodable neighbour fails alone, the rest share one call', async () => {
    const task = await demoTask();
    const { service, batchSizes } = await observedService(DEMO_MODEL_DIR, task, { coalesceMaxRows: 4, coalesceMaxWaitMs: 15000 }, 'demo');
    const { service: plain } = await observedService(DEMO_MODEL_DIR, task, { coalesceMaxRows: 1 }, 'demo');
    const images = await Promise.all(['rocket.jpg', 'chelsea.png', 'camera.png', 'coffee.jpg'].map(sample));
    const truncated = images[0].subarray(0, 2000);
    const bodies = [...images, truncated];
    const batched = await tensorsFlat(() => Promise.all(bodies.map((img) => post(service, '/classify', img, 'image/jpeg'))));
    const sequential = [];
    for (const img of bodies) sequential.push(await post(plain, '/classify', img, 'image/jpeg'));
    expect(batchSizes).toEqual([4]);
    expect(batched.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 400]);
    expect(batched.slice(0, 4).map((r) => JSON.parse(r.body))).toEqual(sequential.slice(0, 4).map((r) => JSON.parse(r.body)));
    // libvips' own wording of a decode failure is not reliable while other images decode at
    // the same time (sometimes "Unknown error"), so only our part of the message is compared.
    expect(JSON.parse(batched[4].body).error).toMatch(/^The image\/jpeg image could not be decoded: it is corrupt or truncated/);
  });

  test('a model whose output is not batch-major is found by the warm-up call and served unbatched, with correct answers', async () => {
    // y = sum of x over the batch axis: [n, 3] -> [3]. Batching it would mix requests.
    const dir = await writeGraphModel('sum-model', [
      placeholderNode('x', 'DT_FLOAT', dim(-1, 3)),
      constNode('axis', 'DT_INT32', {}),
      { name: 'y', op: 'Sum', input: ['x', 'axis'], attr: { T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    ], [{ name: 'axis', shape: [], dtype: 'int32', values: [0] }]);
    const obs = createObservability('sum');
    const warn = jest.spyOn(obs.logger, 'warn');
    const batchSizes: number[] = [];
    const service = await InferenceService.create(configWithDefaults({ modelUri: dir, task: { type: 'tensor' }, backend: 'wasm', modelName: 'sum', coalesceMaxRows: 16, coalesceMaxWaitMs: 20 }), { ...obs, inference: (_ms, n) => batchSizes.push(n) });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/not batch-major/);
    expect(warn.mock.calls[0][1]).toEqual({ reason: "output 'y' has shape [3] for 1 input row; its first dimension is not the batch" });
    const ask = (instances: number[][]) => post(service, '/v1/models/sum:predict', JSON.stringify({ instances }));
    for (let round = 0; round < 2; round++) {
      // Three rows in all: a batched call would even pass a check of the output's first dimension.
      const [a, c] = await tensorsFlat(() => Promise.all([ask([[1, 2, 3]]), ask([[10, 20, 30], [1, 1, 1]])]));
      expect(JSON.parse(a.body).predictions).toEqual([1, 2, 3]);
      expect(JSON.parse(c.body).predictions).toEqual([11, 21, 31]);
    }
    expect(batchSizes).toEqual([1, 2, 1, 2]);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe('a model that turns out not to coalesce', () => {
  test('outputs that are batch-major for one row but not for several: the group is re-run call by call, coalescing stops', async () => {
    // y = the first row of x: [1, 3] for one row (batch-major), [1, 3] for three (not).
    const inner: ServableModel = {
      format: 'graph',
      inputs: [{ name: 'x', dtype: 'float32', shape: [null, 3] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [null, 3] }],
      run: async (inputs) => ({ y: tf.slice(inputs.x, [0, 0], [1, 3]) }),
      dispose: () => undefined,
    };
    const reasons: string[] = [];
    const calls: number[] = [];
    const model = coalescedModel(tf, inner, { maxRows: 16, maxWaitMs: 20, onUnbatchable: (r) => reasons.push(r), onCall: (_ms, n) => calls.push(n) });
    const ask = async (rows: number[]) => {
      const x = tf.tensor2d([rows]);
      const out = await model.run({ x });
      x.dispose();
      const y = await out.y.array();
      out.y.dispose();
      return y;
    };
    const answers = await tensorsFlat(() => Promise.all([ask([1, 2, 3]), ask([4, 5, 6]), ask([7, 8, 9])]));
    expect(answers).toEqual([[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]]]);
    expect(reasons).toEqual(["output 'y' has shape [1,3] for 3 input rows; its first dimension is not the batch"]);
    expect(calls).toEqual([1, 1, 1]);
    // Coalescing has stopped: concurrent calls now run one by one at once.
    await tensorsFlat(() => Promise.all([ask([1, 1, 1]), ask([2, 2, 2])]));
    expect(calls).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('through the local server', () => {
  test('16 concurrent /classify requests with batching forced on answer exactly as sequential ones', async () => {
    const { service, batchSizes } = await observedService(DEMO_MODEL_DIR, await demoTask(), { coalesceMaxRows: 16, coalesceMaxWaitMs: 50 }, 'demo');
    const server = await startLocalServer(service);
    try {
      const names = ['astronaut.jpg', 'camera.png', 'chelsea.png', 'coffee.jpg', 'hubble_deep_field.jpg', 'retina.jpg', 'rocket.jpg'];
      const images = await Promise.all(names.map(sample));
      const classify = async (i: number) => {
        const res = await fetch(`${server.url}/classify`, { method: 'POST', body: new Uint8Array(images[i % images.length]), headers: { 'content-type': 'application/octet-stream' } });
        return { status: res.status, body: await res.text() };
      };
      await tensorsFlat(async () => {
        const sequential: { status: number; body: string }[] = [];
        for (let i = 0; i < names.length; i++) sequential.push(await classify(i));
        expect(batchSizes).toEqual(names.map(() => 1));
        batchSizes.length = 0;
        const concurrent = await Promise.all(Array.from({ length: 16 }, (_, i) => classify(i)));
        expect(concurrent.every((r) => r.status === 200)).toBe(true);
        concurrent.forEach((r, i) => expect(r.body).toBe(sequential[i % names.length].body));
      });
      expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(16);
      expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    } finally {
      await server.close();
    }
  });
});
