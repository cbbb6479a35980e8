// Asynchronous jobs end to end, on loopback against real protocol peers: s3rver (S3,
// presigned URLs included), dynalite (DynamoDB), the SQS peer, and a small recorder that
// answers SNS Publish (query protocol) and EventBridge PutEvents (JSON 1.1). The runtime
// finds them through the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables; the handler is
// driven by real API Gateway, SQS and S3 event payloads.
import { createServer } from 'node:http';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import * as tf from '@tensorflow/tfjs';
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, demoTask, irisData, sample, serviceFor, trainIrisModel } from './support/models';
import { apiGatewayV1Event, s3Event, sqsEvent } from './support/events';
import { S3_CREDENTIALS, startS3Server } from './support/s3-server';
import { useAwsEnvironment } from './support/aws-env';
import { startDynamoServer } from './support/dynamo-server';
import { drainQueue, startSqsServer } from './support/sqs-server';
import { createHandler } from '../src/handler';
import { configFromEnv } from '../src/config';
import { ConfigurationError } from '../src/errors';
import { RuntimeEnvironment } from '../../lib/runtime-environment';
import { JOB_MESSAGE_TYPE } from '../src/jobs/job';
import { UPLOAD_GRACE_SECONDS } from '../src/jobs/limits';
import type { LambdaHandler } from '../src/handler';
import type { JobsConfig } from '../src/config';
import type { InferenceService } from '../src/service';
import type { S3TestServer } from './support/s3-server';
import type { DynamoTestServer } from './support/dynamo-server';
import type { PollStats, SqsTestServer } from './support/sqs-server';
import type { AddressInfo } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';

interface ProxyResult { statusCode: number; headers: Record<string, string>; body: string }
interface Answer { statusCode: number; headers: Record<string, string>; json: Record<string, unknown> }
interface Recorded { readonly service: 'sns' | 'events'; readonly body: string; readonly target?: string }
interface LabelScore { label: string; score: number }

const BUCKET = 'jobs-bucket';
const TABLE = 'jobs';
const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:job-done';
const EVENT_BUS = 'inference-jobs';

let restoreEnv: () => void;
let s3server: S3TestServer;
let dynamo: DynamoTestServer;
let sqsServer: SqsTestServer;
let recorder: { endpoint: string; requests: Recorded[]; failNext(count: number): void; stop(): Promise<void> };
let s3: S3Client;
let sqs: ReturnType<SqsTestServer['client']>;
let ddb: DynamoDBClient;
let queueUrl: string;
let images: InferenceService;
let iris: InferenceService;
let irisDir: string;
let jobs: JobsConfig;
let imageHandler: LambdaHandler;
let irisHandler: LambdaHandler;

/** A loopback stand-in for SNS and EventBridge that records what the runtime sends and answers as they do. */
async function startRecorder(): Promise<typeof recorder> {
  const requests: Recorded[] = [];
  let failures = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const target = req.headers['x-amz-target'] as string | undefined;
      if (failures > 0) {
        failures--;
        res.writeHead(503, { 'Content-Type': 'text/xml' });
        res.end('<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Try again</Message></Error><RequestId>x</RequestId></ErrorResponse>');
        return;
      }
      if (target === 'AWSEvents.PutEvents') {
        requests.push({ service: 'events', body, target });
        res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: `event-${requests.length}` }] }));
        return;
      }
      requests.push({ service: 'sns', body });
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>message-${requests.length}</MessageId></PublishResult><ResponseMetadata><RequestId>request-${requests.length}</RequestId></ResponseMetadata></PublishResponse>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    failNext: (count) => {
      failures = count;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

beforeAll(async () => {
  [s3server, dynamo, sqsServer, recorder] = await Promise.all([startS3Server(), startDynamoServer(), startSqsServer(), startRecorder()]);
  restoreEnv = useAwsEnvironment({
    AWS_ENDPOINT_URL_S3: s3server.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    AWS_ENDPOINT_URL_SNS: recorder.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: recorder.endpoint,
  });
  s3 = s3server.client();
  sqs = sqsServer.client();
  ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: S3_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await ddb.send(new CreateTableCommand({
    TableName: TABLE, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  }));
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'jobs' }))).QueueUrl!;
  jobs = { table: TABLE, bucket: BUCKET, queueUrl, ttlDays: 7, uploadExpirySeconds: 900 };
  // A body limit under the photos' sizes, so the tests can send one past it.
  images = await serviceFor(DEMO_MODEL_DIR, await demoTask(), { modelName: 'demo', maxBodyBytes: 250_000, jobs: { ...jobs, topicArn: TOPIC_ARN, eventBus: EVENT_BUS } });
  irisDir = await trainIrisModel();
  iris = await serviceFor(irisDir, { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] }, { modelName: 'iris', jobs });
  imageHandler = createHandler(images);
  irisHandler = createHandler(iris);
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  await Promise.all([s3server?.stop(), dynamo?.stop(), sqsServer?.stop(), recorder?.stop()]);
  restoreEnv?.();
});

async function call(handler: LambdaHandler, input: Parameters<typeof apiGatewayV1Event>[0]): Promise<Answer> {
  const r = await handler(apiGatewayV1Event(input)) as ProxyResult;
  return { statusCode: r.statusCode, headers: r.headers, json: JSON.parse(r.body) as Record<string, unknown> };
}

const getJob = (handler: LambdaHandler, jobId: string) => call(handler, { method: 'GET', path: `/jobs/${jobId}` });

/** Runs the queue through the function as Lambda's event source mapping does, until it is empty. */
function drain(handler: LambdaHandler): Promise<PollStats> {
  return drainQueue(sqs, handler, { queueUrl, timeoutMs: 15_000 });
}

/** What the runtime sent to the queue since `from` messages. */
function sentSince(from: number): string[] {
  return sqsServer.sent('jobs').slice(from);
}

/** Delivers message bodies to the function as one SQS event; returns the ids of the failed records. */
async function deliver(handler: LambdaHandler, bodies: readonly string[]): Promise<string[]> {
  const event = sqsEvent(bodies);
  const answer = await handler(event) as { batchItemFailures: { itemIdentifier: string }[] };
  return answer.batchItemFailures.map((f) => f.itemIdentifier);
}

function recordedFor(jobId: string): { sns: URLSearchParams[]; events: Record<string, unknown>[] } {
  const mine = recorder.requests.filter((r) => r.body.includes(jobId));
  return {
    sns: mine.filter((r) => r.service === 'sns').map((r) => new URLSearchParams(r.body)),
    events: mine.filter((r) => r.service === 'events').map((r) => JSON.parse(r.body) as Record<string, unknown>),
  };
}

async function jobItemCount(): Promise<number> {
  const { Items = [] } = await ddb.send(new ScanCommand({ TableName: TABLE }));
  return Items.filter((i) => i.pk.S!.startsWith('job#')).length;
}

describe('POST /jobs, the queue and GET /jobs/{id}', () => {
  test('a classify job end to end: the cat photo is Neutral, with SNS and EventBridge notifications', async () => {
    const before = tf.memory().numTensors;
    const sent = sqsServer.sent('jobs').length;
    const photo = await sample('chelsea.png');
    const created = await call(imageHandler, { path: '/jobs', body: photo, contentType: 'image/png', base64: true });
    expect(created.statusCode).toBe(202);
    const jobId = created.json.jobId as string;
    expect(created.json).toEqual({ jobId, status: 'QUEUED', statusUrl: `/jobs/${jobId}` });
    expect(created.headers.Location).toBe(`/jobs/${jobId}`);
    expect((await getJob(imageHandler, jobId)).json).toMatchObject({ jobId, status: 'QUEUED', route: 'classify', model: 'demo' });

    expect(sentSince(sent).map((m) => JSON.parse(m) as unknown)).toEqual([{ type: JOB_MESSAGE_TYPE, jobId }]);
    expect(await drain(imageHandler)).toMatchObject({ received: 1, failures: 0 });

    const done = await getJob(imageHandler, jobId);
    expect(done.statusCode).toBe(200);
    expect(done.json).toMatchObject({ jobId, status: 'SUCCEEDED', attempts: 1 });
    const predictions = (done.json.result as { predictions: LabelScore[] }).predictions;
    expect(predictions[0].label).toBe('Neutral');
    expect(predictions[0].score).toBeGreaterThan(0.9);
    const download = await fetch(done.json.resultUrl as string);
    expect(download.status).toBe(200);
    expect(await download.json()).toEqual(done.json.result);

    const { sns, events } = recordedFor(jobId);
    expect(sns).toHaveLength(1);
    expect(sns[0].get('Action')).toBe('Publish');
    expect(sns[0].get('TopicArn')).toBe(TOPIC_ARN);
    expect(sns[0].get('MessageAttributes.entry.1.Name')).toBe('status');
    expect(sns[0].get('MessageAttributes.entry.1.Value.StringValue')).toBe('SUCCEEDED');
    expect(JSON.parse(sns[0].get('Message')!)).toMatchObject({ jobId, status: 'SUCCEEDED', model: 'demo', route: 'classify', result: `s3://${BUCKET}/jobs/results/${jobId}.json` });
    expect(events).toHaveLength(1);
    const [entry] = events[0].Entries as Record<string, string>[];
    expect(entry).toMatchObject({ EventBusName: EVENT_BUS, Source: 'serverless-tf', DetailType: 'Inference Job Completed' });
    expect(JSON.parse(entry.Detail)).toMatchObject({ jobId, status: 'SUCCEEDED' });
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a predict job on the tabular model answers what the synchronous route answers', async () => {
    const rows = irisData().rows.slice(48, 53);
    const body = JSON.stringify({ instances: rows });
    const sync = await call(irisHandler, { path: '/v1/models/iris:predict', body, contentType: 'application/json' });
    const created = await call(irisHandler, { path: '/jobs/v1/models/iris:predict', body, contentType: 'application/json' });
    expect(created.statusCode).toBe(202);
    expect((await drain(irisHandler)).failures).toBe(0);
    const done = await getJob(irisHandler, created.json.jobId as string);
    expect(done.json).toMatchObject({ status: 'SUCCEEDED', route: 'predict', model: 'iris' });
    expect(done.json.result).toEqual(sync.json);
    // POST /jobs on a model without images means :predict; CSV works as it does synchronously.
    const csv = await call(irisHandler, { path: '/jobs', body: `${IRIS_FEATURES.join(',')}\n6.3,3.3,6.0,2.5\n`, contentType: 'text/csv' });
    expect((await drain(irisHandler)).failures).toBe(0);
    const csvDone = await getJob(irisHandler, csv.json.jobId as string);
    expect(csvDone.json).toMatchObject({ status: 'SUCCEEDED', route: 'predict' });
    expect((csvDone.json.result as { predictions: LabelScore[][] }).predictions[0][0].label).toBe('virginica');
    // A KServe V2 body to POST /jobs runs /infer, as direct invocation tells it.
    const meta = await call(irisHandler, { method: 'GET', path: '/v2/models/iris' });
    const v2 = JSON.stringify({ inputs: [{ name: (meta.json.inputs as { name: string }[])[0].name, shape: [1, 4], datatype: 'FP32', data: rows[0] }] });
    const syncV2 = await call(irisHandler, { path: '/v2/models/iris/infer', body: v2, contentType: 'application/json' });
    expect(syncV2.statusCode).toBe(200);
    const infer = await call(irisHandler, { path: '/jobs', body: v2, contentType: 'application/json' });
    expect((await drain(irisHandler)).failures).toBe(0);
    const inferDone = await getJob(irisHandler, infer.json.jobId as string);
    expect(inferDone.json).toMatchObject({ status: 'SUCCEEDED', route: 'infer', result: syncV2.json });
  });

  test('an Idempotency-Key returns the same job, for retries one after another and for concurrent requests', async () => {
    const body = JSON.stringify({ instances: [irisData().rows[0]] });
    const post = (key: string, b = body) => call(irisHandler, { path: '/jobs', body: b, contentType: 'application/json', headers: { 'Idempotency-Key': key } });
    const itemsBefore = await jobItemCount();
    const sent = sqsServer.sent('jobs').length;

    const first = await post('order-42');
    const again = await post('order-42');
    expect(again.statusCode).toBe(202);
    expect(again.json.jobId).toBe(first.json.jobId);
    expect(again.headers['Idempotent-Replayed']).toBe('true');

    const concurrent = await Promise.all(Array.from({ length: 6 }, () => post('order-43')));
    expect(new Set(concurrent.map((a) => a.json.jobId)).size).toBe(1);
    expect(concurrent.every((a) => a.statusCode === 202)).toBe(true);
    expect(concurrent.filter((a) => a.headers['Idempotent-Replayed'] === 'true')).toHaveLength(5);

    expect(sentSince(sent).map((m) => (JSON.parse(m) as { jobId: string }).jobId).sort()).toEqual([first.json.jobId, concurrent[0].json.jobId].sort());
    expect(await jobItemCount()).toBe(itemsBefore + 2);

    const reused = await post('order-42', JSON.stringify({ instances: [irisData().rows[1]] }));
    expect(reused.statusCode).toBe(422);
    expect(reused.json.error).toMatch(/Idempotency-Key "order-42" was already used for a different request/);
    expect(await drain(irisHandler)).toMatchObject({ received: 2, failures: 0 });
    expect((await post('order-42')).json).toMatchObject({ jobId: first.json.jobId, status: 'SUCCEEDED' });
  });
});

describe('jobs are bound to the caller an authorizer verified (issue 14 item 10)', () => {
  const COGNITO = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example';
  const alice = { claims: { sub: 'a1b2c3d4-alice', iss: COGNITO, 'cognito:username': 'alice' } };
  const bob = { claims: { sub: 'e5f6a7b8-bob', iss: COGNITO, 'cognito:username': 'bob' } };

  /** A REST API event whose authorizer (Cognito, Lambda) or IAM identity verified a caller. */
  async function callAs(who: { authorizer?: Record<string, unknown>; userArn?: string }, input: Parameters<typeof apiGatewayV1Event>[0]): Promise<Answer> {
    const event = apiGatewayV1Event(input);
    const requestContext = {
      ...event.requestContext,
      authorizer: who.authorizer ?? null,
      identity: { ...event.requestContext.identity, userArn: who.userArn ?? null },
    };
    const r = await irisHandler({ ...event, requestContext }) as ProxyResult;
    return { statusCode: r.statusCode, headers: r.headers, json: JSON.parse(r.body) as Record<string, unknown> };
  }
  const body = () => JSON.stringify({ instances: [irisData().rows[0]] });
  const submit = (who: Parameters<typeof callAs>[0], headers: Record<string, string> = {}) => callAs(who, { path: '/jobs', body: body(), contentType: 'application/json', headers });
  const read = (who: Parameters<typeof callAs>[0], jobId: string) => callAs(who, { method: 'GET', path: `/jobs/${jobId}` });

  test("another caller's job answers the 404 of a job that does not exist; its owner reads it, before and after it ran", async () => {
    const created = await submit({ authorizer: alice });
    expect(created.statusCode).toBe(202);
    const jobId = created.json.jobId as string;
    expect((await read({ authorizer: alice }, jobId)).json).toMatchObject({ jobId, status: 'QUEUED' });

    const byBob = await read({ authorizer: bob }, jobId);
    const missing = await read({ authorizer: bob }, '00000000-0000-4000-8000-000000000000');
    expect(byBob.statusCode).toBe(404);
    expect(byBob.json.error).toBe(missing.json.error!.toString().replace('00000000-0000-4000-8000-000000000000', jobId));
    // Without the authorizer (a route left open), the job is not readable either.
    expect((await read({}, jobId)).statusCode).toBe(404);
    // The same sub from another issuer is another caller.
    expect((await read({ authorizer: { claims: { ...alice.claims, iss: 'https://other.example' } } }, jobId)).statusCode).toBe(404);

    expect(await drain(irisHandler)).toMatchObject({ received: 1, failures: 0 });
    const done = await read({ authorizer: alice }, jobId);
    expect(done.json).toMatchObject({ jobId, status: 'SUCCEEDED' });
    expect(done.json.resultUrl).toEqual(expect.any(String));
    expect((await read({ authorizer: bob }, jobId)).json).not.toHaveProperty('resultUrl');
  });

  test('IAM principals and Lambda authorizer principals own their jobs as well; the table holds no identity in the clear', async () => {
    const role = 'arn:aws:sts::123456789012:assumed-role/Inference/alice-session';
    const byIam = (await submit({ userArn: role })).json.jobId as string;
    const byLambda = (await submit({ authorizer: { principalId: 'user|42' } })).json.jobId as string;
    expect((await read({ userArn: role }, byIam)).statusCode).toBe(200);
    expect((await read({ userArn: 'arn:aws:sts::123456789012:assumed-role/Inference/mallory' }, byIam)).statusCode).toBe(404);
    expect((await read({ authorizer: { principalId: 'user|42' } }, byLambda)).statusCode).toBe(200);
    expect((await read({ authorizer: { principalId: 'user|43' } }, byLambda)).statusCode).toBe(404);
    const { Items = [] } = await ddb.send(new ScanCommand({ TableName: TABLE }));
    const text = JSON.stringify(Items);
    expect(text).not.toContain('alice-session');
    expect(text).not.toContain('user|42');
    expect(Items.find((i) => i.jobId?.S === byIam)?.owner?.S).toMatch(/^[0-9a-f]{64}$/);
    expect(await drain(irisHandler)).toMatchObject({ received: 2, failures: 0 });
  });

  test("an Idempotency-Key is the caller's own: the same key from two callers makes two jobs", async () => {
    const a = await submit({ authorizer: alice }, { 'Idempotency-Key': 'shared-key-1' });
    const b = await submit({ authorizer: bob }, { 'Idempotency-Key': 'shared-key-1' });
    const again = await submit({ authorizer: alice }, { 'Idempotency-Key': 'shared-key-1' });
    expect([a.statusCode, b.statusCode, again.statusCode]).toEqual([202, 202, 202]);
    expect(b.json.jobId).not.toBe(a.json.jobId);
    expect(b.headers['Idempotent-Replayed']).toBeUndefined();
    expect(again.json.jobId).toBe(a.json.jobId);
    expect(again.headers['Idempotent-Replayed']).toBe('true');
    expect(await drain(irisHandler)).toMatchObject({ received: 2, failures: 0 });
  });

  test('jobs submitted without an authorizer stay readable by whoever has the id, as before', async () => {
    const open = (await submit({})).json.jobId as string;
    expect((await read({}, open)).statusCode).toBe(200);
    expect((await read({ authorizer: bob }, open)).statusCode).toBe(200);
    expect(await drain(irisHandler)).toMatchObject({ received: 1, failures: 0 });
  });
});

describe('uploads for inputs over the synchronous limit', () => {
  test('a presigned PUT to S3, then the upload notification (through SQS) runs the job', async () => {
    const photo = await sample('retina.jpg');
    expect(photo.length).toBeGreaterThan(images.config.maxBodyBytes);
    const created = await call(imageHandler, { path: '/jobs/classify', body: JSON.stringify({ upload: { contentType: 'image/jpeg' } }), contentType: 'application/json' });
    expect(created.statusCode).toBe(201);
    const jobId = created.json.jobId as string;
    expect(created.json).toMatchObject({ status: 'AWAITING_UPLOAD', uploadMethod: 'PUT', uploadHeaders: { 'Content-Type': 'image/jpeg' }, statusUrl: `/jobs/${jobId}` });
    const uploadUrl = created.json.uploadUrl as string;
    expect(uploadUrl).toContain(`/${BUCKET}/jobs/uploads/${jobId}?`);
    // S3 refuses a PUT with another Content-Type, because it is signed (s3rver does not
    // check V4 signatures, so the URL itself is checked). A signed checksum would make S3
    // refuse every upload whose body is not the empty one it was computed over.
    expect(new URL(uploadUrl).searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    expect(uploadUrl).not.toMatch(/checksum/i);
    expect(Date.parse(created.json.uploadExpiresAt as string)).toBeGreaterThan(Date.now());

    const put = await fetch(uploadUrl, { method: 'PUT', body: new Uint8Array(photo), headers: { 'Content-Type': 'image/jpeg' } });
    expect(put.status).toBe(200);
    expect((await getJob(imageHandler, jobId)).json.status).toBe('AWAITING_UPLOAD');

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `jobs/uploads/${jobId}` }));
    const notification = JSON.stringify(s3Event(BUCKET, `jobs/uploads/${jobId}`, head.ETag!, photo.length));
    // S3 -> SQS -> the function, as the bucket notification delivers it.
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: notification }));
    expect(await drain(imageHandler)).toMatchObject({ received: 1, failures: 0 });
    const done = await getJob(imageHandler, jobId);
    expect(done.json).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    const [expected] = await images.classify([photo]);
    expect((done.json.result as { predictions: LabelScore[] }).predictions.map((p) => p.label)).toEqual((expected as LabelScore[]).map((p) => p.label));

    // S3 may notify twice, and a client may PUT again: a started job is not run again.
    expect(await deliver(imageHandler, [notification])).toEqual([]);
    expect((await getJob(imageHandler, jobId)).json).toMatchObject({ status: 'SUCCEEDED', attempts: 1, finishedAt: done.json.finishedAt });
  });

  test('an input that arrives after the upload URL expired fails the job with 410 and says why', async () => {
    const created = await call(imageHandler, { path: '/jobs', body: JSON.stringify({ upload: { contentType: 'image/jpeg' } }), contentType: 'application/json' });
    const jobId = created.json.jobId as string;
    const key = `jobs/uploads/${jobId}`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await sample('coffee.jpg'), ContentType: 'image/jpeg' }));
    const event = s3Event(BUCKET, key, '"late"');
    const late = new Date(Date.parse(created.json.uploadExpiresAt as string) + (UPLOAD_GRACE_SECONDS + 60) * 1000);
    event.Records[0].eventTime = late.toISOString();
    expect(await deliver(imageHandler, [JSON.stringify(event)])).toEqual([]);
    const failed = await getJob(imageHandler, jobId);
    expect(failed.json).toMatchObject({ status: 'FAILED', statusCode: 410 });
    expect(failed.json.error).toMatch(/after the upload URL expired at .*Create a new job/);
    const [entry] = recordedFor(jobId).events[0].Entries as Record<string, string>[];
    expect(entry.DetailType).toBe('Inference Job Failed');
  });

  test('S3 refuses a PUT to an upload URL that has expired', async () => {
    const shortLived = createHandler(await serviceFor(irisDir, iris.config.task, { modelName: 'iris', jobs: { ...jobs, uploadExpirySeconds: 1 } }));
    const created = await call(shortLived, { path: '/jobs', body: JSON.stringify({ upload: { contentType: 'text/csv' } }), contentType: 'application/json' });
    expect(created.json).toMatchObject({ status: 'AWAITING_UPLOAD' });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const put = await fetch(created.json.uploadUrl as string, { method: 'PUT', body: '5.1,3.5,1.4,0.2', headers: { 'Content-Type': 'text/csv' } });
    expect(put.status).toBe(403);
    expect(await put.text()).toMatch(/Request has expired/);
  });

  test('a job whose upload never arrived reads as FAILED (410) once its URL has expired', async () => {
    const created = await call(imageHandler, { path: '/jobs', body: JSON.stringify({ upload: { contentType: 'image/png' } }), contentType: 'application/json' });
    const jobId = created.json.jobId as string;
    expect((await getJob(imageHandler, jobId)).json).toMatchObject({ status: 'AWAITING_UPLOAD', uploadExpiresAt: created.json.uploadExpiresAt });
    // Time passes: the item is moved past its upload expiry in the table itself.
    const past = Math.floor(Date.now() / 1000) - UPLOAD_GRACE_SECONDS - 60;
    await ddb.send(new UpdateItemCommand({
      TableName: TABLE, Key: { pk: { S: `job#${jobId}` } }, UpdateExpression: 'SET uploadExpiresAt = :t', ExpressionAttributeValues: { ':t': { N: String(past) } },
    }));
    const expired = await getJob(imageHandler, jobId);
    expect(expired.statusCode).toBe(200);
    expect(expired.json).toMatchObject({ status: 'FAILED', statusCode: 410 });
    expect(expired.json.error).toMatch(/^No input arrived before the upload URL expired at .*Create a new job/);
  });
});

describe('clear client errors', () => {
  test('unknown job ids are 404', async () => {
    for (const id of ['3b241101-e2bb-4255-8caf-4136c566a962', 'not-a-job-id']) {
      const res = await getJob(imageHandler, id);
      expect(res.statusCode).toBe(404);
      expect(res.json.error).toMatch(/^No job ".*": it does not exist, or it expired/);
    }
  });

  test('a body over the synchronous limit without an upload is 413; malformed upload requests and keys are 400', async () => {
    const big = await call(imageHandler, { path: '/jobs', body: await sample('retina.jpg'), contentType: 'image/jpeg', base64: true });
    expect(big.statusCode).toBe(413);
    expect(big.json.error).toMatch(/limit is 250000 bytes/);
    const badUpload = await call(imageHandler, { path: '/jobs', body: JSON.stringify({ upload: { contentType: 'jpeg' } }), contentType: 'application/json' });
    expect(badUpload.statusCode).toBe(400);
    expect(badUpload.json.error).toMatch(/\{"upload": \{"contentType"/);
    const badKey = await call(imageHandler, { path: '/jobs', body: 'x', contentType: 'image/jpeg', headers: { 'Idempotency-Key': 'x'.repeat(129) } });
    expect(badKey.statusCode).toBe(400);
    const empty = await call(imageHandler, { path: '/jobs', contentType: 'image/jpeg' });
    expect(empty.statusCode).toBe(400);
    expect((await call(imageHandler, { path: '/jobs/v1/models/other:predict', body: '{}', contentType: 'application/json' })).statusCode).toBe(404);
    expect((await call(irisHandler, { path: '/jobs/classify', body: 'x', contentType: 'image/jpeg' })).statusCode).toBe(404);
    const withoutJobs = createHandler(await serviceFor(irisDir, iris.config.task, { modelName: 'iris' }));
    const disabled = await call(withoutJobs, { path: '/jobs', body: '{"instances":[[1,2,3,4]]}', contentType: 'application/json' });
    expect(disabled.statusCode).toBe(404);
    expect(disabled.json.error).toMatch(/Asynchronous jobs are not enabled on this function/);
    expect(sqsServer.depth('jobs')).toBe(0);
  });

  test('a client error in the job body fails the job (415) once, without a retry', async () => {
    const created = await call(imageHandler, { path: '/jobs/classify', body: 'hello', contentType: 'text/plain' });
    expect(created.statusCode).toBe(202);
    const jobId = created.json.jobId as string;
    expect(await drain(imageHandler)).toMatchObject({ received: 1, failures: 0 });
    const failed = await getJob(imageHandler, jobId);
    expect(failed.json).toMatchObject({ status: 'FAILED', statusCode: 415, attempts: 1 });
    expect(failed.json.error).toMatch(/Content-Type text\/plain is not accepted by \/classify/);
    expect(recordedFor(jobId).sns[0].get('MessageAttributes.entry.1.Value.StringValue')).toBe('FAILED');
  });

  test('a redelivered message of a finished job does not run it again', async () => {
    const before = tf.memory().numTensors;
    const sent = sqsServer.sent('jobs').length;
    const created = await call(imageHandler, { path: '/jobs', body: await sample('coffee.jpg'), contentType: 'image/jpeg', base64: true });
    const messages = sentSince(sent);
    expect(await drain(imageHandler)).toMatchObject({ received: 1, failures: 0 });
    const done = await getJob(imageHandler, created.json.jobId as string);
    const notified = recorder.requests.length;
    expect(await deliver(imageHandler, [...messages, ...messages])).toEqual([]);
    const after = await getJob(imageHandler, created.json.jobId as string);
    expect(after.json).toMatchObject({ status: 'SUCCEEDED', attempts: 1, updatedAt: done.json.updatedAt, finishedAt: done.json.finishedAt });
    expect(recorder.requests.length).toBe(notified);
    // A message for a job that expired (or never was) is dropped, not retried into the dead-letter queue.
    expect(await deliver(imageHandler, [JSON.stringify({ type: JOB_MESSAGE_TYPE, jobId: '3b241101-e2bb-4255-8caf-4136c566a962' })])).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a failed notification fails the message; the redelivery notifies without running the job again', async () => {
    const created = await call(imageHandler, { path: '/jobs', body: await sample('coffee.jpg'), contentType: 'image/jpeg', base64: true });
    const jobId = created.json.jobId as string;
    recorder.failNext(10);
    const first = await drainQueue(sqs, imageHandler, { queueUrl, timeoutMs: 300, visibilityTimeout: 1 }).catch((err: Error) => err);
    expect(first).toBeInstanceOf(Error);
    expect((await getJob(imageHandler, jobId)).json).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(recordedFor(jobId).events).toHaveLength(0);
    recorder.failNext(0);
    const retried = await drainQueue(sqs, imageHandler, { queueUrl, timeoutMs: 5000, visibilityTimeout: 1 });
    expect(retried.failures).toBe(0);
    expect([...retried.deliveries.values()]).toEqual([2]);
    expect(recordedFor(jobId).sns).toHaveLength(1);
    expect(recordedFor(jobId).events).toHaveLength(1);
    expect((await getJob(imageHandler, jobId)).json).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });
});

describe('configuration', () => {
  const base = { [RuntimeEnvironment.MODEL_URI]: '/opt/model' };
  const jobsEnv = {
    [RuntimeEnvironment.JOBS_TABLE]: 'jobs', [RuntimeEnvironment.JOBS_BUCKET]: 'bucket',
    [RuntimeEnvironment.JOBS_QUEUE_URL]: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs',
  };

  test('jobs are on when the table, the bucket and the queue are set; notifications and TTL are optional', () => {
    expect(configFromEnv(base).jobs).toBeUndefined();
    expect(configFromEnv({ ...base, ...jobsEnv }).jobs).toEqual({
      table: 'jobs', bucket: 'bucket', queueUrl: jobsEnv[RuntimeEnvironment.JOBS_QUEUE_URL], topicArn: undefined, eventBus: undefined, ttlDays: 7, uploadExpirySeconds: 900,
    });
    expect(configFromEnv({
      ...base, ...jobsEnv, [RuntimeEnvironment.JOBS_TOPIC_ARN]: TOPIC_ARN, [RuntimeEnvironment.JOBS_EVENT_BUS]: EVENT_BUS, [RuntimeEnvironment.JOBS_TTL_DAYS]: '30',
      SERVERLESS_TF_JOBS_UPLOAD_EXPIRY_SECONDS: '3600',
    }).jobs).toMatchObject({ topicArn: TOPIC_ARN, eventBus: EVENT_BUS, ttlDays: 30, uploadExpirySeconds: 3600 });
  });

  test.each([
    ['only the table', { [RuntimeEnvironment.JOBS_TABLE]: 'jobs' }, /need SERVERLESS_TF_JOBS_TABLE, SERVERLESS_TF_JOBS_BUCKET, SERVERLESS_TF_JOBS_QUEUE_URL together; SERVERLESS_TF_JOBS_BUCKET and SERVERLESS_TF_JOBS_QUEUE_URL are not set/],
    ['a TTL of 0 days', { ...jobsEnv, [RuntimeEnvironment.JOBS_TTL_DAYS]: '0' }, /SERVERLESS_TF_JOBS_TTL_DAYS must be a positive whole number; got "0"/],
    ['an upload expiry over 12 hours', { ...jobsEnv, SERVERLESS_TF_JOBS_UPLOAD_EXPIRY_SECONDS: '86400' }, /SERVERLESS_TF_JOBS_UPLOAD_EXPIRY_SECONDS must be at most 43200/],
  ])('%s fails init with a message that says what to change', (_name, env, message) => {
    expect(() => configFromEnv({ ...base, ...env })).toThrow(ConfigurationError);
    expect(() => configFromEnv({ ...base, ...env })).toThrow(message);
  });
});
