// The warmer against a real protocol peer: a minimal Lambda Invoke API on loopback that
// runs our real inference handler. Each execution environment is one handler instance
// (its own cold-start flag); a request takes a free environment or starts a new, cold
// one, as Lambda does, so only pings that overlap in time reach separate environments.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { linearGraphModel, serviceFor } from './support/models';
import { createHandler } from '../src/handler';
import { handler, warm } from '../src/warmer';
import type { LambdaHandler } from '../src/handler';
import type { InferenceService } from '../src/service';
import type { AddressInfo } from 'node:net';

const FUNCTION_NAME = 'infer';
const ALIAS = 'live';
const TARGET = `arn:aws:lambda:us-east-1:123456789012:function:${FUNCTION_NAME}:${ALIAS}`;
const CREDENTIALS = { accessKeyId: 'AKIDWARMERTEST', secretAccessKey: 'warmer-test-secret' };
/** The peer answers every request within this, whatever the handler does. */
const ANSWER_WITHIN_MS = 2_000;

interface Invocation {
  readonly functionName: string;
  readonly qualifier: string | undefined;
  readonly invocationType: string | undefined;
  readonly payload: string;
  /** The SDK keeps one invocation id across the retries of one call. */
  readonly invocationId: string;
  readonly attempt: string | undefined;
}

interface Environment {
  readonly invoke: LambdaHandler;
  busy: boolean;
}

type Fault = 'throttle' | 'crash';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface LambdaPeer {
  readonly endpoint: string;
  readonly environments: Environment[];
  readonly invocations: Invocation[];
  /** The next call that arrives, and every retry of it, meets this fault. */
  failNextCall(fault: Fault): void;
  close(): Promise<void>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  ({ status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const awsError = (status: number, type: string, message: string, extra: Record<string, string> = {}): Reply =>
  json(status, { Type: 'User', message, ...extra }, { 'x-amzn-ErrorType': type });

async function startLambdaPeer(service: InferenceService): Promise<LambdaPeer> {
  const environments: Environment[] = [];
  const invocations: Invocation[] = [];
  const faults = new Map<string, Fault>();
  let nextFault: Fault | undefined;

  async function serve(req: http.IncomingMessage): Promise<Reply> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://peer');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return awsError(404, 'UnknownOperationException', `No route for ${req.method} ${url.pathname}`);
    // The SDK puts a qualified ARN into the path as is (URL-encoded); a bare name may carry ?Qualifier=.
    const name = decodeURIComponent(match[1]);
    const parts = name.split(':');
    const [functionName, qualifier] = name.startsWith('arn:') ? [parts[6], parts[7]] : [parts[0], parts[1]];
    const invocation: Invocation = {
      functionName,
      qualifier: qualifier ?? url.searchParams.get('Qualifier') ?? undefined,
      invocationType: header(req, 'x-amz-invocation-type'),
      payload: Buffer.concat(chunks).toString('utf8'),
      invocationId: header(req, 'amz-sdk-invocation-id') ?? randomUUID(),
      attempt: header(req, 'amz-sdk-request'),
    };
    invocations.push(invocation);
    if (invocation.functionName !== FUNCTION_NAME || invocation.qualifier !== ALIAS) {
      return awsError(404, 'ResourceNotFoundException', `Function not found: ${name}`);
    }
    if (nextFault && !faults.has(invocation.invocationId)) {
      faults.set(invocation.invocationId, nextFault);
      nextFault = undefined;
    }
    const fault = faults.get(invocation.invocationId);
    if (fault === 'throttle') {
      return awsError(429, 'TooManyRequestsException', 'Rate Exceeded.', { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
    }
    let event: unknown;
    try {
      event = JSON.parse(invocation.payload);
    } catch {
      return awsError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    const environment = environments.find((e) => !e.busy) ?? newEnvironment();
    environment.busy = true;
    try {
      const run = fault === 'crash' ? crash : environment.invoke;
      return json(200, await run(event, { awsRequestId: randomUUID() }), { 'X-Amz-Executed-Version': '1' });
    } catch (err) {
      const e = err as Error;
      return json(200, { errorType: e.name, errorMessage: e.message, trace: [] }, { 'X-Amz-Function-Error': 'Unhandled', 'X-Amz-Executed-Version': '1' });
    } finally {
      environment.busy = false;
    }
  }

  function newEnvironment(): Environment {
    const environment = { invoke: createHandler(service), busy: false };
    environments.push(environment);
    return environment;
  }

  const server = http.createServer((req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Reply>((resolve) => {
      timer = setTimeout(() => resolve(awsError(500, 'ServiceException', `No answer within ${ANSWER_WITHIN_MS} ms`)), ANSWER_WITHIN_MS);
    });
    Promise.race([serve(req), deadline])
      .catch((err: unknown) => awsError(500, 'ServiceException', String(err)))
      .then((reply) => {
        clearTimeout(timer);
        if (!res.headersSent) res.writeHead(reply.status, reply.headers).end(reply.body);
      });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    environments,
    invocations,
    failNextCall: (fault) => {
      nextFault = fault;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function crash(): Promise<never> {
  throw new Error('Simulated crash in the function');
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

let peer: LambdaPeer;
let client: LambdaClient;

beforeAll(async () => {
  const { dir } = await linearGraphModel();
  peer = await startLambdaPeer(await serviceFor(dir, { type: 'tensor' }, { modelName: 'linear' }));
  // As the warmer's own client: two attempts.
  client = new LambdaClient({ endpoint: peer.endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 2 });
});

afterAll(async () => {
  client?.destroy();
  await peer?.close();
});

const since = (from: number) => peer.invocations.slice(from);

describe('warm()', () => {
  test('concurrency 4: four overlapping pings start four environments, all cold', async () => {
    const from = peer.invocations.length;
    const summary = await warm({ client, target: TARGET, concurrency: 4, holdMs: 300, timeoutMs: 5_000 });
    expect(summary).toEqual({ target: TARGET, requested: 4, answered: 4, coldStarts: 4, errors: [] });
    expect(peer.environments).toHaveLength(4);
    const received = since(from);
    expect(received).toHaveLength(4);
    for (const inv of received) {
      expect(inv.payload).toBe('{"warmup":true,"holdMs":300}');
      expect(inv).toMatchObject({ functionName: FUNCTION_NAME, qualifier: ALIAS, invocationType: 'RequestResponse' });
    }
  });

  test('a second round finds the same four environments warm', async () => {
    const summary = await warm({ client, target: TARGET, concurrency: 4, holdMs: 300, timeoutMs: 5_000 });
    expect(summary).toEqual({ target: TARGET, requested: 4, answered: 4, coldStarts: 0, errors: [] });
    expect(peer.environments).toHaveLength(4);
  });

  test('a throttled call (429 TooManyRequestsException, retried once) is recorded; the others answer', async () => {
    const from = peer.invocations.length;
    peer.failNextCall('throttle');
    const summary = await warm({ client, target: TARGET, concurrency: 4, holdMs: 300, timeoutMs: 5_000 });
    expect(summary).toMatchObject({ requested: 4, answered: 3, coldStarts: 0 });
    expect(summary.errors).toEqual([expect.stringMatching(/^TooManyRequestsException: Rate Exceeded\./)]);
    const throttledId = since(from)[0].invocationId;
    expect(since(from).filter((inv) => inv.invocationId === throttledId).map((inv) => inv.attempt)).toEqual(['attempt=1; max=2', 'attempt=2; max=2']);
  });

  test('a FunctionError (Unhandled) is recorded with its errorType and errorMessage', async () => {
    peer.failNextCall('crash');
    const summary = await warm({ client, target: TARGET, concurrency: 4, holdMs: 200, timeoutMs: 5_000 });
    expect(summary).toMatchObject({ requested: 4, answered: 3, coldStarts: 0 });
    expect(summary.errors).toEqual(['FunctionError Unhandled: Error: Simulated crash in the function']);
  });

  test('an unknown function is a transport error in the summary, not a failed run', async () => {
    const target = `arn:aws:lambda:us-east-1:123456789012:function:missing:${ALIAS}`;
    const summary = await warm({ client, target, concurrency: 2, holdMs: 0, timeoutMs: 5_000 });
    expect(summary).toEqual({ target, requested: 2, answered: 0, coldStarts: 0, errors: Array(2).fill(expect.stringMatching(/^ResourceNotFoundException: Function not found/)) });
  });

  test('a ping that outlives timeoutMs is recorded as timed out', async () => {
    const started = Date.now();
    const summary = await warm({ client, target: TARGET, concurrency: 1, holdMs: 600, timeoutMs: 150 });
    expect(Date.now() - started).toBeLessThan(550);
    expect(summary).toEqual({ target: TARGET, requested: 1, answered: 0, coldStarts: 0, errors: ['Timed out after 150 ms'] });
    // The abandoned ping still holds its environment; later rounds expect all four free.
    while (peer.environments.some((e) => e.busy)) await sleep(20);
  });
});

describe('handler (the Lambda entry)', () => {
  const sdkEnv = () => ({
    AWS_ENDPOINT_URL_LAMBDA: peer.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  });

  test('reads WARM_TARGET and WARM_CONCURRENCY, defaults holdMs to 250, retries a throttle once with its own client', async () => {
    const from = peer.invocations.length;
    peer.failNextCall('throttle');
    const summary = await withEnv({ ...sdkEnv(), WARM_TARGET: TARGET, WARM_CONCURRENCY: '3', WARM_HOLD_MS: undefined }, () =>
      handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, { awsRequestId: 'warmer-test', getRemainingTimeInMillis: () => 6_000 }));
    expect(summary).toEqual({ target: TARGET, requested: 3, answered: 2, coldStarts: 0, errors: [expect.stringMatching(/^TooManyRequestsException/)] });
    const received = since(from);
    expect(received).toHaveLength(4);
    expect(received.map((inv) => inv.payload)).toEqual(Array(4).fill('{"warmup":true,"holdMs":250}'));
    expect(received.filter((inv) => inv.invocationId === received[0].invocationId)).toHaveLength(2);
  });

  test.each([
    ['WARM_TARGET missing', { WARM_TARGET: undefined }, /^WARM_TARGET is not set/],
    ['WARM_TARGET without an alias', { WARM_TARGET: 'arn:aws:lambda:us-east-1:123456789012:function:infer' }, /^WARM_TARGET must be a function ARN with its alias .*got 'arn:aws:lambda:us-east-1:123456789012:function:infer'/],
    ['WARM_CONCURRENCY=0', { WARM_CONCURRENCY: '0' }, /^WARM_CONCURRENCY must be a whole number from 1 to 100; got '0'/],
    ['WARM_CONCURRENCY=101', { WARM_CONCURRENCY: '101' }, /^WARM_CONCURRENCY must be a whole number from 1 to 100; got '101'/],
    ['WARM_CONCURRENCY=abc', { WARM_CONCURRENCY: 'abc' }, /^WARM_CONCURRENCY must be a whole number from 1 to 100; got 'abc'/],
    ['WARM_HOLD_MS=1001', { WARM_HOLD_MS: '1001' }, /^WARM_HOLD_MS must be a whole number from 0 to 1000; got '1001'/],
    ['WARM_HOLD_MS=-5', { WARM_HOLD_MS: '-5' }, /^WARM_HOLD_MS must be a whole number from 0 to 1000; got '-5'/],
  ])('rejects %s with a message naming the variable, before any call', async (_label, vars, message) => {
    const from = peer.invocations.length;
    const env = { ...sdkEnv(), WARM_TARGET: TARGET, WARM_CONCURRENCY: '2', WARM_HOLD_MS: '0', ...vars };
    await expect(withEnv(env, () => handler({}))).rejects.toThrow(message);
    expect(since(from)).toHaveLength(0);
  });
});
