// The local HTTP server (`serverless-tf serve`): plain node:http in front of the same
// router the Lambda handler uses, with the same body limit (Lambda's 6 MB by default).
// Listens on loopback unless told otherwise. Once the backend fails (a WebAssembly trap),
// it answers the requests in flight (503), stops, and says so through `backendFailed`.
import { createServer } from 'node:http';
import { route } from './routes';
import { errorResponse, responseBytes } from './http';
import { BadRequestError, PayloadTooLargeError } from './errors';
import type { HttpResponse } from './http';
import type { InferenceService } from './service';
import type { BackendFault } from './backend-health';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalServerOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
}

export interface LocalServer {
  readonly server: Server;
  readonly url: string;
  /**
   * Resolves once the backend has failed and the server, which stopped taking connections
   * then, has answered the requests in flight: the process should end (`serverless-tf serve` exits 1).
   */
  readonly backendFailed: Promise<BackendFault>;
  close(): Promise<void>;
}

export async function startLocalServer(service: InferenceService, options: LocalServerOptions = {}): Promise<LocalServer> {
  const server = createServer((req, res) => {
    void handle(service, req, res);
  });
  server.requestTimeout = 60_000;
  const backendFailed = new Promise<BackendFault>((resolve) => {
    service.onBackendFault((fault) => {
      // Called during the failing model call: its answer and the others in flight still go
      // out (with Connection: close), then the last connection's end closes the server.
      server.close(() => resolve(fault));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}`,
    backendFailed,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(service: InferenceService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let answer: HttpResponse;
  try {
    const body = await readBody(req, service.config.maxBodyBytes);
    const path = requestPath(req.url ?? '/');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    answer = await route(service, { method: req.method ?? 'GET', path, headers, body });
  } catch (err) {
    answer = errorResponse(err);
    if (answer.errorKind) service.obs.error(answer.errorKind);
    if (answer.statusCode >= 500) service.obs.logger.error('Request failed', { path: req.url, error: err as Error });
    // The rest of an oversize body is not read: close the connection after answering.
    if (err instanceof PayloadTooLargeError) res.setHeader('Connection', 'close');
  }
  if (res.headersSent) return;
  // A failed backend serves nothing more: no connection is kept open for another request.
  if (service.backendFault) res.setHeader('Connection', 'close');
  const body = responseBytes(answer);
  res.writeHead(answer.statusCode, { ...answer.headers, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The path of a request target: origin form (`/a?b`) or absolute form (`http://h/a`). */
function requestPath(target: string): string {
  if (target.startsWith('/')) return target.split(/[?#]/, 1)[0];
  try {
    return new URL(target).pathname;
  } catch {
    throw new BadRequestError(`The request target ${JSON.stringify(target.slice(0, 100))} is not a path or URL.`);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (n: number) => new PayloadTooLargeError(`The body is ${n > limit ? `over ${limit}` : n} bytes; the limit is ${limit} bytes (Lambda's synchronous payload limit is 6 MB). Send a smaller input, or use asynchronous jobs for large inputs.`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(declared));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(size));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
