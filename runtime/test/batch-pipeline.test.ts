// S3 batch inference end to end, on loopback: the real handler driven by real S3 and SQS
// event payloads, against a real S3-compatible server (s3rver) and an SQS protocol peer,
// with a small event source mapping in between. Large inputs are planned into chunks that
// travel as their own messages; a chunk that fails (a real 500 from S3) is redelivered,
// and every row ends in an output or an errors file exactly once.
import http from 'node:http';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { IRIS_FEATURES, IRIS_LABELS, irisData, serviceFor, trainIrisModel } from './support/models';
import { s3Event } from './support/events';
import { startS3Server } from './support/s3-server';
import { useAwsEnvironment } from './support/aws-env';
import { drainQueue, startSqsServer } from './support/sqs-server';
import { createHandler } from '../src/handler';
import { configFromEnv } from '../src/config';
import { readPlainFeatures, splitCsvLine } from '../src/batch/csv-line';
import { ownedLines } from '../src/batch/lines';
import { chunkRanges } from '../src/batch/plan';
import type { AddressInfo } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { LambdaHandler } from '../src/handler';
import type { BatchSuccess, ChunkDone, Manifest } from '../src/batch/layout';
import type { S3TestServer } from './support/s3-server';
import type { SqsTestServer } from './support/sqs-server';

const BUCKET = 'uploads';
const PREFIX = 'results/';
const TASK = { type: 'tabular' as const, features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] };

describe('chunk boundaries: every line is owned by exactly one chunk', () => {
  /** Lines as split by the test itself: text (without \r\n) and the offset where each starts. */
  function expectedLines(bytes: Buffer): { text: string; offset: number }[] {
    const out: { text: string; offset: number }[] = [];
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(10, start);
      const stop = nl < 0 ? bytes.length : nl;
      out.push({ text: bytes.toString('utf8', start, stop).replace(/\r$/, ''), offset: start });
      start = stop + 1;
    }
    return out;
  }

  /** The object's bytes from `from` on, in pieces of the given sizes (as a network read gives them). */
  function pieces(bytes: Buffer, from: number, sizes: number[]): AsyncIterable<Buffer> {
    const parts: Buffer[] = [];
    let i = from;
    for (let k = 0; i < bytes.length; k++) {
      const n = sizes[k % sizes.length];
      parts.push(bytes.subarray(i, i + n));
      i += n;
    }
    return Readable.from(parts);
  }

  test('for any text, chunk size and read sizes (property)', async () => {
    const line = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('', 'é,ü', '"a,b",c'));
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(line, fc.boolean()), { maxLength: 30 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 5 }),
      async (lines, finalNewline, chunkBytes, sizes) => {
        let text = lines.map(([t, crlf]) => t.replace(/[\r\n]/g, '') + (crlf ? '\r\n' : '\n')).join('');
        if (!finalNewline) text = text.replace(/\r?\n$/, '');
        const bytes = Buffer.from(text, 'utf8');
        const owned: { text: string; offset: number }[] = [];
        for (const r of chunkRanges(bytes.length, chunkBytes)) {
          for await (const batch of ownedLines(pieces(bytes, Math.max(0, r.start - 1), sizes), r.start, r.end)) {
            for (const l of batch) {
              expect(l.offset).toBeGreaterThanOrEqual(r.start);
              expect(l.offset).toBeLessThan(r.end);
              owned.push({ text: l.text, offset: l.offset });
            }
          }
        }
        expect(owned).toEqual(expectedLines(bytes));
      },
    ), { numRuns: 300 });
  });

  test('chunk ranges are contiguous, cover the object and are at most the chunk size', () => {
    const ranges = chunkRanges(1_000_003, 65_536);
    expect(ranges).toHaveLength(16);
    expect(ranges[0].start).toBe(0);
    expect(ranges[15].end).toBe(1_000_003);
    ranges.slice(1).forEach((r, i) => expect(r.start).toBe(ranges[i].end));
    expect(Math.max(...ranges.map((r) => r.end - r.start))).toBeLessThanOrEqual(65_536);
  });
});

describe('batch settings from the environment', () => {
  const base = { SERVERLESS_TF_MODEL_URI: '/opt/model' };

  test('defaults: no queue, 8 MiB chunks, 1024 rows per tensor call', () => {
    expect(configFromEnv(base)).toMatchObject({ batchQueueUrl: undefined, batchChunkBytes: 8 * 1024 * 1024, batchRows: 1024 });
  });

  test('reads the queue, the chunk size and the rows per call', () => {
    const queue = 'https://sqs.us-east-1.amazonaws.com/123456789012/batch';
    expect(configFromEnv({ ...base, SERVERLESS_TF_BATCH_QUEUE_URL: queue, SERVERLESS_TF_BATCH_CHUNK_BYTES: '1048576', SERVERLESS_TF_BATCH_ROWS: '100' }))
      .toMatchObject({ batchQueueUrl: queue, batchChunkBytes: 1_048_576, batchRows: 100 });
  });

  test.each([
    ['SERVERLESS_TF_BATCH_CHUNK_BYTES', '1000', /SERVERLESS_TF_BATCH_CHUNK_BYTES must be a whole number from 65536 up; got "1000"/],
    ['SERVERLESS_TF_BATCH_CHUNK_BYTES', '8MB', /SERVERLESS_TF_BATCH_CHUNK_BYTES must be a whole number/],
    ['SERVERLESS_TF_BATCH_ROWS', '0', /SERVERLESS_TF_BATCH_ROWS must be a whole number from 1 to 1024; got "0"/],
    ['SERVERLESS_TF_BATCH_ROWS', '4096', /SERVERLESS_TF_BATCH_ROWS must be a whole number from 1 to 1024; got "4096"/],
  ])('%s=%s is refused', (name, value, message) => {
    expect(() => configFromEnv({ ...base, [name]: value })).toThrow(message);
  });
});

describe('CSV lines', () => {
  test.each([
    ['5.1,3.5,1.4,0.2', ['5.1', '3.5', '1.4', '0.2']],
    ['1,"a, b",2', ['1', 'a, b', '2']],
    ['1, "say ""hi""" ,2', ['1', 'say "hi"', '2']],
    ['"",x,', ['', 'x', '']],
  ])('%s', (line, fields) => {
    expect(splitCsvLine(line)).toEqual(fields);
  });

  test.each([
    ['5.1,"3.5,1.4,0.2', /field 2 opens a quote that does not close/],
    ['5.1,3"5,1.4,0.2', /field 2 has a quote inside an unquoted value/],
    ['"5.1"x,3.5', /field 1 has characters after its closing quote/],
  ])('%s is malformed', (line, reason) => {
    expect(() => splitCsvLine(line)).toThrow(reason);
  });
});

describe('reading plain numeric features without splitting the line', () => {
  const PLAIN = /^-?(\d+\.?\d*|\.\d+)$/;
  const plainDigits = (f: string) => f.replace(/[^0-9]/g, '').length;
  // Plain decimals of up to 17 digits (the fast path takes 15), other number forms, blanks, text, quotes.
  const field = fc.oneof(
    fc.tuple(fc.boolean(), fc.stringMatching(/^\d{1,9}$/), fc.option(fc.stringMatching(/^\d{0,8}$/), { nil: undefined }))
      .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac === undefined ? '' : `.${frac}`}`),
    fc.double({ noNaN: true }).map(String),
    fc.constantFrom('', ' 1.5', '1.5 ', '1e3', '+2', '.5', '-.25', '5.', '0x10', 'Infinity', '-0', '1.2.3', '-', '.', 'n/a', '1_000', '"3"', '"a,b"'),
  );

  test('the values Number() gives (as float32), or -1 for the general path (property)', () => {
    fc.assert(fc.property(fc.array(field, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(9), { minLength: 1, maxLength: 4 }), (fields, picks) => {
      const line = fields.join(',');
      const columns = splitCsvLine(line).length;
      const featureAt = [...new Set(picks.map((p) => p % (columns + 1)))]; // one past the last column: absent
      const featureOf = new Int32Array(columns).fill(-1);
      featureAt.forEach((c, j) => { if (c < columns) featureOf[c] = j; });
      const out = new Float32Array(3 + featureAt.length).fill(7);
      const count = readPlainFeatures(line, featureOf, featureAt.length, out, 3);
      const parsed = splitCsvLine(line);
      const fast = !line.includes('"') && featureAt.every((c) => c < parsed.length && PLAIN.test(parsed[c]) && plainDigits(parsed[c]) <= 15);
      expect(count).toBe(fast ? parsed.length : -1);
      if (fast) featureAt.forEach((c, j) => expect(Object.is(out[3 + j], Math.fround(Number(parsed[c])))).toBe(true));
      expect(Array.from(out.subarray(0, 3))).toEqual([7, 7, 7]);
    }), { numRuns: 2000 });
  });

  test.each([
    ['5.1,3.5,1.4,0.2', [0, 1, 2, 3], 4, [5.1, 3.5, 1.4, 0.2]],
    ['id-7,-0.25,.5,5.,x y z', [1, 2, 3], 5, [-0.25, 0.5, 5]],
    ['123456789012345,0', [0], 2, [123456789012345]],
  ])('%s', (line, columns, count, values) => {
    const featureOf = new Int32Array(count).fill(-1);
    columns.forEach((c, j) => { featureOf[c] = j; });
    const out = new Float32Array(columns.length);
    expect(readPlainFeatures(line, featureOf, columns.length, out, 0)).toBe(count);
    expect(Array.from(out)).toEqual(values.map(Math.fround));
  });

  test.each([
    ['1234567890123456,0', 'sixteen digits'],
    ['1e3,0', 'an exponent'],
    [' 1,0', 'a space'],
    [',0', 'an empty feature'],
    ['"1",0', 'a quote'],
  ])('%s takes the general path (%s)', (line) => {
    expect(readPlainFeatures(line, Int32Array.from([0, -1]), 1, new Float32Array(1), 0)).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------
// End to end: s3rver behind a fault-injecting proxy, the SQS peer, the real handler.

interface FaultProxy {
  readonly endpoint: string;
  /** Range headers of the GETs answered with a 500. */
  readonly failed: string[];
  stop(): Promise<void>;
}

/** Forwards to s3rver; answers 500 InternalError to the requests `fail` picks. */
async function startFaultProxy(targetPort: number, fail: (req: http.IncomingMessage) => boolean): Promise<FaultProxy> {
  const failed: string[] = [];
  const server = http.createServer((req, res) => {
    if (fail(req)) {
      failed.push(String(req.headers.range));
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>FAULT</RequestId></Error>');
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failed,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MALFORMED = [
  { kind: 'missing field', make: (id: number, f: string[]) => `${id},${f.slice(0, 3).join(',')}`, reason: /missing feature petal_width/ },
  { kind: 'non-numeric', make: (id: number, f: string[], tag: string) => `${id},${f[0]},n/a,${f[2]},${f[3]},${tag}`, reason: /'sepal_width' must be a finite number; got "n\/a"/ },
  { kind: 'unclosed quote', make: (id: number, f: string[], tag: string) => `${id},${f[0]},"${f[1]},${f[2]},${f[3]},${tag}`, reason: /opens a quote that does not close|characters after its closing quote/ },
  { kind: 'stray quote', make: (id: number, f: string[], tag: string) => `${id},${f[0]},${f[1]}"",${f[2]},${f[3]},${tag}`, reason: /quote inside an unquoted value/ },
  { kind: 'extra field', make: (id: number, f: string[], tag: string) => `${id},${f.join(',')},${tag},surplus`, reason: /has 7 fields; the header has 6/ },
] as const;

interface GeneratedCsv {
  readonly body: Buffer;
  readonly rows: {
    readonly id: number; readonly offset: number; readonly text: string; readonly label: string;
    /** The field values a CSV reader gets back (quotes removed). */
    readonly fields: string[];
    readonly malformed?: (typeof MALFORMED)[number];
  }[];
}

/** `rows` rows sampled from the Iris data with small noise; about 3 in 1000 malformed; some CRLF, some blank lines, some quoted fields. */
function generateCsv(rows: number, seed: number): GeneratedCsv {
  const rand = prng(seed);
  const iris = irisData();
  const lines: string[] = ['id,sepal_length,sepal_width,petal_length,petal_width,tag\n'];
  let offset = Buffer.byteLength(lines[0]);
  const out: GeneratedCsv['rows'][number][] = [];
  for (let id = 0; id < rows; id++) {
    const k = Math.floor(rand() * iris.rows.length);
    const f = iris.rows[k].map((v) => (v + (rand() - 0.5) * 0.1).toFixed(2));
    const quoted = rand() < 0.1;
    const tag = quoted ? `"lot ${id % 97}, ""B"""` : `lot${id % 97}`;
    const malformed = rand() < 0.003 ? MALFORMED[id % MALFORMED.length] : undefined;
    const text = malformed ? malformed.make(id, f, tag) : `${id},${f.join(',')},${tag}`;
    const line = `${text}${rand() < 0.05 ? '\r\n' : '\n'}`;
    out.push({ id, offset, text, label: iris.labels[k], fields: [String(id), ...f, quoted ? `lot ${id % 97}, "B"` : tag], ...(malformed ? { malformed } : {}) });
    lines.push(line);
    offset += Buffer.byteLength(line);
    if (id % 20_000 === 19_999) {
      lines.push('\n');
      offset += 1;
    }
  }
  return { body: Buffer.from(lines.join('')), rows: out };
}

describe('a large CSV through S3 notifications, SQS chunk messages and the handler', () => {
  let s3server: S3TestServer;
  let sqsServer: SqsTestServer;
  let proxy: FaultProxy;
  let s3: S3Client;
  let sqs: SQSClient;
  let queueUrl: string;
  let modelDir: string;
  let faultOn: { key: string; from: number } | undefined;
  let restoreEnv: () => void;

  beforeAll(async () => {
    [s3server, sqsServer, modelDir] = await Promise.all([startS3Server(), startSqsServer(), trainIrisModel()]);
    // The runtime's own SQS client reads these, as it reads Lambda's environment.
    restoreEnv = useAwsEnvironment({ AWS_ENDPOINT_URL_SQS: sqsServer.endpoint });
    // One ranged GET, the first that starts past `from` in `key`, fails with a 500.
    proxy = await startFaultProxy(s3server.port, (req) => {
      const range = /^bytes=(\d+)-/.exec(String(req.headers.range ?? ''));
      if (!faultOn || req.method !== 'GET' || !range || !req.url?.startsWith(`/${BUCKET}/${faultOn.key}?`) || Number(range[1]) < faultOn.from) return false;
      faultOn = undefined;
      return true;
    });
    s3 = s3server.client();
    sqs = sqsServer.client();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'batch', Attributes: { VisibilityTimeout: '1' } }))).QueueUrl!;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([s3server?.stop(), sqsServer?.stop(), proxy?.stop()]);
    restoreEnv?.();
  });

  /** The handler as Lambda runs it: the runtime's S3 client goes through the proxy and does not retry. */
  async function handlerFor(overrides: { batchQueueUrl?: string; batchChunkBytes: number }): Promise<LambdaHandler> {
    const service = await serviceFor(modelDir, TASK, { modelName: 'iris', outputPrefix: PREFIX, batchRows: 256, ...overrides });
    return createHandler(service, { s3: s3server.client({ endpoint: proxy.endpoint, maxAttempts: 1 }) });
  }

  async function put(key: string, body: Buffer): Promise<{ etag: string; size: number }> {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return { etag: head.ETag!, size: head.ContentLength! };
  }

  async function text(key: string): Promise<string> {
    return (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
  }

  async function json<T>(key: string): Promise<T> {
    return JSON.parse(await text(key)) as T;
  }

  async function keysUnder(prefix: string): Promise<string[]> {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, MaxKeys: 1000 }));
    return (res.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function notify(key: string, etag: string, size: number): Promise<void> {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(s3Event(BUCKET, key, etag, size)) }));
  }

  const drain = (handler: LambdaHandler) => drainQueue(sqs, (event: SQSEvent) => handler(event), { queueUrl, batchSize: 10, visibilityTimeout: 1, timeoutMs: 45_000 });

  /** Every chunk's output and error rows, by input row id. */
  async function collect(base: string, manifest: Manifest, data: GeneratedCsv) {
    const byOffset = new Map(data.rows.map((r) => [r.offset, r]));
    const seen = new Map<number, number>();
    const predictions: Record<string, string>[] = [];
    const errors: { row: GeneratedCsv['rows'][number]; error: string; chunk: number }[] = [];
    for (const c of manifest.chunks) {
      const name = `chunk-${String(c.index).padStart(5, '0')}`;
      const records = parse(await text(`${base}/${name}.csv`), { columns: true }) as Record<string, string>[];
      for (const r of records) {
        seen.set(Number(r.id), (seen.get(Number(r.id)) ?? 0) + 1);
        predictions.push(r);
      }
      const errorLines = (await text(`${base}/${name}.errors.jsonl`)).split('\n').filter(Boolean);
      for (const l of errorLines) {
        const e = JSON.parse(l) as { chunk: number; offset: number; line: number; error: string; text: string; input: string };
        const row = byOffset.get(e.offset)!;
        expect({ text: e.text, input: e.input, chunk: e.chunk, inRange: e.offset >= c.start && e.offset < c.end })
          .toEqual({ text: row?.text, input: `s3://${BUCKET}/${manifest.key}`, chunk: c.index, inRange: true });
        seen.set(row.id, (seen.get(row.id) ?? 0) + 1);
        errors.push({ row, error: e.error, chunk: e.chunk });
      }
    }
    return { seen, predictions, errors };
  }

  test('100,000 rows with malformed ones, chunked, one chunk failing once: every row once in the outputs or the errors', async () => {
    // GIVEN a 100,000-row CSV (about 3 MB) and chunks of 256 KiB
    const data = generateCsv(100_000, 20261124);
    const key = 'in/flowers-100k.csv';
    const { etag, size } = await put(key, data.body);
    const handler = await handlerFor({ batchQueueUrl: queueUrl, batchChunkBytes: 256 * 1024 });
    faultOn = { key, from: Math.floor(size / 2) };
    const started = Date.now();

    // WHEN S3 notifies through the queue and the queue drains
    await notify(key, etag, size);
    const stats = await drain(handler);
    const seconds = (Date.now() - started) / 1000;

    // THEN the plan, and one chunk that failed on its first attempt and then succeeded
    const base = `${PREFIX}${key}/${etag.replace(/"/g, '')}`;
    const manifest = await json<Manifest>(`${base}/manifest.json`);
    expect(manifest).toMatchObject({ format: 'csv', size, etag: etag.replace(/"/g, ''), header: { text: 'id,sepal_length,sepal_width,petal_length,petal_width,tag', offset: 0 } });
    expect(manifest.chunks.length).toBeGreaterThanOrEqual(10);
    expect(proxy.failed).toHaveLength(1);
    const failedChunks = manifest.chunks.filter((c) => proxy.failed[0].startsWith(`bytes=${c.start - 1}-`));
    expect(failedChunks).toHaveLength(1);
    const [failedChunk] = failedChunks;
    const chunkBodies = sqsServer.sent('batch').map((b) => JSON.parse(b) as { type?: string; index?: number });
    expect(chunkBodies.filter((b) => b.type === 'serverless-tf.batch-chunk')).toHaveLength(manifest.chunks.length);
    const failedBody = sqsServer.sent('batch').find((b) => (JSON.parse(b) as { index?: number }).index === failedChunk.index)!;
    expect(stats.deliveries.get(failedBody)).toBe(2);
    expect(stats.failures).toBe(1);
    expect(sqsServer.depth('batch')).toBe(0);

    // AND every input row is in exactly one place: predicted (with its columns) or an error row with the reason
    const { seen, predictions, errors } = await collect(base, manifest, data);
    expect(seen.size).toBe(data.rows.length);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const malformed = data.rows.filter((r) => r.malformed);
    expect(malformed.length).toBeGreaterThan(200);
    expect(errors.map((e) => e.row.id).sort((a, b) => a - b)).toEqual(malformed.map((r) => r.id));
    for (const e of errors) expect(e.error).toMatch(e.row.malformed!.reason);
    const byId = new Map(data.rows.map((r) => [r.id, r]));
    let agree = 0;
    const wrong: unknown[] = [];
    for (const p of predictions) {
      const row = byId.get(Number(p.id))!;
      const columns = [p.id, p.sepal_length, p.sepal_width, p.petal_length, p.petal_width, p.tag];
      const score = Number(p.score);
      const ok = columns.every((c, i) => c === row.fields[i]) && (IRIS_LABELS as readonly string[]).includes(p.prediction) && score > 0 && score <= 1;
      if (!ok) wrong.push({ output: p, input: row.text });
      if (p.prediction === row.label) agree++;
    }
    expect(wrong.slice(0, 3)).toEqual([]);
    expect(agree / predictions.length).toBeGreaterThan(0.9);

    // AND the totals
    const success = await json<BatchSuccess>(`${base}/_SUCCESS.json`);
    expect(success).toMatchObject({ input: `s3://${BUCKET}/${key}`, plan: manifest.plan, chunks: manifest.chunks.length, rows: 100_000, failed: malformed.length });
    expect(success.outputs).toHaveLength(manifest.chunks.length);
    const markers = await keysUnder(`${base}/done/${manifest.plan}/`);
    expect(markers).toHaveLength(manifest.chunks.length);
    const marker = await json<ChunkDone>(markers[failedChunk.index]);
    expect(marker).toMatchObject({ chunk: failedChunk.index, start: failedChunk.start, end: failedChunk.end });
    console.log(`100,000 rows in ${manifest.chunks.length} chunks: ${seconds.toFixed(1)} s, ${stats.invocations} invocations, ${stats.received} messages`);

    // WHEN a chunk that is already done is delivered again
    const firstBody = sqsServer.sent('batch').find((b) => (JSON.parse(b) as { index?: number }).index === 0)!;
    const before = await text(`${base}/chunk-00000.csv`);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: firstBody }));
    await drain(handler);

    // THEN it overwrites the same keys: nothing is duplicated
    expect(await text(`${base}/chunk-00000.csv`)).toBe(before);
    const again = await collect(base, manifest, data);
    expect(again.seen.size).toBe(data.rows.length);
    expect([...again.seen.values()].every((n) => n === 1)).toBe(true);
    expect(await json<BatchSuccess>(`${base}/_SUCCESS.json`)).toEqual(success);
    expect(await keysUnder(`${base}/done/`)).toEqual(markers);
  }, 60_000);

  /** JSON Lines of Iris instances (objects and arrays), with a few bad lines. */
  function generateJsonLines(lines: number): { body: Buffer; bad: Set<number>; offsets: number[] } {
    const iris = irisData();
    const bad = new Set<number>();
    const offsets: number[] = [];
    let offset = 0;
    const out = Array.from({ length: lines }, (_, i) => {
      const r = iris.rows[i % iris.rows.length];
      let line = i % 2 ? JSON.stringify(r) : JSON.stringify(Object.fromEntries(IRIS_FEATURES.map((f, j) => [f, r[j]])));
      if (i % 401 === 7) {
        line = '{"sepal_length": 5.1,';
        bad.add(i);
      } else if (i % 401 === 8) {
        line = '{"sepal_length": 5.1}';
        bad.add(i);
      }
      offsets.push(offset);
      offset += Buffer.byteLength(line) + 1;
      return `${line}\n`;
    });
    return { body: Buffer.from(out.join('')), bad, offsets };
  }

  async function jsonLinesOutcome(base: string, chunks: number) {
    const predicted: number[] = [];
    const failed: number[] = [];
    for (let i = 0; i < chunks; i++) {
      const name = `chunk-${String(i).padStart(5, '0')}`;
      for (const l of (await text(`${base}/${name}.jsonl`)).split('\n').filter(Boolean)) {
        const o = JSON.parse(l) as { offset: number; prediction: { label: string }[] };
        expect(IRIS_LABELS).toContain(o.prediction[0].label);
        predicted.push(o.offset);
      }
      for (const l of (await text(`${base}/${name}.errors.jsonl`)).split('\n').filter(Boolean)) failed.push((JSON.parse(l) as { offset: number }).offset);
    }
    return { predicted, failed };
  }

  test('JSON Lines: a duplicate notification re-plans, the older plan\'s chunk messages are skipped, each line still ends once', async () => {
    const { body, bad, offsets } = generateJsonLines(6000);
    const key = 'in/instances.jsonl';
    const { etag, size } = await put(key, body);
    const handler = await handlerFor({ batchQueueUrl: queueUrl, batchChunkBytes: 64 * 1024 });

    await notify(key, etag, size);
    await notify(key, etag, size);
    await drain(handler);

    const base = `${PREFIX}${key}/${etag.replace(/"/g, '')}`;
    const manifest = await json<Manifest>(`${base}/manifest.json`);
    expect(manifest.chunks.length).toBeGreaterThan(3);
    const { predicted, failed } = await jsonLinesOutcome(base, manifest.chunks.length);
    expect([...predicted, ...failed].sort((a, b) => a - b)).toEqual(offsets);
    expect(failed.sort((a, b) => a - b)).toEqual([...bad].map((i) => offsets[i]));
    expect(await json<BatchSuccess>(`${base}/_SUCCESS.json`)).toMatchObject({ plan: manifest.plan, rows: 6000, failed: bad.size });
    // Only the plan in the manifest ran chunks: the other plan's messages were skipped.
    const markers = await keysUnder(`${base}/done/`);
    expect(markers).toHaveLength(manifest.chunks.length);
    expect(markers.every((k) => k.startsWith(`${base}/done/${manifest.plan}/`))).toBe(true);
    expect(sqsServer.sent('batch').filter((b) => b.includes(key) && b.includes('serverless-tf.batch-chunk'))).toHaveLength(2 * manifest.chunks.length);
  }, 60_000);

  test('without a queue, a direct S3 notification runs every chunk in its own invocation', async () => {
    const { body, bad, offsets } = generateJsonLines(3000);
    const key = 'in/no-queue.jsonl';
    const { etag, size } = await put(key, body);
    const handler = await handlerFor({ batchChunkBytes: 64 * 1024 });

    const answer = await handler(s3Event(BUCKET, key, etag, size)) as { results: { chunks: number; rows: number; failedRows: number; success: string }[] };

    const base = `${PREFIX}${key}/${etag.replace(/"/g, '')}`;
    expect(answer.results[0]).toMatchObject({ rows: 3000, failedRows: bad.size, success: `s3://${BUCKET}/${base}/_SUCCESS.json` });
    expect(answer.results[0].chunks).toBeGreaterThan(1);
    const { predicted, failed } = await jsonLinesOutcome(base, answer.results[0].chunks);
    expect([...predicted, ...failed].sort((a, b) => a - b)).toEqual(offsets);
  }, 60_000);

  const OUTPUT_NAMES = ['p_setosa', 'p_versicolor', 'p_virginica'];
  test.each([
    ['labels with softmax', { ...TASK, softmax: true }, ['prediction', 'score']],
    ['named outputs', { type: 'tabular' as const, features: [...IRIS_FEATURES], outputNames: OUTPUT_NAMES }, OUTPUT_NAMES],
    ['raw outputs', { type: 'tabular' as const, features: [...IRIS_FEATURES] }, ['prediction']],
  ])('the CSV prediction columns (%s) are what :predict answers for the same row', async (name, task, columns) => {
    // GIVEN 3,000 rows, some quoted (read by the general path), most plain (read without splitting)
    const data = generateCsv(3000, 77);
    const key = `in/columns-${name.replace(/ /g, '-')}.csv`;
    const { etag, size } = await put(key, data.body);
    const service = await serviceFor(modelDir, task, { modelName: 'iris', outputPrefix: PREFIX, batchRows: 100 });

    // WHEN the object is predicted in one invocation
    const answer = await createHandler(service, { s3 })(s3Event(BUCKET, key, etag, size)) as { results: { success?: string }[] };
    expect(answer.results[0].success).toMatch(/_SUCCESS\.json$/);

    // THEN every good row's prediction columns equal the first entry (or the values) of the route's answer
    const good = data.rows.filter((r) => !r.malformed);
    const records = parse(await text(`${PREFIX}${key}/${etag.replace(/"/g, '')}/chunk-00000.csv`), { columns: true }) as Record<string, string>[];
    expect(records.map((r) => Number(r.id))).toEqual(good.map((r) => r.id));
    const expected: unknown[] = [];
    for (let i = 0; i < good.length; i += 500) {
      expected.push(...await service.predictRows(good.slice(i, i + 500).map((r) => Float32Array.from(r.fields.slice(1, 5), Number))));
    }
    const fromRoute = expected.map((e) => {
      if ('outputNames' in task) return columns.map((c) => String((e as Record<string, number>)[c]));
      if ('labels' in task) return [(e as { label: string }[])[0].label, String((e as { score: number }[])[0].score)];
      return [JSON.stringify(e)];
    });
    expect(records.map((r) => columns.map((c) => r[c]))).toEqual(fromRoute);
  }, 60_000);
});
