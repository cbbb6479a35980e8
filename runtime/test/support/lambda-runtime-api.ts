// The Lambda Runtime API on loopback, as a real protocol peer for a runtime interface client
// (aws-lambda-ric): GET /2018-06-01/runtime/invocation/next long-polls and hands out the
// next queued event with the Lambda-Runtime-* headers; POST .../invocation/{id}/response,
// .../invocation/{id}/error and /runtime/init/error are recorded and answered 202, as
// Lambda answers them. It also notes when the first /next arrived (init done) and when
// the first answer did, for the cold-start benchmark.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const PREFIX = '/2018-06-01/runtime';

/** What the function sent for one invocation. */
export interface InvocationResult {
  readonly requestId: string;
  readonly kind: 'response' | 'error';
  /** The response body (or the error body), parsed as JSON where it is JSON. */
  readonly body: unknown;
  /** Lambda-Runtime-Function-Error-Type, for errors. */
  readonly errorType?: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** What the function sent to /runtime/init/error. */
export interface InitError {
  readonly errorType?: string;
  readonly body: unknown;
}

export interface RuntimeApiPeer {
  /** host:port, for AWS_LAMBDA_RUNTIME_API. */
  readonly address: string;
  /** Queues an event; resolves with what the function answered for it. */
  invoke(event: unknown, options?: { readonly timeoutMs?: number; readonly deadlineMs?: number }): Promise<InvocationResult>;
  /** Resolves when the function reports an init error. */
  readonly initError: Promise<InitError>;
  /** performance.now() of the first GET /next (the init phase is over), if any yet. */
  readonly firstNextAt: () => number | undefined;
  /** performance.now() of the first response or error of an invocation, if any yet. */
  readonly firstAnswerAt: () => number | undefined;
  stop(): Promise<void>;
}

export const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:fidelity:live';

interface Pending {
  readonly requestId: string;
  readonly event: unknown;
  readonly deadlineMs: number;
  readonly resolve: (r: InvocationResult) => void;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? undefined : JSON.parse(text) as unknown);
      } catch {
        resolve(text);
      }
    });
  });
}

function accepted(res: ServerResponse): void {
  res.writeHead(202, { 'Content-Type': 'application/json' });
  res.end('{"status":"OK"}');
}

export async function startRuntimeApi(): Promise<RuntimeApiPeer> {
  const queue: Pending[] = [];
  const waiting: ServerResponse[] = [];
  const inFlight = new Map<string, Pending>();
  let firstNext: number | undefined;
  let firstAnswer: number | undefined;
  let reportInitError!: (e: InitError) => void;
  const initError = new Promise<InitError>((resolve) => { reportInitError = resolve; });

  const hand = (res: ServerResponse, next: Pending) => {
    inFlight.set(next.requestId, next);
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': next.requestId,
      'Lambda-Runtime-Deadline-Ms': String(next.deadlineMs),
      'Lambda-Runtime-Invoked-Function-Arn': FUNCTION_ARN,
      'Lambda-Runtime-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Parent=${randomUUID().replace(/-/g, '').slice(0, 16)};Sampled=0`,
    });
    res.end(JSON.stringify(next.event));
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
        firstNext ??= performance.now();
        const next = queue.shift();
        if (next) hand(res, next);
        else waiting.push(res);
        return;
      }
      const answer = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (req.method === 'POST' && answer) {
        const body = await readBody(req);
        const pending = inFlight.get(answer[1]);
        if (!pending) {
          res.writeHead(400, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ errorMessage: `unknown request id ${answer[1]}`, errorType: 'InvalidRequestID' }));
          return;
        }
        inFlight.delete(answer[1]);
        firstAnswer ??= performance.now();
        const errorType = req.headers['lambda-runtime-function-error-type'];
        accepted(res);
        pending.resolve({ requestId: answer[1], kind: answer[2] as 'response' | 'error', body, headers: req.headers, ...(typeof errorType === 'string' ? { errorType } : {}) });
        return;
      }
      if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
        const body = await readBody(req);
        const errorType = req.headers['lambda-runtime-function-error-type'];
        accepted(res);
        reportInitError({ body, ...(typeof errorType === 'string' ? { errorType } : {}) });
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errorMessage: `no route ${req.method} ${url}`, errorType: 'NotFound' }));
    })();
  });
  // The client long-polls /next: no server-side timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    initError,
    firstNextAt: () => firstNext,
    firstAnswerAt: () => firstAnswer,
    invoke(event, options = {}) {
      const timeoutMs = options.timeoutMs ?? 30_000;
      return new Promise<InvocationResult>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from the function within ${timeoutMs} ms for ${JSON.stringify(event).slice(0, 120)}`)), timeoutMs);
        const pending: Pending = {
          requestId: randomUUID(),
          event,
          deadlineMs: Date.now() + (options.deadlineMs ?? 30_000),
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        const client = waiting.shift();
        if (client) hand(client, pending);
        else queue.push(pending);
      });
    },
    stop: () => new Promise<void>((resolve) => {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
