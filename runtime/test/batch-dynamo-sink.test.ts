// The optional DynamoDB sink of S3 batch inference, on loopback: a CSV planned into
// chunks travels through the SQS peer to the real handler, which writes its predictions
// to s3rver and every predicted row to dynalite. Each good row is one item, keyed by the
// input object and the row's offset; a redelivered chunk overwrites, never duplicates.
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import { IRIS_FEATURES, IRIS_LABELS, irisData, serviceFor, trainIrisModel } from './support/models';
import { s3Event } from './support/events';
import { S3_CREDENTIALS, startS3Server } from './support/s3-server';
import { startDynamoServer } from './support/dynamo-server';
import { drainQueue, startSqsServer } from './support/sqs-server';
import { createHandler } from '../src/handler';
import { configFromEnv } from '../src/config';
import * as clients from '../src/jobs/clients';
import { MAX_WRITE_ATTEMPTS, OutputTableError, partitionKey, sortKey, writeRows } from '../src/batch/dynamo-sink';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { LambdaHandler } from '../src/handler';
import type { Manifest } from '../src/batch/layout';
import type { DynamoTestServer } from './support/dynamo-server';
import type { S3TestServer } from './support/s3-server';
import type { SqsTestServer } from './support/sqs-server';

const BUCKET = 'uploads';
const PREFIX = 'results/';
const TABLE = 'predictions';
const TASK = { type: 'tabular' as const, features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] };
const ENV_KEYS = ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS'] as const;

interface Item {
  pk: string; sk: string; chunk: number; line: number; offset: number; prediction: string; text?: string;
}

/** `rows` Iris rows; every 29th misses a feature and every 31st has a non-number, so they fail. */
function generateCsv(rows: number): { body: Buffer; good: { offset: number; text: string }[]; bad: number[] } {
  const iris = irisData();
  let text = 'id,sepal_length,sepal_width,petal_length,petal_width\n';
  const good: { offset: number; text: string }[] = [];
  const bad: number[] = [];
  for (let id = 0; id < rows; id++) {
    const f = iris.rows[id % iris.rows.length];
    const line = id % 29 === 5 ? `${id},${f.slice(0, 3).join(',')}` : id % 31 === 7 ? `${id},${f[0]},n/a,${f[2]},${f[3]}` : `${id},${f.join(',')}`;
    const offset = Buffer.byteLength(text);
    if (line.split(',').length === 5 && !line.includes('n/a')) good.push({ offset, text: line });
    else bad.push(offset);
    text += `${line}\n`;
  }
  return { body: Buffer.from(text), good, bad };
}

describe('configuration', () => {
  test('SERVERLESS_TF_OUTPUT_TABLE names the table; unset, there is none', () => {
    const base = { SERVERLESS_TF_MODEL_URI: '/opt/model' };
    expect(configFromEnv({ ...base, SERVERLESS_TF_OUTPUT_TABLE: 'rows' }).outputTable).toBe('rows');
    expect(configFromEnv(base).outputTable).toBeUndefined();
  });

  test('keys: the object with its ETag, and the offset zero-padded so rows sort in input order', () => {
    expect(partitionKey({ bucket: 'b', key: 'in/a.csv', etag: 'abc' })).toBe('b/in/a.csv#abc');
    expect(sortKey(1234)).toBe('0000000001234');
    expect([sortKey(99), sortKey(100)].sort()).toEqual([sortKey(99), sortKey(100)]);
  });
});

describe('a chunked CSV with an output table', () => {
  let savedEnv: Record<string, string | undefined>;
  let s3server: S3TestServer;
  let dynamo: DynamoTestServer;
  let sqsServer: SqsTestServer;
  let s3: S3Client;
  let sqs: SQSClient;
  let ddb: DynamoDBClient;
  let queueUrl: string;
  let handler: LambdaHandler;

  beforeAll(async () => {
    savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    let modelDir: string;
    [s3server, dynamo, sqsServer, modelDir] = await Promise.all([startS3Server(), startDynamoServer(), startSqsServer(), trainIrisModel()]);
    for (const k of ENV_KEYS) delete process.env[k];
    // The runtime's own DynamoDB and SQS clients read these, as they read Lambda's environment.
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    });
    s3 = s3server.client();
    sqs = sqsServer.client();
    ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: S3_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await ddb.send(new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'batch', Attributes: { VisibilityTimeout: '1' } }))).QueueUrl!;
    // Chunks of 4 KiB (under the 64 KiB the environment allows), so a few hundred rows make several.
    const service = await serviceFor(modelDir, TASK, { modelName: 'iris', outputPrefix: PREFIX, batchRows: 32, batchChunkBytes: 4096, batchQueueUrl: queueUrl, outputTable: TABLE });
    handler = createHandler(service, { s3: s3server.client() });
  }, 60_000);

  afterAll(async () => {
    ddb?.destroy();
    (await clients.documentClient()).destroy();
    await Promise.all([s3server?.stop(), dynamo?.stop(), sqsServer?.stop()]);
    for (const k of ENV_KEYS) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  });

  const drain = () => drainQueue(sqs, (event: SQSEvent) => handler(event), { queueUrl, batchSize: 10, visibilityTimeout: 1, timeoutMs: 15_000 });

  async function text(key: string): Promise<string> {
    return (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
  }

  /** Every item of one partition, in sort key order (all pages). */
  async function itemsOf(pk: string): Promise<Item[]> {
    const items: Item[] = [];
    const documents = DynamoDBDocumentClient.from(ddb);
    let start: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []) as Item[]);
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  test('every predicted row is one item keyed by its offset, failed rows none; a redelivered chunk leaves the items as they were', async () => {
    // GIVEN a 400-row CSV with malformed rows, uploaded and announced through the queue
    const { body, good, bad } = generateCsv(400);
    const key = 'in/flowers.csv';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const etag = head.ETag!.replace(/"/g, '');
    const notification = JSON.stringify(s3Event(BUCKET, key, head.ETag!, head.ContentLength!));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: notification }));

    // WHEN the queue drains
    await drain();

    // THEN the plan has several chunks, and the outputs hold exactly the good rows
    const base = `${PREFIX}${key}/${etag}`;
    const manifest = JSON.parse(await text(`${base}/manifest.json`)) as Manifest;
    expect(manifest.chunks.length).toBeGreaterThanOrEqual(2);
    let outputRows = 0;
    for (const c of manifest.chunks) outputRows += (parse(await text(`${base}/chunk-${String(c.index).padStart(5, '0')}.csv`), { columns: true }) as unknown[]).length;
    expect(outputRows).toBe(good.length);

    // AND the table holds one item per output row, at its offset, with the row and its prediction
    const pk = `${BUCKET}/${key}#${etag}`;
    const items = await itemsOf(pk);
    expect(items).toHaveLength(outputRows);
    expect(items.map((i) => i.sk)).toEqual(good.map((g) => String(g.offset).padStart(13, '0')));
    expect(items.map((i) => i.text)).toEqual(good.map((g) => g.text));
    const chunkOf = (offset: number) => manifest.chunks.find((c) => offset >= c.start && offset < c.end)!.index;
    for (const item of items) {
      expect(item.offset).toBe(Number(item.sk));
      expect(item.chunk).toBe(chunkOf(item.offset));
      const prediction = JSON.parse(item.prediction) as { label: string; score: number }[];
      expect(IRIS_LABELS).toContain(prediction[0].label);
    }
    expect(new Set(items.map((i) => i.chunk)).size).toBe(manifest.chunks.length);
    const offsets = new Set(items.map((i) => i.offset));
    expect(bad.length).toBeGreaterThan(20);
    expect(bad.filter((o) => offsets.has(o))).toEqual([]);

    // WHEN chunk 0's message is delivered again
    const chunkBody = sqsServer.sent('batch').find((b) => {
      const message = JSON.parse(b) as { type?: string; index?: number };
      return message.type === 'serverless-tf.batch-chunk' && message.index === 0;
    })!;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: chunkBody }));
    const stats = await drain();

    // THEN it ran again and overwrote its items: the table is unchanged
    expect(stats.received).toBe(1);
    expect(stats.failures).toBe(0);
    expect(await itemsOf(pk)).toEqual(items);
  }, 30_000);
});

describe('writeRows retries what DynamoDB leaves unprocessed', () => {
  const rows = Array.from({ length: 30 }, (_, i) => ({ chunk: 0, line: i + 2, offset: 100 + i, prediction: [{ label: 'setosa', score: 1 }] }));
  const object = { bucket: 'b', key: 'k.csv', etag: 'e' };

  /** A document client whose BatchWriteItem leaves the first item of each call unprocessed while `refuse` says so. */
  function fakeClient(refuse: (call: number) => boolean) {
    const calls: number[] = [];
    const send = jest.fn(async (command: { input: { RequestItems: Record<string, unknown[]> } }) => {
      const items = command.input.RequestItems.t;
      calls.push(items.length);
      return { UnprocessedItems: refuse(calls.length) ? { t: items.slice(0, 1) } : {} };
    });
    jest.spyOn(clients, 'documentClient').mockResolvedValue({ send } as unknown as Awaited<ReturnType<typeof clients.documentClient>>);
    return calls;
  }

  afterEach(() => jest.restoreAllMocks());

  test('25 items a call; unprocessed items are sent again until written', async () => {
    let refused = 0;
    const calls = fakeClient(() => refused++ < 2);
    await writeRows('t', object, rows);
    expect([...calls].sort((a, b) => b - a)).toEqual([25, 5, 1, 1]);
  });

  test(`still unprocessed after ${MAX_WRITE_ATTEMPTS} calls: the chunk fails with a 503, to be retried`, async () => {
    const calls = fakeClient(() => true);
    const written = writeRows('t', object, rows.slice(0, 3));
    await expect(written).rejects.toThrow(OutputTableError);
    await expect(written).rejects.toMatchObject({ statusCode: 503, message: expect.stringMatching(/1 rows of b\/k\.csv#e were not written to the DynamoDB table t after 8 attempts/) });
    expect(calls).toEqual([3, ...Array(MAX_WRITE_ATTEMPTS - 1).fill(1)]);
  }, 15_000);
});
