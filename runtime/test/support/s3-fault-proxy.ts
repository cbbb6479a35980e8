// A fault-injecting HTTP proxy on loopback, in front of an S3 peer (s3rver): requests
// pass through unchanged unless a rule matches them (an object's GET by key, or a
// listing), and then the answer is what the rule says: the connection dropped, no
// headers, headers and part of the body then silence, a body of the right length with
// wrong bytes, a longer body, bytes past Content-Length, a truncated body, a trickle.
// The client signs for the proxy's host, which the proxy forwards as is: s3rver checks
// the signature against the Host header it receives.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** The connection is closed as soon as the request arrives: no status line. */
  | { readonly kind: 'drop' }
  /** The request is accepted and never answered. */
  | { readonly kind: 'stall-headers' }
  /** Headers and the first `afterBytes` bytes of the body, then silence (the connection stays open). */
  | { readonly kind: 'stall-body'; readonly afterBytes: number }
  /** The body at its length, with the bytes from `offset` (default: the middle) for `length` (default 1) inverted. */
  | { readonly kind: 'corrupt'; readonly offset?: number; readonly length?: number }
  /** A body `bytes` longer, with a Content-Length that says so. */
  | { readonly kind: 'extra-bytes'; readonly bytes: number }
  /** The body at its Content-Length, then `bytes` more on the same connection. */
  | { readonly kind: 'overrun'; readonly bytes: number }
  /** The full Content-Length announced, `bytes` of the body sent, then the connection closed. */
  | { readonly kind: 'truncate'; readonly bytes: number }
  /** The body `chunkBytes` at a time, one chunk every `intervalMs`. */
  | { readonly kind: 'trickle'; readonly chunkBytes: number; readonly intervalMs: number }
  /** The answer as it is, only with `headers` set (e.g. the checksum headers real S3 sends). */
  | { readonly kind: 'pass' };

export interface FaultRule {
  /** The object key whose GET (or HEAD) this applies to; or `list: true` for listing requests. */
  readonly key?: string;
  readonly list?: boolean;
  readonly fault: Fault;
  /** Response headers to set (lower case), with any fault. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Matching requests to let through untouched first. @default 0 */
  readonly skip?: number;
  /** Matching requests this applies to (after `skip`). @default every one */
  readonly times?: number;
}

export interface ProxiedRequest {
  readonly method: string;
  /** The object key, or '' for a bucket-level request (a listing). */
  readonly key: string;
  /** The fault applied, or 'none'. */
  readonly fault: Fault['kind'] | 'none';
}

export interface S3FaultProxy {
  readonly endpoint: string;
  /** Every request seen, in order of arrival. */
  readonly requests: readonly ProxiedRequest[];
  add(rule: FaultRule): void;
  /** Drops the rules and the request log. */
  reset(): void;
  stop(): Promise<void>;
}

interface ActiveRule {
  readonly rule: FaultRule;
  seen: number;
}

/** Starts a proxy on 127.0.0.1 in front of `upstream` (http://127.0.0.1:port). */
export async function startS3FaultProxy(upstream: string): Promise<S3FaultProxy> {
  const target = new URL(upstream);
  let rules: ActiveRule[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const [, , ...keyParts] = url.pathname.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    const isList = key === '' && req.method === 'GET';
    const active = rules.find(({ rule }) => (rule.list ? isList : rule.key === key && key !== ''));
    let fault: Fault | undefined;
    if (active) {
      active.seen += 1;
      const { skip = 0, times = Number.POSITIVE_INFINITY } = active.rule;
      if (active.seen > skip && active.seen <= skip + times) fault = active.rule.fault;
    }
    requests.push({ method: req.method ?? 'GET', key, fault: fault?.kind ?? 'none' });

    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'stall-headers') {
      req.resume();
      return;
    }
    const upstreamRequest = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
    }, (upstreamResponse) => {
      const chunks: Buffer[] = [];
      upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
      upstreamResponse.on('end', () => {
        const headers = { ...upstreamResponse.headers, ...active?.rule.headers };
        const body = Buffer.concat(chunks);
        answer(req.socket, res, upstreamResponse.statusCode ?? 502, headers, body, req.method === 'HEAD' ? undefined : fault, timers);
      });
    });
    upstreamRequest.on('error', () => res.destroy());
    req.pipe(upstreamRequest);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    add: (rule) => {
      rules.push({ rule, seen: 0 });
    },
    reset: () => {
      rules = [];
      requests.length = 0;
    },
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(
  socket: Socket, res: http.ServerResponse, status: number, headers: http.IncomingHttpHeaders, body: Buffer, fault: Fault | undefined, timers: Set<NodeJS.Timeout>,
): void {
  const send = (payload: Buffer, contentLength: number) => {
    res.writeHead(status, { ...headers, 'content-length': String(contentLength) });
    res.end(payload);
  };
  if (!fault || fault.kind === 'pass' || body.length === 0) {
    send(body, body.length);
    return;
  }
  switch (fault.kind) {
    case 'corrupt': {
      const wrong = Buffer.from(body);
      const start = Math.min(fault.offset ?? Math.floor(body.length / 2), body.length - 1);
      for (let i = start; i < Math.min(body.length, start + (fault.length ?? 1)); i++) wrong[i] ^= 0xff;
      send(wrong, wrong.length);
      return;
    }
    case 'extra-bytes': {
      const longer = Buffer.concat([body, Buffer.alloc(fault.bytes, 0x5a)]);
      send(longer, longer.length);
      return;
    }
    case 'overrun':
      // Below the HTTP layer: a ServerResponse refuses to write past its Content-Length.
      socket.write(rawHead(status, { ...headers, 'content-length': String(body.length) }));
      socket.write(Buffer.concat([body, Buffer.alloc(fault.bytes, 0x5a)]));
      return;
    case 'truncate':
      socket.write(rawHead(status, { ...headers, 'content-length': String(body.length) }));
      socket.end(body.subarray(0, Math.min(fault.bytes, body.length)), () => socket.destroy());
      return;
    case 'stall-body':
      res.writeHead(status, { ...headers, 'content-length': String(body.length) });
      res.write(body.subarray(0, Math.min(fault.afterBytes, body.length)));
      return;
    case 'trickle': {
      res.writeHead(status, { ...headers, 'content-length': String(body.length) });
      let offset = 0;
      const timer = setInterval(() => {
        if (res.destroyed) {
          clearInterval(timer);
          timers.delete(timer);
          return;
        }
        const next = Math.min(offset + fault.chunkBytes, body.length);
        res.write(body.subarray(offset, next));
        offset = next;
        if (offset >= body.length) {
          clearInterval(timer);
          timers.delete(timer);
          res.end();
        }
      }, fault.intervalMs);
      timers.add(timer);
      return;
    }
    default:
      send(body, body.length);
  }
}

function rawHead(status: number, headers: http.IncomingHttpHeaders): string {
  const lines = Object.entries(headers)
    .filter(([name, value]) => value !== undefined && name !== 'transfer-encoding' && name !== 'connection')
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${lines.join('\r\n')}\r\nconnection: keep-alive\r\n\r\n`;
}
