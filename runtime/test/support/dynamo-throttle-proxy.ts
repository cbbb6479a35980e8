// DynamoDB throttling on loopback, for tests: an HTTP proxy on 127.0.0.1 in front of a
// DynamoDB peer (dynalite) that forwards every request as it came, except that it can make
// BatchWriteItem leave items unprocessed, as DynamoDB does when a partition is throttled:
// it forwards a request that carries only the first `accept` items and answers with the
// rest as UnprocessedItems, in DynamoDB's own JSON. It counts BatchWriteItem calls and
// their items, so tests can assert what a client sent and what it had to send again.
//
// A cut request's SigV4 signature no longer matches its body; dynalite checks only that the
// Authorization header is well formed. A rewritten answer gets a new x-amz-crc32 (DynamoDB's
// CRC32 of the body: SDK v2 verified it, SDK v3 does not), so any client sees a consistent one.
import { once } from 'node:events';
import http from 'node:http';
import { crc32 } from 'node:zlib';
import type { AddressInfo } from 'node:net';

const BATCH_WRITE_ITEM = 'DynamoDB_20120810.BatchWriteItem';

type WriteRequests = Record<string, unknown[]>;

export interface BatchWriteCall {
  /** Write requests the call carried, all tables together. */
  readonly items: number;
  /** Of those, the ones the client got back as UnprocessedItems. */
  readonly unprocessed: number;
}

export interface ThrottleOptions {
  /** Items of each throttled call that are written (the first ones, in request order); the rest come back unprocessed. */
  readonly accept: number;
  /**
   * How many BatchWriteItem calls, from now on, are throttled; the calls after them are forwarded whole.
   *
   * @default - every call, until reset()
   */
  readonly calls?: number;
}

export interface DynamoThrottleProxy {
  /** Where to point the SDK (AWS_ENDPOINT_URL_DYNAMODB). */
  readonly endpoint: string;
  /** BatchWriteItem calls answered since the last reset, in order of arrival. */
  readonly batchWrites: readonly BatchWriteCall[];
  throttle(options: ThrottleOptions): void;
  /** Forward every request whole again, and forget the calls counted. */
  reset(): void;
  stop(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export async function startDynamoThrottleProxy(upstream: string): Promise<DynamoThrottleProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const calls: BatchWriteCall[] = [];
  let accept = 0;
  let throttledCalls = 0;

  const forward = async (req: http.IncomingMessage, body: Buffer): Promise<Answer> => {
    const out = http.request({
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, 'content-length': String(body.length) },
      agent,
    });
    out.end(body);
    const [res] = (await once(out, 'response')) as [http.IncomingMessage];
    return { status: res.statusCode ?? 502, headers: res.headers, body: await readAll(res) };
  };

  /** A BatchWriteItem call: the first `accept` items go on, the rest are added to the answer's UnprocessedItems. */
  const batchWrite = async (req: http.IncomingMessage, body: Buffer): Promise<Answer> => {
    const request = JSON.parse(body.toString('utf8')) as { RequestItems: WriteRequests };
    const items = Object.values(request.RequestItems).reduce((n, writes) => n + writes.length, 0);
    const throttled = throttledCalls > 0;
    if (throttled) throttledCalls--;
    const kept: WriteRequests = {};
    const refused: WriteRequests = {};
    let left = throttled ? accept : items;
    for (const [table, writes] of Object.entries(request.RequestItems)) {
      const n = Math.min(left, writes.length);
      left -= n;
      if (n > 0) kept[table] = writes.slice(0, n);
      if (n < writes.length) refused[table] = writes.slice(n);
    }
    // DynamoDB refuses a request without items, so a call that keeps none is answered here.
    const answer = Object.keys(kept).length === 0
      ? { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from('{}') }
      : await forward(req, throttled ? Buffer.from(JSON.stringify({ ...request, RequestItems: kept })) : body);
    if (answer.status !== 200) {
      calls.push({ items, unprocessed: items });
      return answer;
    }
    const result = JSON.parse(answer.body.toString('utf8')) as { UnprocessedItems?: WriteRequests };
    const unprocessed: WriteRequests = { ...result.UnprocessedItems };
    for (const [table, writes] of Object.entries(refused)) unprocessed[table] = [...(unprocessed[table] ?? []), ...writes];
    calls.push({ items, unprocessed: Object.values(unprocessed).reduce((n, writes) => n + writes.length, 0) });
    if (!throttled) return answer;
    return { ...answer, body: Buffer.from(JSON.stringify({ ...result, UnprocessedItems: unprocessed })) };
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const body = await readAll(req);
        const answer = req.headers['x-amz-target'] === BATCH_WRITE_ITEM ? await batchWrite(req, body) : await forward(req, body);
        const headers = { ...answer.headers, 'content-length': String(answer.body.length), 'x-amz-crc32': String(crc32(answer.body)) };
        delete headers['transfer-encoding'];
        res.writeHead(answer.status, headers);
        res.end(answer.body);
      } catch (err) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`DynamoDB throttle proxy: ${(err as Error).message}`);
      }
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    batchWrites: calls,
    throttle: (options) => {
      accept = options.accept;
      throttledCalls = options.calls ?? Number.POSITIVE_INFINITY;
    },
    reset: () => {
      throttledCalls = 0;
      calls.length = 0;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}
