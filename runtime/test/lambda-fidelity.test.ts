// The bundle as Lambda runs it. Each function process is the real aws-lambda-ric on a real
// Node.js 22 or 24 binary, polling a Runtime API peer on loopback, with the function code
// read-only at /var/task, the layers read-only under /opt, and only /tmp writable
// (support/lambda-sandbox.ts). Two packagings:
// - container: what runtime/docker/Dockerfile and Dockerfile.gpu build: dist/ and the
//   packages the bundle imports at run time in /var/task, the model baked in at /opt/model,
//   handler dist/handler.handler;
// - zip: what Compute.zip() deploys: a one-line index.mjs in /var/task, the runtime layer
//   (runtime/layer/linux-x64.zip, the archive the npm package ships) under /opt, and the
//   model read from S3 at init, as the batch-tabular example does.
// Every AWS service is a real protocol peer on loopback: s3rver, dynalite, the SQS peer.
// The events are the shapes Lambda delivers: API Gateway v1 and v2, an S3 notification,
// an SQS batch of S3 notifications with S3's own s3:TestEvent and a record that is not
// JSON, an async job's message, a warm-up ping; and an init that fails.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { apiGatewayV1Event, apiGatewayV2Event, s3Event, sqsEvent } from './support/events';
import { DEMO_MODEL_DIR, RUNTIME_DIR, sample } from './support/models';
import { S3_CREDENTIALS, startS3Server } from './support/s3-server';
import { startDynamoServer } from './support/dynamo-server';
import { startSqsServer } from './support/sqs-server';
import { startRuntimeApi } from './support/lambda-runtime-api';
import { lambdaTools, startLambdaProcess } from './support/lambda-sandbox';
import { RuntimeEnvironment } from '../../lib/runtime-environment';
import type { InvocationResult, RuntimeApiPeer } from './support/lambda-runtime-api';
import type { LambdaProcess, LambdaTools } from './support/lambda-sandbox';
import type { S3TestServer } from './support/s3-server';
import type { DynamoTestServer } from './support/dynamo-server';
import type { SqsTestServer } from './support/sqs-server';
import type { S3Client } from '@aws-sdk/client-s3';

interface ProxyResponse { statusCode: number; headers: Record<string, string>; body: string }
interface LabelScore { label: string; score: number }

const MODELS_BUCKET = 'models';
const INPUT_BUCKET = 'batch-in';
const OUTPUT_BUCKET = 'batch-out';
const JOBS_BUCKET = 'jobs-bucket';
const JOBS_TABLE = 'jobs';
const LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

let tools: LambdaTools;
let work: string;
let s3server: S3TestServer;
let dynamo: DynamoTestServer;
let sqsServer: SqsTestServer;
let s3: S3Client;
let jobsQueueUrl: string;
let task: string;
let layerDir: string;
const layouts: Record<'container' | 'zip', { taskRoot: string; opt: string; handler: string; environment: () => Record<string, string> }> = {} as never;

/** The runtime layer as Lambda unpacks it under /opt: the archive the package ships (built by `npm run layer`). */
function unpackRuntimeLayer(into: string): void {
  const archive = path.join(RUNTIME_DIR, 'layer', 'linux-x64.zip');
  if (!existsSync(archive)) throw new Error(`${archive} is missing: run \`npm run layer\` in runtime/ (projen runtime:build does).`);
  execFileSync('unzip', ['-q', archive, '-d', into]);
}

/** The function's environment: what the construct sets, and the peers' endpoints and credentials. */
function awsEnvironment(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'fidelity-session',
    AWS_ENDPOINT_URL_S3: s3server.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    [RuntimeEnvironment.TASK]: task,
    [RuntimeEnvironment.MODEL_NAME]: 'demo',
    [RuntimeEnvironment.OUTPUT_BUCKET]: OUTPUT_BUCKET,
    [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/',
    [RuntimeEnvironment.JOBS_TABLE]: JOBS_TABLE,
    [RuntimeEnvironment.JOBS_BUCKET]: JOBS_BUCKET,
    [RuntimeEnvironment.JOBS_QUEUE_URL]: jobsQueueUrl,
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}

beforeAll(async () => {
  // Installed once per machine (about 70 s the first time: two Node binaries, and
  // aws-lambda-ric built from source), then found in the cache.
  tools = lambdaTools();
  [s3server, dynamo, sqsServer] = await Promise.all([startS3Server(), startDynamoServer(), startSqsServer()]);
  s3 = s3server.client();
  for (const bucket of [MODELS_BUCKET, INPUT_BUCKET, OUTPUT_BUCKET, JOBS_BUCKET]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const file of readdirSync(DEMO_MODEL_DIR)) {
    await s3.send(new PutObjectCommand({ Bucket: MODELS_BUCKET, Key: `demo/${file}`, Body: await readFile(path.join(DEMO_MODEL_DIR, file)) }));
  }
  const ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: S3_CREDENTIALS });
  await ddb.send(new CreateTableCommand({
    TableName: JOBS_TABLE, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  }));
  ddb.destroy();
  jobsQueueUrl = (await sqsServer.client().send(new CreateQueueCommand({ QueueName: 'jobs' }))).QueueUrl!;
  task = await readFile(path.join(DEMO_MODEL_DIR, 'task.json'), 'utf8');

  work = await mkdtemp(path.join(os.tmpdir(), 'lambda-fidelity-'));
  layerDir = path.join(work, 'runtime-layer');
  unpackRuntimeLayer(layerDir);

  // Container: /var/task holds dist/ and the packages the bundle imports at run time (the
  // image installs all production dependencies; these are the ones the bundle loads), and
  // the image bakes the model in at /opt/model.
  const containerTask = path.join(work, 'container-task');
  await cp(path.join(RUNTIME_DIR, 'dist'), path.join(containerTask, 'dist'), { recursive: true });
  await cp(path.join(RUNTIME_DIR, 'package.json'), path.join(containerTask, 'package.json'));
  await cp(path.join(layerDir, 'nodejs', 'node_modules'), path.join(containerTask, 'node_modules'), { recursive: true });
  const containerOpt = path.join(work, 'container-opt');
  await cp(DEMO_MODEL_DIR, path.join(containerOpt, 'model'), { recursive: true });
  layouts.container = {
    taskRoot: containerTask,
    opt: containerOpt,
    handler: 'dist/handler.handler',
    environment: () => ({ ...awsEnvironment(), [RuntimeEnvironment.MODEL_URI]: '/opt/model' }),
  };

  // Zip: the function's code is the one line Compute.zip() writes; the layer is the archive.
  const zipTask = path.join(work, 'zip-task');
  await mkdir(zipTask);
  await writeFile(path.join(zipTask, 'index.mjs'), "export { handler } from '/opt/nodejs/serverless-tf/handler.mjs';\n");
  layouts.zip = {
    taskRoot: zipTask,
    opt: layerDir,
    handler: 'index.handler',
    environment: () => ({ ...awsEnvironment(), [RuntimeEnvironment.MODEL_URI]: `s3://${MODELS_BUCKET}/demo/`, [RuntimeEnvironment.BACKEND]: 'wasm' }),
  };
}, 20 * 60_000);

afterAll(async () => {
  s3?.destroy();
  await Promise.all([s3server?.stop(), dynamo?.stop(), sqsServer?.stop()]);
});

function proxy(result: InvocationResult): { status: number; json: Record<string, unknown> } {
  expect(result.kind).toBe('response');
  const res = result.body as ProxyResponse;
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown> };
}

function top(predictions: LabelScore[]): string {
  expect(predictions.map((p) => p.label).sort()).toEqual(LABELS);
  return predictions[0].label;
}

async function objectText(bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return res.Body!.transformToString();
}

async function keysUnder(bucket: string, prefix: string): Promise<string[]> {
  const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

async function upload(key: string, body: Buffer): Promise<{ etag: string; size: number }> {
  const res = await s3.send(new PutObjectCommand({ Bucket: INPUT_BUCKET, Key: key, Body: body }));
  return { etag: res.ETag!, size: body.length };
}

describe.each([
  ['nodejs22.x', 'node22'],
  ['nodejs24.x', 'node24'],
] as const)('%s', (runtime, node) => {
  describe.each(['container', 'zip'] as const)('%s packaging', (layout) => {
    let api: RuntimeApiPeer;
    let fn: LambdaProcess;
    const run = `${node}-${layout}`;

    beforeAll(async () => {
      api = await startRuntimeApi();
      const l = layouts[layout];
      fn = startLambdaProcess({ node: tools[node], ric: tools.ric, runtime, taskRoot: l.taskRoot, opt: l.opt, handler: l.handler, runtimeApi: api.address, environment: l.environment() });
    }, 60_000);

    afterAll(async () => {
      await fn?.stop();
      await api?.stop();
    });

    async function invoke(event: unknown): Promise<InvocationResult> {
      try {
        // A process that has exited (an init failure) answers nothing: fail at once, with its output.
        return await Promise.race([
          api.invoke(event, { timeoutMs: 45_000 }),
          fn.exited.then((code) => { throw new Error(`the function process exited (${code}) before answering`); }),
        ]);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- function output ---\n${fn.output()}`);
      }
    }

    test('API Gateway REST (v1) POST /classify with a base64 JPEG: the rocket is a Drawing', async () => {
      const { status, json } = proxy(await invoke(apiGatewayV1Event({ path: '/classify', body: await sample('rocket.jpg'), contentType: 'image/jpeg', base64: true })));
      expect(status).toBe(200);
      expect(top(json.predictions as LabelScore[])).toBe('Drawing');
      // The process is the RIC on the Node binary asked for, in the layout asked for.
      const loaded = fn.jsonLines().find((l) => l.message === 'Model loaded and warmed');
      expect(loaded).toMatchObject({ backend: 'wasm', format: 'layers', modelDir: layout === 'container' ? '/opt/model' : expect.stringMatching(/^\/tmp\//) });
    }, 60_000);

    test('HTTP API (v2) POST /classify with a PNG: the cat is Neutral', async () => {
      const { status, json } = proxy(await invoke(apiGatewayV2Event({ path: '/classify', stage: 'prod', body: await sample('chelsea.png'), contentType: 'image/png', base64: true })));
      expect(status).toBe(200);
      expect(top(json.predictions as LabelScore[])).toBe('Neutral');
    });

    test('a warm-up ping is answered without the model', async () => {
      const result = await invoke({ warmup: true });
      expect(result).toMatchObject({ kind: 'response', body: { warm: true, coldStart: false, model: 'demo', backend: 'wasm' } });
    });

    test('an S3 event notification: the photo is classified into the output bucket', async () => {
      const key = `in/${run}/s3-event/coffee.jpg`;
      const { etag, size } = await upload(key, await sample('coffee.jpg'));
      const result = await invoke(s3Event(INPUT_BUCKET, key, etag, size));
      expect(result.kind).toBe('response');
      const { results } = result.body as { results: { input: string; rows: number; failedRows: number; output: string }[] };
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ input: `s3://${INPUT_BUCKET}/${key}`, rows: 1, failedRows: 0 });
      const [, outBucket, outKey] = /^s3:\/\/([^/]+)\/(.+)$/.exec(results[0].output)!;
      expect(outBucket).toBe(OUTPUT_BUCKET);
      expect(await objectText(outBucket, outKey)).toContain('"label":"Neutral"');
    });

    test('an SQS batch of S3 notifications, S3\'s s3:TestEvent and a record that is not JSON: only that record fails', async () => {
      const key = `in/${run}/sqs/astronaut.jpg`;
      const { etag, size } = await upload(key, await sample('astronaut.jpg'));
      const event = sqsEvent([
        JSON.stringify(s3Event(INPUT_BUCKET, key, etag, size)),
        JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2026-12-03T12:00:00.000Z', Bucket: INPUT_BUCKET, RequestId: 'R', HostId: 'H' }),
        'this is not JSON',
      ]);
      const result = await invoke(event);
      expect(result).toMatchObject({ kind: 'response', body: { batchItemFailures: [{ itemIdentifier: event.Records[2].messageId }] } });
      const outputs = await keysUnder(OUTPUT_BUCKET, `out/${key}/`);
      expect(outputs.filter((k) => k.endsWith('.json') && !k.includes('_SUCCESS'))).not.toHaveLength(0);
    });

    test('an asynchronous job: POST /jobs, its SQS message, then GET /jobs/{id} with the result in S3', async () => {
      const sent = sqsServer.sent('jobs').length;
      const created = proxy(await invoke(apiGatewayV1Event({ path: '/jobs', body: await sample('chelsea.png'), contentType: 'image/png', base64: true })));
      expect(created.status).toBe(202);
      const jobId = created.json.jobId as string;
      const messages = sqsServer.sent('jobs').slice(sent);
      expect(messages.map((m) => JSON.parse(m) as unknown)).toEqual([{ type: expect.any(String), jobId }]);

      const delivered = await invoke(sqsEvent(messages));
      expect(delivered).toMatchObject({ kind: 'response', body: { batchItemFailures: [] } });

      const done = proxy(await invoke(apiGatewayV1Event({ method: 'GET', path: `/jobs/${jobId}` })));
      expect(done.json).toMatchObject({ jobId, status: 'SUCCEEDED' });
      const result = JSON.parse(await objectText(JOBS_BUCKET, `jobs/results/${jobId}.json`)) as { predictions: LabelScore[] };
      expect(top(result.predictions)).toBe('Neutral');
    });

    test('a bad request is a 415 JSON answer, and the process is still serving', async () => {
      const { status, json } = proxy(await invoke(apiGatewayV1Event({ path: '/classify', body: 'not an image', contentType: 'text/plain' })));
      expect(status).toBe(415);
      expect(Object.keys(json)).toEqual(['error']);
      expect(fn.child.exitCode).toBeNull();
    });

    test('/var/task and /opt are read-only, and nothing the runtime wrote needed them', async () => {
      // The output of the whole run: no EROFS from the runtime, the RIC or Node.
      expect(fn.output()).not.toMatch(/EROFS|read-only file system/i);
      expect(fn.output()).not.toMatch(/is not a constructor/);
    });
  });

  test('an init failure reaches /runtime/init/error with a message that names the problem', async () => {
    const api = await startRuntimeApi();
    const fn = startLambdaProcess({
      node: tools[node], ric: tools.ric, runtime, taskRoot: layouts.zip.taskRoot, opt: layerDir, handler: 'index.handler', runtimeApi: api.address,
      environment: { ...awsEnvironment(), [RuntimeEnvironment.MODEL_URI]: `s3://${MODELS_BUCKET}/no-such-model/`, [RuntimeEnvironment.BACKEND]: 'wasm' },
    });
    try {
      const failed = await Promise.race([api.initError, fn.exited.then((code) => { throw new Error(`exited ${code} without an init error:\n${fn.output()}`); })]);
      expect(failed.body).toMatchObject({ errorMessage: expect.stringContaining('no-such-model') });
      expect(typeof failed.errorType).toBe('string');
      expect(api.firstAnswerAt()).toBeUndefined();
      expect(await fn.exited).not.toBe(0);
    } finally {
      await fn.stop();
      await api.stop();
    }
  }, 60_000);
});
