// Runs a function the way Lambda runs it, on this machine: the real aws-lambda-ric started
// as Dockerfile.gpu's entrypoint starts it (`cd $LAMBDA_TASK_ROOT && node <ric>/index.mjs
// <handler>`), on a real Node.js 22 or 24 binary, talking to a Runtime API peer, in a mount
// namespace of its own where, as in Lambda, Node.js is at /var/lang, the runtime client
// under /var/runtime, the function code at /var/task and the layers under /opt, the whole
// file system is read-only, and only /tmp (a fresh tmpfs, 512 MB as Lambda's default
// ephemeral storage) is writable. The environment is the one Lambda sets, not ours.
// `unshare` (util-linux) needs root, as the tests here and in CI run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export interface LambdaTools {
  readonly node22: string;
  readonly node24: string;
  /** aws-lambda-ric's index.mjs. */
  readonly ric: string;
}

/** Installs (once per machine, cached) and locates Node 22, Node 24 and aws-lambda-ric: scripts/lambda-tools.mjs. */
export function lambdaTools(): LambdaTools {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'lambda-tools.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as LambdaTools;
}

export interface LambdaProcessOptions {
  readonly node: string;
  readonly ric: string;
  /** Lambda's runtime identifier, for AWS_EXECUTION_ENV and NODE_PATH: nodejs22.x or nodejs24.x. */
  readonly runtime: 'nodejs22.x' | 'nodejs24.x';
  /** Host folder mounted read-only at /var/task. */
  readonly taskRoot: string;
  /** Host folder mounted read-only at /opt (the layers, merged). */
  readonly opt: string;
  /** _HANDLER, e.g. index.handler or dist/handler.handler. */
  readonly handler: string;
  /** host:port of the Runtime API peer. */
  readonly runtimeApi: string;
  /** The function's own environment variables (what the construct sets), plus AWS endpoints for the peers. */
  readonly environment: Record<string, string>;
  readonly memoryMiB?: number;
}

export interface LambdaProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** performance.now() when the process was spawned. */
  readonly startedAt: number;
  /** Everything the process wrote (logs go to stdout and stderr, as in Lambda). */
  output(): string;
  /** JSON lines of the output (Powertools logs, EMF metrics). */
  jsonLines(): Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Mounts, then the entrypoint. The paths come in as arguments, so nothing is quoted into the script. */
const SANDBOX_SCRIPT = [
  'set -e',
  'mount --bind "$1" /var/task && mount -o remount,bind,ro /var/task',
  'mount --bind "$2" /opt && mount -o remount,bind,ro /opt',
  'mount --bind "$3" /var/lang && mount -o remount,bind,ro /var/lang',
  'mount --bind "$4" /var/runtime/node_modules && mount -o remount,bind,ro /var/runtime/node_modules',
  'mount --bind / / && mount -o remount,bind,ro /',
  'mount -t tmpfs -o size=512m,mode=1777 tmpfs /tmp',
  'cd "$LAMBDA_TASK_ROOT"',
  'exec /var/lang/bin/node /var/runtime/node_modules/aws-lambda-ric/index.mjs "$5"',
].join('\n');

export function startLambdaProcess(options: LambdaProcessOptions): LambdaProcess {
  // Mount points (empty folders; what is mounted on them is seen only inside the namespace).
  for (const dir of ['/var/task', '/var/lang', '/var/runtime/node_modules']) mkdirSync(dir, { recursive: true });
  // The tools' cache may be anywhere, /tmp included (hidden by the tmpfs): mount them where Lambda has them.
  const nodeHome = path.dirname(path.dirname(options.node));
  const ricModules = path.dirname(path.dirname(options.ric));
  const major = options.runtime === 'nodejs22.x' ? 'node22' : 'node24';
  const functionName = 'fidelity';
  const memory = String(options.memoryMiB ?? 2048);
  // What Lambda puts in a Node.js function's environment (reserved variables), and no more.
  const env: Record<string, string> = {
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
    NODE_PATH: `/opt/nodejs/${major}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task`,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: options.handler,
    AWS_LAMBDA_RUNTIME_API: options.runtimeApi,
    AWS_EXECUTION_ENV: `AWS_Lambda_${options.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '7',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memory,
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/03/[7]0123456789abcdef0123456789abcdef',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    TMPDIR: '/tmp',
    ...options.environment,
  };
  const startedAt = performance.now();
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', SANDBOX_SCRIPT, 'lambda-sandbox',
    options.taskRoot, options.opt, nodeHome, ricModules, options.handler], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    startedAt,
    output: () => out,
    jsonLines: () => out.split('\n').flatMap((line) => {
      const start = line.indexOf('{');
      if (start < 0) return [];
      try {
        return [JSON.parse(line.slice(start)) as Record<string, unknown>];
      } catch {
        return [];
      }
    }),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
