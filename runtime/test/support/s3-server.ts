// A real S3 protocol peer for tests: s3rver on loopback, in a child process started
// with --openssl-legacy-provider, because s3rver encrypts its ListObjectsV2
// continuation tokens with DES, which Node's OpenSSL 3 refuses by default (every
// truncated listing would be a 500 in-process).
//
// s3rver's PUT writes the object file in place and answers before the write has finished,
// so a GET right after a PUT (a done marker read back to count chunks) could read a
// truncated file: a race real S3 does not have (a PUT is atomic, and visible once
// answered). The child replaces that one method with a write to a temporary file that is
// renamed into place before the answer, as S3 behaves.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';

const SERVER_SCRIPT = `
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
let writes = 0;
FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const temporary = objectPath + '.partial-' + process.pid + '-' + (writes++);
  const md5Context = crypto.createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  const count = new Transform({ transform(chunk, encoding, callback) { md5Context.update(chunk); size += chunk.length; callback(null, chunk); } });
  await pipeline(source, count, fs.createWriteStream(temporary));
  const md5 = md5Context.digest('hex');
  // Metadata first: a listing shows the object once its file is renamed into place, by then with its metadata.
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  await fs.promises.rename(temporary, objectPath);
  return { size, md5 };
};
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: process.env.S3RVER_DIR, silent: true });
server.run().then(({ port }) => process.stdout.write(JSON.stringify({ port }) + '\\n'));
process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
process.stdin.resume();
`;

export interface S3TestServer {
  readonly endpoint: string;
  readonly port: number;
  /** A client for this server (path style, dummy credentials). */
  client(extra?: S3ClientConfig): S3Client;
  stop(): Promise<void>;
}

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3Server(): Promise<S3TestServer> {
  const root = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', '-e', SERVER_SCRIPT], {
    cwd: path.join(__dirname, '..', '..'),
    env: { ...process.env, S3RVER_DIR: root },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [firstLine] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = (JSON.parse(firstLine.toString()) as { port: number }).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    port,
    client: (extra = {}) => {
      const c = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3_CREDENTIALS, ...extra });
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.destroy();
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.stdin!.end();
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
