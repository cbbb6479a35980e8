// The Lambda bundle (dist/handler.mjs, built from the current source by globalSetup) run in a
// child process on a chosen backend, since a process holds one TF.js backend: invoked
// directly with events, as Lambda's runtime interface client would, its answers, tensor
// counts and log lines read back. And whether the native backend is installed here.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { RUNTIME_DIR } from './models';
import type { TaskConfig } from '../../src/task-config';

/** How the native backend is set up (runtime:native). */
export const NATIVE_SETUP = 'node runtime/scripts/native-backend.mjs';

export type Backend = 'wasm' | 'tensorflow';

export interface BundleRun {
  /** tf.getBackend() in the child once the model is loaded. */
  readonly backend: string;
  /** tf.memory().numTensors after init (weights, warm-up done) and after the last event. */
  readonly numTensors: { before: number; after: number };
  readonly answers: { ok?: unknown; thrown?: string }[];
  /** The JSON log lines (Powertools) of the child. */
  readonly logs: Record<string, unknown>[];
}

/** A bundle run that ended without answers: init failed. */
export class BundleInitError extends Error {
  public constructor(message: string, public readonly logs: Record<string, unknown>[]) {
    super(message);
    this.name = 'BundleInitError';
  }
}

const MARK = '@@BUNDLE-CHILD@@';

// Reads a JSON array of events on stdin, imports the bundle (init: backend, model load,
// warm-up), invokes the handler with each event in turn and prints the backend, the tensor
// count around the events and the answers on one marked line.
// @tensorflow/tfjs is external to the bundle: this import is the instance the runtime uses.
const SCRIPT = `
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const events = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { handler } = await import('./dist/handler.mjs');
const tf = await import('@tensorflow/tfjs');
const before = tf.memory().numTensors;
const answers = [];
const invoke = async (event, id) => {
  try {
    return { ok: await handler(event, { awsRequestId: 'bundle-child-' + id, functionName: 'bundle-child' }) };
  } catch (err) {
    return { thrown: String(err && err.message) };
  }
};
// An event {"@concurrent": [...]} invokes its events at once (as Lambda Managed Instances
// does with several requests per environment); its answer is the list of theirs.
for (const [i, event] of events.entries()) {
  answers.push(event['@concurrent']
    ? { ok: await Promise.all(event['@concurrent'].map((e, j) => invoke(e, i + '-' + j))) }
    : await invoke(event, i));
}
const run = { backend: tf.getBackend(), numTensors: { before, after: tf.memory().numTensors }, answers };
process.stdout.write('\\n${MARK}' + JSON.stringify(run) + '\\n');
`;

/** Why the native backend cannot run here, or undefined when tfjs-node and its addon are installed. */
export function nativeBackendMissing(): string | undefined {
  const runtime = createRequire(path.join(RUNTIME_DIR, 'package.json'));
  let packageJson: string;
  try {
    packageJson = runtime.resolve('@tensorflow/tfjs-node/package.json');
  } catch {
    return 'runtime/node_modules has no @tensorflow/tfjs-node';
  }
  const lib = path.join(path.dirname(packageJson), 'lib');
  const addon = existsSync(lib) && readdirSync(lib).some((d) => existsSync(path.join(lib, d, 'tfjs_binding.node')));
  return addon ? undefined : '@tensorflow/tfjs-node in runtime/node_modules has no built addon (lib/napi-v*/tfjs_binding.node)';
}

/** Throws, saying how to install it, unless the native backend is installed: a skipped comparison would pass CI. */
export function requireNativeBackend(): void {
  const missing = nativeBackendMissing();
  if (missing) {
    throw new Error(`The native TensorFlow backend is not installed: ${missing}. Run \`node runtime/scripts/native-backend.mjs\` (npm ci removes the installed copy; it comes back from the machine cache in seconds).`);
  }
}

/** The environment of the Lambda process: the parent's, minus anything that configures the runtime or Powertools. */
export function lambdaEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SERVERLESS_TF_|POWERTOOLS_|AWS_LAMBDA_|NODE_OPTIONS$|NODE_PATH$|TF_CPP_)/.test(k)) continue;
    env[k] = v;
  }
  // libtensorflow's INFO lines (oneDNN, CPU features) go to stderr; warnings and errors still show.
  return { ...env, POWERTOOLS_METRICS_DISABLED: 'true', TF_CPP_MIN_LOG_LEVEL: '1', ...extra };
}

/** The JSON objects among `text`'s lines (Powertools logs, embedded metrics). */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** How a child Node process ended: its exit code (null when killed) and what it printed. */
export interface ChildOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `script` (an ES module) in a child Node process in `cwd` with `env` and `args`, `stdin`
 * written to it, killed after `timeoutMs`; resolves with how it ended, rejects only when it
 * cannot be started.
 */
export function runNodeScript(script: string, options: { cwd: string; env: NodeJS.ProcessEnv; args?: string[]; stdin?: string; timeoutMs: number }): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...(options.args ?? [])], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** The Lambda bundle (dist/handler.mjs) on `backend`, serving `modelDir` for `task`, given `events` in turn. */
export async function runBundle(backend: Backend, modelDir: string, task: TaskConfig, events: unknown[], extraEnv: Record<string, string> = {}): Promise<BundleRun> {
  const env = lambdaEnv({ SERVERLESS_TF_BACKEND: backend, SERVERLESS_TF_MODEL_URI: modelDir, SERVERLESS_TF_TASK: JSON.stringify(task), ...extraEnv });
  const { code, stdout, stderr } = await runNodeScript(SCRIPT, { cwd: RUNTIME_DIR, env, stdin: JSON.stringify(events), timeoutMs: 90_000 });
  const marked = stdout.split('\n').find((l) => l.startsWith(MARK));
  const logs = jsonLines(stdout);
  if (code !== 0 || !marked) {
    // Powertools writes warnings and worse to stderr.
    throw new BundleInitError(`the bundle on ${backend} exited with ${code}:\n${stdout}${stderr}`, [...logs, ...jsonLines(stderr)]);
  }
  return { ...(JSON.parse(marked.slice(MARK.length)) as Omit<BundleRun, 'logs'>), logs };
}
