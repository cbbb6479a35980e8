// The optional DynamoDB sink of S3 batch inference, on loopback: uploads go through the real
// handler, which writes its outputs to s3rver and every predicted row (or classified image)
// to dynalite. A CSV planned into chunks travels through the SQS peer. Each good row is one
// item, keyed by the input object and the row's offset; a redelivered chunk overwrites, never
// duplicates; a row too large for a DynamoDB item is recorded by a small item that points to
// its output file. The runtime reaches dynalite through a proxy that can leave BatchWriteItem
// items unprocessed, as a throttled table does.
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, demoTask, irisData, sample, serviceFor, trainIrisModel } from './support/models';
import { s3Event } from './support/events';
import { S3_CREDENTIALS, startS3Server } from './support/s3-server';
import { useAwsEnvironment } from './support/aws-env';
import { startDynamoServer } from './support/dynamo-server';
import { startDynamoThrottleProxy } from './support/dynamo-throttle-proxy';
import { drainQueue, startSqsServer } from './support/sqs-server';
import { createHandler } from '../src/handler';
import { configFromEnv } from '../src/config';
import { OutputTableError } from '../src/errors';
import * as clients from '../src/aws-clients';
import { MAX_ITEM_BYTES, MAX_WRITE_ATTEMPTS, itemBytes, partitionKey, sortKey, writeRows } from '../src/batch/dynamo-sink';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { LambdaHandler } from '../src/handler';
import type { Manifest } from '../src/batch/layout';
import type { BatchResult } from '../src/batch/index';
import type { DynamoTestServer } from './support/dynamo-server';
import type { DynamoThrottleProxy } from './support/dynamo-throttle-proxy';
import type { S3TestServer } from './support/s3-server';
import type { SqsTestServer } from './support/sqs-server';

const BUCKET = 'uploads';
const PREFIX = 'results/';
const TABLE = 'predictions';
const TASK = { type: 'tabular' as const, features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] };

/** An item as the tests read it back: a row's item, or an oversize item. */
interface Item {
  pk: string;
  sk: string;
  chunk: number;
  line: number;
  offset: number;
  prediction?: string;
  text?: string;
  output?: string;
  oversize?: boolean;
  itemBytes?: number;
}

type Classification = { label: string; score: number }[];

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

  test('an item is sized as DynamoDB counts it: UTF-8 bytes of names and strings, at most 21 bytes a number, 1 a boolean', () => {
    // 'é' is one UTF-16 unit but two UTF-8 bytes; 'text' and 'naïve' are 4 + 6 bytes.
    expect(itemBytes({ pk: 'é', text: 'naïve' })).toBe(2 + 2 + 4 + 6);
    expect(itemBytes({ offset: 1234, oversize: true, prediction: undefined })).toBe(6 + 21 + 8 + 1);
  });
});

describe('S3 batch inference with an output table', () => {
  let restoreEnv: () => void;
  let s3server: S3TestServer;
  let dynamo: DynamoTestServer;
  let proxy: DynamoThrottleProxy;
  let sqsServer: SqsTestServer;
  let s3: S3Client;
  let sqs: SQSClient;
  let ddb: DynamoDBClient;
  let queueUrl: string;
  /** Iris, large objects planned into 4 KiB chunks sent through the queue. */
  let chunked: LambdaHandler;
  /** Iris, every object of these tests processed whole in the invocation that got its notification. */
  let whole: LambdaHandler;
  /** The demo MobileNetV2: images. */
  let images: LambdaHandler;

  beforeAll(async () => {
    let modelDir: string;
    [s3server, dynamo, sqsServer, modelDir] = await Promise.all([startS3Server(), startDynamoServer(), startSqsServer(), trainIrisModel()]);
    proxy = await startDynamoThrottleProxy(dynamo.endpoint);
    // The runtime's own DynamoDB and SQS clients read these, as they read Lambda's environment.
    // Its document client is made once per process (here, per test file), so every test goes
    // through the proxy, which forwards everything unless a test throttles it.
    restoreEnv = useAwsEnvironment({
      AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    });
    s3 = s3server.client();
    sqs = sqsServer.client();
    // The tests read the table straight from dynalite, past the proxy.
    ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: S3_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await ddb.send(new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'batch', Attributes: { VisibilityTimeout: '1' } }))).QueueUrl!;
    const common = { outputPrefix: PREFIX, outputTable: TABLE };
    // Chunks of 4 KiB (under the 64 KiB the environment allows), so a few hundred rows make several.
    const [chunkedService, wholeService, imageService] = await Promise.all([
      serviceFor(modelDir, TASK, { ...common, modelName: 'iris', batchRows: 32, batchChunkBytes: 4096, batchQueueUrl: queueUrl }),
      serviceFor(modelDir, TASK, { ...common, modelName: 'iris' }),
      serviceFor(DEMO_MODEL_DIR, await demoTask(), { ...common, modelName: 'demo' }),
    ]);
    chunked = createHandler(chunkedService, { s3 });
    whole = createHandler(wholeService, { s3 });
    images = createHandler(imageService, { s3 });
  }, 60_000);

  afterEach(() => proxy.reset());

  afterAll(async () => {
    ddb?.destroy();
    (await clients.documentClient()).destroy();
    await Promise.all([s3server?.stop(), proxy?.stop(), sqsServer?.stop()]);
    await dynamo?.stop();
    restoreEnv?.();
  });

  const drain = () => drainQueue(sqs, (event: SQSEvent) => chunked(event), { queueUrl, batchSize: 10, visibilityTimeout: 1, timeoutMs: 15_000 });

  async function text(key: string): Promise<string> {
    return (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
  }

  /** The object at an s3:// URI in the test bucket. */
  async function textAt(uri: string): Promise<string> {
    expect(uri.startsWith(`s3://${BUCKET}/`)).toBe(true);
    return text(uri.slice(`s3://${BUCKET}/`.length));
  }

  /** Uploads `body` and returns the notification S3 would send, and the object's partition key. */
  async function upload(key: string, body: Buffer | string): Promise<{ event: ReturnType<typeof s3Event>; pk: string; etag: string }> {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const etag = head.ETag!.replace(/"/g, '');
    return { event: s3Event(BUCKET, key, head.ETag!, head.ContentLength!), pk: `${BUCKET}/${key}#${etag}`, etag };
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

  describe('CSV', () => {
    test('every predicted row is one item keyed by its offset, failed rows none; a redelivered chunk leaves the items as they were', async () => {
      // GIVEN a 400-row CSV with malformed rows, uploaded and announced through the queue
      const { body, good, bad } = generateCsv(400);
      const key = 'in/flowers.csv';
      const { event, pk, etag } = await upload(key, body);
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }));

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
      const items = await itemsOf(pk);
      expect(items).toHaveLength(outputRows);
      expect(items.map((i) => i.sk)).toEqual(good.map((g) => String(g.offset).padStart(13, '0')));
      expect(items.map((i) => i.text)).toEqual(good.map((g) => g.text));
      const chunkOf = (offset: number) => manifest.chunks.find((c) => offset >= c.start && offset < c.end)!.index;
      for (const item of items) {
        expect(item.offset).toBe(Number(item.sk));
        expect(item.chunk).toBe(chunkOf(item.offset));
        const prediction = JSON.parse(item.prediction!) as Classification;
        expect(IRIS_LABELS).toContain(prediction[0].label);
        expect(item.oversize).toBeUndefined();
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

    test('a row whose item would be over 400 KB is an oversize item pointing to the output file that holds it; the other rows are items as usual', async () => {
      // GIVEN a CSV with a notes column, where one row's notes are 450 KiB
      const iris = irisData();
      const notes = 'x'.repeat(450 * 1024);
      const lines = ['id,sepal_length,sepal_width,petal_length,petal_width,notes'];
      for (let id = 0; id < 6; id++) lines.push(`${id},${iris.rows[id * 25].join(',')},${id === 3 ? notes : `row ${id}`}`);
      const csv = lines.join('\n') + '\n';
      const offsetOf = (i: number) => Buffer.byteLength(lines.slice(0, i).join('\n')) + (i > 0 ? 1 : 0);
      const { event, pk } = await upload('in/notes.csv', csv);

      // WHEN the upload is processed
      const { results: [result] } = await whole(event) as { results: BatchResult[] };

      // THEN every row is predicted and none failed
      expect(result).toMatchObject({ rows: 6, failedRows: 0 });
      expect(await textAt(result.errors!)).toBe('');
      const output = parse(await textAt(result.output!), { columns: true }) as Record<string, string>[];
      expect(output.map((r) => r.id)).toEqual(['0', '1', '2', '3', '4', '5']);
      expect(output[3].notes).toBe(notes);
      expect(IRIS_LABELS).toContain(output[3].prediction);

      // AND the long row's item holds its keys and where to read it, not the row or its prediction
      const items = await itemsOf(pk);
      expect(items.map((i) => i.offset)).toEqual([1, 2, 3, 4, 5, 6].map(offsetOf));
      expect(items[3]).toEqual({
        pk, sk: sortKey(offsetOf(4)), chunk: 0, line: 5, offset: offsetOf(4), output: result.output, oversize: true, itemBytes: expect.any(Number),
      });
      expect(items[3].itemBytes).toBeGreaterThan(MAX_ITEM_BYTES);
      expect(items[3].itemBytes).toBeLessThan(notes.length + 1024);

      // AND the other rows are whole items whose predictions match the output file
      for (const i of [0, 1, 2, 4, 5]) {
        expect(items[i]).toMatchObject({ pk, chunk: 0, line: i + 2, text: lines[i + 1] });
        expect(items[i].oversize).toBeUndefined();
        expect((JSON.parse(items[i].prediction!) as Classification)[0].label).toBe(output[i].prediction);
      }
    });
  });

  describe('images', () => {
    test('a classified image is one item at offset 0 with the classification its output file holds; a file that is not an image has no item, only an error row', async () => {
      // GIVEN a photograph and a text file named like an image
      const photo = await upload('photos/cat.png', await sample('chelsea.png'));
      const notImage = await upload('photos/notes.png', 'shopping list: milk, eggs');

      // WHEN both uploads are processed
      const { results: [classified] } = await images(photo.event) as { results: BatchResult[] };
      const { results: [failed] } = await images(notImage.event) as { results: BatchResult[] };

      // THEN the photograph is one item with the classification of its output file
      expect(classified).toMatchObject({ rows: 1, failedRows: 0 });
      const answer = JSON.parse(await textAt(classified.output!)) as { predictions: Classification };
      expect(answer.predictions[0].label).toBe('Neutral');
      const items = await itemsOf(photo.pk);
      expect(items).toEqual([{ pk: photo.pk, sk: '0000000000000', chunk: 0, line: 1, offset: 0, prediction: JSON.stringify(answer.predictions) }]);

      // AND the text file is an error row and no item
      expect(failed).toMatchObject({ rows: 1, failedRows: 1 });
      const errorRows = (await textAt(failed.errors!)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { offset: number; error: string });
      expect(errorRows).toEqual([expect.objectContaining({ offset: 0, error: expect.stringMatching(/not a supported image/) })]);
      expect(await itemsOf(notImage.pk)).toEqual([]);
    });

    test(`an image item still unprocessed after ${MAX_WRITE_ATTEMPTS} calls fails the invocation with a 503, and the retry writes it`, async () => {
      // GIVEN a table that leaves every item unprocessed
      const photo = await upload('photos/rocket.jpg', await sample('rocket.jpg'));
      proxy.throttle({ accept: 0 });

      // WHEN the upload is processed
      const error = await images(photo.event).then(() => undefined, (err: unknown) => err);

      // THEN the invocation fails with a 5xx, so Lambda retries it, and the object is not marked done
      expect(error).toBeInstanceOf(OutputTableError);
      expect(error).toMatchObject({ statusCode: 503, message: expect.stringMatching(/^1 rows of uploads\/photos\/rocket\.jpg#\w+ were not written to the DynamoDB table predictions after 8 attempts/) });
      expect(proxy.batchWrites.map((c) => c.items)).toEqual(Array(MAX_WRITE_ATTEMPTS).fill(1));
      expect(await itemsOf(photo.pk)).toEqual([]);
      await expect(text(`${PREFIX}photos/rocket.jpg/${photo.etag}/_SUCCESS.json`)).rejects.toMatchObject({ name: 'NoSuchKey' });

      // WHEN the table recovers and the invocation is retried
      proxy.reset();
      const { results: [retried] } = await images(photo.event) as { results: BatchResult[] };

      // THEN the image's item is written
      expect(retried).toMatchObject({ rows: 1, failedRows: 0 });
      const items = await itemsOf(photo.pk);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ sk: sortKey(0), chunk: 0, line: 1, offset: 0 });
      expect((JSON.parse(items[0].prediction!) as Classification).length).toBeGreaterThan(0);
    }, 15_000);
  });

  describe('unprocessed items (a throttled table)', () => {
    test('25 items a call; unprocessed items are sent again until written', async () => {
      // GIVEN 50 rows, and a table that writes only 10 items of each of the next 4 calls
      const object = { bucket: 'b', key: 'in/k.csv', etag: 'e' };
      const rows = Array.from({ length: 50 }, (_, i) => ({ chunk: 0, line: i + 2, offset: 100 + i, prediction: [{ label: 'setosa', score: i / 50 }], text: `row ${i}` }));
      proxy.throttle({ accept: 10, calls: 4 });

      // WHEN they are written
      await writeRows({ table: TABLE, object, output: 's3://b/results/in/k.csv/e/chunk-00000.csv' }, rows);

      // THEN two calls of 25 each left 15 unprocessed, which were sent again (10 written, 5 left), and sent again
      const calls = proxy.batchWrites;
      expect(calls.map((c) => c.items).sort((a, b) => b - a)).toEqual([25, 25, 15, 15, 5, 5]);
      expect(calls.map((c) => c.unprocessed).sort((a, b) => b - a)).toEqual([15, 15, 5, 5, 0, 0]);

      // AND every row is in the table, once, as it was given
      const items = await itemsOf('b/in/k.csv#e');
      expect(items.map((i) => i.sk)).toEqual(rows.map((r) => sortKey(r.offset)));
      expect(items.map((i) => [i.line, i.text, JSON.parse(i.prediction!)])).toEqual(rows.map((r) => [r.line, r.text, r.prediction]));
    });

    test(`still unprocessed after ${MAX_WRITE_ATTEMPTS} calls: the chunk fails with a 503 OutputTableError, and its retry writes the rows`, async () => {
      // GIVEN a three-row CSV, and a table that leaves every item unprocessed
      const { body, good } = generateCsv(3);
      const { event, pk } = await upload('in/throttled.csv', body);
      proxy.throttle({ accept: 0 });

      // WHEN the upload is processed
      const error = await whole(event).then(() => undefined, (err: unknown) => err);

      // THEN the chunk fails with a 503 after MAX_WRITE_ATTEMPTS calls of the same three items, and nothing is written
      expect(error).toBeInstanceOf(OutputTableError);
      expect(error).toMatchObject({ statusCode: 503, message: expect.stringMatching(/^3 rows of uploads\/in\/throttled\.csv#\w+ were not written to the DynamoDB table predictions after 8 attempts/) });
      expect(proxy.batchWrites).toEqual(Array(MAX_WRITE_ATTEMPTS).fill({ items: 3, unprocessed: 3 }));
      expect(await itemsOf(pk)).toEqual([]);

      // WHEN the table recovers and the chunk is retried
      proxy.reset();
      await whole(event);

      // THEN its rows are written
      expect((await itemsOf(pk)).map((i) => [i.sk, i.text])).toEqual(good.map((g) => [sortKey(g.offset), g.text]));
    }, 15_000);
  });
});
