// The Lambda handler driven by real event payloads: API Gateway REST and HTTP APIs,
// Function URLs, warm-up pings, direct invocation, and S3 notifications and SQS
// batches against a real S3 protocol peer (s3rver on loopback).
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, demoTask, irisData, sample, serviceFor, trainIrisModel } from './support/models';
import { apiGatewayV1Event, apiGatewayV2Event, functionUrlEvent, s3Event, scheduledEvent, sqsEvent } from './support/events';
import { startS3Server } from './support/s3-server';
import { createHandler } from '../src/handler';
import type { LambdaHandler } from '../src/handler';
import type { InferenceService } from '../src/service';
import type { S3TestServer } from './support/s3-server';
import type { S3Client } from '@aws-sdk/client-s3';

interface ProxyResult { statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: boolean }

let images: InferenceService;
let iris: InferenceService;
let imageHandler: LambdaHandler;
let irisHandler: LambdaHandler;
let s3server: S3TestServer;
let s3: S3Client;
const BUCKET = 'uploads';

beforeAll(async () => {
  s3server = await startS3Server();
  s3 = s3server.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  images = await serviceFor(DEMO_MODEL_DIR, await demoTask(), { modelName: 'demo' });
  iris = await serviceFor(await trainIrisModel(), { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] }, { modelName: 'iris', outputPrefix: 'results/' });
  imageHandler = createHandler(images, { s3 });
  irisHandler = createHandler(iris, { s3 });
}, 60_000);

afterAll(async () => {
  await s3server?.stop();
});

async function put(key: string, body: string | Buffer): Promise<string> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  return (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag!;
}

async function get(key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return res.Body!.transformToString();
}

function body(result: unknown): { statusCode: number; json: Record<string, unknown> } {
  const r = result as ProxyResult;
  expect(r.isBase64Encoded).toBe(false);
  expect(r.headers['Content-Type']).toBe('application/json');
  return { statusCode: r.statusCode, json: JSON.parse(r.body) as Record<string, unknown> };
}

describe('HTTP-shaped events', () => {
  test('API Gateway REST (v1): a base64 JPEG to /classify', async () => {
    const res = body(await imageHandler(apiGatewayV1Event({ path: '/classify', body: await sample('coffee.jpg'), contentType: 'image/jpeg', base64: true })));
    expect(res.statusCode).toBe(200);
    expect((res.json.predictions as { label: string }[])[0].label).toBe('Neutral');
  });

  test('HTTP API (v2) with a named stage: the stage prefix is not part of the route', async () => {
    const res = body(await imageHandler(apiGatewayV2Event({ path: '/classify', stage: 'prod', body: await sample('rocket.jpg'), contentType: 'image/jpeg', base64: true })));
    expect(res.statusCode).toBe(200);
    expect((res.json.predictions as { label: string }[])[0].label).toBe('Drawing');
  });

  test('Function URL: JSON body, not base64, to :predict on the tabular model', async () => {
    const rows = irisData().rows.slice(0, 2);
    const res = body(await irisHandler(functionUrlEvent({ path: '/v1/models/iris:predict', body: JSON.stringify({ instances: rows }), contentType: 'application/json' })));
    expect(res.statusCode).toBe(200);
    expect((res.json.predictions as { label: string }[][])[0][0].label).toBe('setosa');
  });

  test('GET routes through v1 and v2', async () => {
    expect(body(await imageHandler(apiGatewayV1Event({ method: 'GET', path: '/health' }))).json).toMatchObject({ status: 'ok', model: 'demo', backend: 'wasm', format: 'layers' });
    const meta = body(await imageHandler(apiGatewayV2Event({ method: 'GET', path: '/v2/models/demo' }))).json;
    expect(meta.inputs).toEqual([{ name: expect.any(String), datatype: 'FP32', shape: [-1, 224, 224, 3] }]);
  });

  test.each([
    ['a body marked base64 that is not', { ...apiGatewayV1Event({ path: '/classify', body: '@@@not base64@@@', contentType: 'image/jpeg' }), isBase64Encoded: true }, 400],
    ['text/plain to /classify', apiGatewayV1Event({ path: '/classify', body: 'hello', contentType: 'text/plain' }), 415],
    ['malformed JSON to :predict', apiGatewayV2Event({ path: '/v1/models/demo:predict', body: '{"instances": [', contentType: 'application/json' }), 400],
    ['an unknown route', apiGatewayV2Event({ method: 'GET', path: '/admin' }), 404],
  ])('%s is a JSON 4xx proxy response', async (_what, event, status) => {
    const res = body(await imageHandler(event));
    expect(res.statusCode).toBe(status);
    expect(typeof res.json.error).toBe('string');
    expect(res.json.error).not.toMatch(/\n\s+at /);
  });
});

describe('warm-up pings', () => {
  test('answer at once without running the model', async () => {
    const before = tf.memory().numTensors;
    const kernelsBefore = tf.memory().numBytes;
    for (const event of [{ warmup: true }, scheduledEvent, { source: 'serverless-tf.warmup' }]) {
      await expect(imageHandler(event)).resolves.toMatchObject({ warm: true, model: 'demo', backend: 'wasm' });
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(kernelsBefore);
  });

  test('holdMs keeps the environment busy (so N concurrent pings reach N environments), capped at 1 s', async () => {
    const started = Date.now();
    await imageHandler({ warmup: true, holdMs: 150 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const capped = Date.now();
    await imageHandler({ warmup: true, holdMs: 60_000 });
    expect(Date.now() - capped).toBeLessThan(5_000);
  });
});

describe('direct invocation', () => {
  test('TF Serving, b64 image and KServe V2 bodies', async () => {
    const b64 = (await sample('chelsea.png')).toString('base64');
    const classify = await imageHandler({ b64 }) as { predictions: { label: string }[] };
    expect(classify.predictions[0].label).toBe('Neutral');
    const predict = await imageHandler({ instances: [{ b64 }] }) as { predictions: { label: string }[][] };
    expect(predict.predictions[0][0].label).toBe('Neutral');
    const v2 = await irisHandler({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }) as { outputs: { shape: number[] }[] };
    expect(v2.outputs[0].shape).toEqual([1, 3]);
  });

  test('a client error comes back as {statusCode, error}, not a thrown function error', async () => {
    await expect(irisHandler({ instances: [{ sepal_length: 1 }] })).resolves.toMatchObject({ statusCode: 422, error: expect.stringMatching(/petal_width/) });
    await expect(irisHandler('just a string')).resolves.toMatchObject({ statusCode: 400 });
  });
});

describe('S3 notifications: batch inference', () => {
  test('a CSV with a header: every row ends as a prediction or an error row, at keys derived from key and ETag', async () => {
    const { rows } = irisData();
    const lines = rows.slice(0, 20).map((r) => r.join(','));
    lines[4] = '5.0,3.4,oops,0.2';
    lines[9] = '4.9,3.1';
    const csv = `${IRIS_FEATURES.join(',')}\n${lines.join('\n')}\n`;
    const etag = await put('in/flowers 1.csv', csv);
    const result = await irisHandler(s3Event(BUCKET, 'in/flowers 1.csv', etag)) as { results: { rows: number; failedRows: number; output: string; errors: string }[] };
    const base = `results/in/flowers 1.csv/${etag.replace(/"/g, '')}`;
    expect(result.results).toEqual([{
      input: `s3://${BUCKET}/in/flowers 1.csv`, rows: 20, failedRows: 2, chunk: 0, chunks: 1,
      output: `s3://${BUCKET}/${base}/chunk-00000.csv`,
      errors: `s3://${BUCKET}/${base}/chunk-00000.errors.jsonl`,
      success: `s3://${BUCKET}/${base}/_SUCCESS.json`,
    }]);
    const out = (await get(`${base}/chunk-00000.csv`)).trim().split('\n');
    expect(out[0]).toBe(`${IRIS_FEATURES.join(',')},prediction,score`);
    expect(out).toHaveLength(1 + 18);
    expect(out[1]).toMatch(/^5\.1,3\.5,1\.4,0\.2,setosa,0\.\d+$/);
    const errors = (await get(`${base}/chunk-00000.errors.jsonl`)).trim().split('\n').map((l) => JSON.parse(l) as { line: number; offset: number; error: string; text: string });
    expect(errors.map((e) => [e.line, e.text])).toEqual([[6, lines[4]], [11, lines[9]]]);
    expect(errors[0].offset).toBe(csv.indexOf(lines[4]));
    expect(errors[0].error).toMatch(/line 6: feature 'petal_length'.*"oops"/);
    expect(errors[1].error).toMatch(/missing feature/);
    expect(JSON.parse(await get(`${base}/_SUCCESS.json`))).toMatchObject({ chunks: 1, rows: 20, failed: 2, outputs: [`${base}/chunk-00000.csv`] });
  });

  test('a retry of the same object overwrites the same keys instead of adding new ones', async () => {
    const csv = `${IRIS_FEATURES.join(',')}\n6.7,3.0,5.2,2.3\n`;
    const etag = await put('in/retry.csv', csv);
    const first = await irisHandler(s3Event(BUCKET, 'in/retry.csv', etag)) as { results: { output: string }[] };
    const second = await irisHandler(s3Event(BUCKET, 'in/retry.csv', etag)) as { results: { output: string }[] };
    expect(second.results[0].output).toBe(first.results[0].output);
    expect((await get(first.results[0].output.replace(`s3://${BUCKET}/`, ''))).trim().split('\n')).toHaveLength(2);
  });

  test('JSON Lines: one instance a line; a bad line becomes an error row', async () => {
    const jsonl = ['{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}', 'not json', '[6.7,3.0,5.2,2.3]', ''].join('\n');
    const etag = await put('in/batch.jsonl', jsonl);
    const result = await irisHandler(s3Event(BUCKET, 'in/batch.jsonl', etag)) as { results: { rows: number; failedRows: number; output: string }[] };
    expect(result.results[0]).toMatchObject({ rows: 3, failedRows: 1 });
    const out = (await get(result.results[0].output.replace(`s3://${BUCKET}/`, ''))).trim().split('\n').map((l) => JSON.parse(l) as { line: number; offset: number; prediction: { label: string }[] });
    expect(out.map((o) => [o.line, o.offset, o.prediction[0].label])).toEqual([[1, 0, 'setosa'], [3, jsonl.indexOf('[6.7'), 'virginica']]);
  });

  test('JSON Lines of images: an undecodable image alone in its group, or bad base64, is an error row, not a failed input', async () => {
    const good = (await sample('chelsea.png')).toString('base64');
    const broken = Buffer.from('not an image at all').toString('base64');
    // 16 images go in one model call: line 17 is a group of one, and the file ends with it.
    const lines = [...Array.from({ length: 15 }, () => JSON.stringify({ b64: good })), JSON.stringify({ b64: '***' }), JSON.stringify({ b64: broken })];
    const etag = await put('in/photos.jsonl', lines.join('\n'));
    const result = await imageHandler(s3Event(BUCKET, 'in/photos.jsonl', etag)) as { results: { rows: number; failedRows: number; output: string; errors: string }[] };
    expect(result.results[0]).toMatchObject({ rows: 17, failedRows: 2 });
    const out = (await get(result.results[0].output.replace(`s3://${BUCKET}/`, ''))).trim().split('\n').map((l) => JSON.parse(l) as { line: number; prediction: { label: string }[] });
    expect(out.map((o) => o.line)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(out.every((o) => o.prediction[0].label === 'Neutral')).toBe(true);
    const errors = (await get(result.results[0].errors.replace(`s3://${BUCKET}/`, ''))).trim().split('\n').map((l) => JSON.parse(l) as { line: number; error: string });
    expect(errors.map((e) => e.line)).toEqual([16, 17]);
    expect(errors[0].error).toMatch(/line 16\.b64 is not valid base64/);
    expect(errors[1].error).toMatch(/image/i);
  });

  test('an image upload is classified; our own results are not processed again', async () => {
    const etag = await put('photos/cat.png', await sample('chelsea.png'));
    const result = await imageHandler(s3Event(BUCKET, 'photos/cat.png', etag)) as { results: { output: string }[] };
    const answer = JSON.parse(await get(result.results[0].output.replace(`s3://${BUCKET}/`, ''))) as { predictions: { label: string }[] };
    expect(answer.predictions[0].label).toBe('Neutral');
    const ours = await put('predictions/photos/x.png', await sample('chelsea.png'));
    await expect(imageHandler(s3Event(BUCKET, 'predictions/photos/x.png', ours))).resolves.toMatchObject({ results: [{ skipped: expect.stringMatching(/output prefix/) }] });
  });
});

describe('SQS batches', () => {
  test('S3 notifications through SQS; a bad message fails alone (partial batch response)', async () => {
    const etag = await put('in/queued.csv', `${IRIS_FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n`);
    const event = sqsEvent([
      JSON.stringify(s3Event(BUCKET, 'in/queued.csv', etag)),
      'not json',
      JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: BUCKET }),
      JSON.stringify(s3Event(BUCKET, 'in/missing.csv', '"0000"')),
    ]);
    const answer = await irisHandler(event) as { batchItemFailures: { itemIdentifier: string }[] };
    expect(answer.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[1].messageId, event.Records[3].messageId]);
    const clean = etag.replace(/"/g, '');
    expect(await get(`results/in/queued.csv/${clean}/chunk-00000.csv`)).toMatch(/setosa/);
  });
});
