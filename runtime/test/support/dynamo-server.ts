// A real DynamoDB protocol peer for tests: dynalite (DynamoDB's JSON API over an
// in-memory LevelDB) on loopback, port 0. It does not expire items by TTL; the runtime
// treats a passed `expiresAt` as gone, as it must with DynamoDB's lazy TTL too.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface DynaliteOptions {
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
}

export interface DynamoTestServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startDynamoServer(): Promise<DynamoTestServer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (options: DynaliteOptions) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
