// `npx serverless-tf`: the root package's bin runs the bundled CLI. `serve` answers HTTP
// on loopback through the same router as Lambda; `demo` classifies the sample photos.
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { IRIS_FEATURES, IRIS_LABELS, autoBackendHere, sample, trainIrisModel } from './support/models';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

const BIN = path.join(__dirname, '..', '..', 'bin', 'serverless-tf.js');
const run = promisify(execFile);

async function startServe(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; url: string; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const deadline = Date.now() + 30_000;
  while (!/at (http:\/\/\S+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: /at (http:\/\/\S+)/.exec(out)![1], output: () => out };
}

async function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  return code as number | null;
}

test('serve --model DIR --task JSON: a user\'s model on loopback, stopped cleanly by SIGTERM', async () => {
  const dir = await trainIrisModel();
  const task = JSON.stringify({ type: 'tabular', features: IRIS_FEATURES, labels: IRIS_LABELS });
  const { child, url, output } = await startServe(['--model', dir, '--task', task, '--name', 'iris']);
  try {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output()).toMatch(new RegExp(`Serving model "iris" \\(layers, tabular\\) on backend ${autoBackendHere()}`));
    // auto coalesces on the native backend, not on wasm's one thread
    expect(output()).toMatch(autoBackendHere() === 'tensorflow' ? /request coalescing up to \d+ rows, \d+ ms wait \(auto: on for the tensorflow backend\)/ : /request coalescing off \(auto: off for the wasm backend/);
    const res = await fetch(`${url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `${IRIS_FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n` });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { predictions: { label: string }[][] }).predictions[0][0].label).toBe('setosa');
  } finally {
    expect(await stop(child)).toBe(0);
  }
});

test('serve --demo: the demo model under the name "demo"', async () => {
  const { child, url } = await startServe(['--demo']);
  try {
    const res = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(await sample('chelsea.png')) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { predictions: { label: string }[] }).predictions[0].label).toBe('Neutral');
    expect((await fetch(`${url}/v1/models/demo`)).status).toBe(200);
  } finally {
    await stop(child);
  }
});

test('serve --coalesce-max-rows --coalesce-max-wait-ms: coalescing turned on by flag, concurrent requests each get their own answer', async () => {
  const { child, url, output } = await startServe(['--demo', '--coalesce-max-rows', '4', '--coalesce-max-wait-ms', '20']);
  try {
    expect(output()).toMatch(/request coalescing up to 4 rows, 20 ms wait \(configured\)/);
    const photos = ['chelsea.png', 'rocket.jpg', 'chelsea.png', 'rocket.jpg', 'chelsea.png', 'rocket.jpg'];
    const answers = await Promise.all(photos.map(async (name) => {
      const res = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': name.endsWith('.png') ? 'image/png' : 'image/jpeg' }, body: new Uint8Array(await sample(name)) });
      return { status: res.status, label: ((await res.json()) as { predictions: { label: string }[] }).predictions[0].label };
    }));
    expect(answers).toEqual(photos.map((name) => ({ status: 200, label: name === 'chelsea.png' ? 'Neutral' : 'Drawing' })));
  } finally {
    await stop(child);
  }
});

test('demo: classifies every sample photograph and prints the top labels', async () => {
  const { stdout } = await run(process.execPath, [BIN, 'demo'], { timeout: 60_000 });
  expect(stdout).toMatch(`on backend ${autoBackendHere()}`);
  expect(stdout).toMatch(/chelsea\.png\s+Neutral 0\.9\d\d/);
  expect(stdout).toMatch(/rocket\.jpg\s+Drawing 0\.8\d\d/);
  expect(stdout).not.toMatch(/error:/);
});

test('usage errors exit non-zero with a message and the usage', async () => {
  await expect(run(process.execPath, [BIN, 'serve'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/serve needs --model and --task[\s\S]*Usage:/) });
  await expect(run(process.execPath, [BIN, 'train'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/Unknown command "train"/) });
  await expect(run(process.execPath, [BIN, 'serve', '--model', '/nonexistent', '--task', '{"type":"tensor"}'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/nonexistent/) });
});

test('the old flags --batch-max-size and --batch-max-wait-ms still work, with a deprecation on stderr', async () => {
  const { child, output } = await startServe(['--demo', '--batch-max-size', '3', '--batch-max-wait-ms', '7']);
  try {
    expect(output()).toMatch(/request coalescing up to 3 rows, 7 ms wait \(configured\)/);
    expect(output()).toMatch(/--batch-max-size is deprecated: use --coalesce-max-rows/);
  } finally {
    await stop(child);
  }
});

test.each([
  [['--coalesce-max-rows', 'lots'], /--coalesce-max-rows must be "auto" or a whole number from 1 to 1024; got "lots"/],
  [['--coalesce-max-wait-ms', '5000'], /--coalesce-max-wait-ms must be "auto" or a whole number from 0 to 1000; got "5000"/],
  [['--batch-max-size', 'lots'], /--batch-max-size must be "auto" or a whole number from 1 to 1024; got "lots"/],
  [['--max-body-bytes', '6MB'], /--max-body-bytes must be a positive whole number; got "6MB"/],
  [['--backend', 'tpu'], /--backend must be one of auto, .*; got "tpu"/],
  [['--format', 'onnx'], /--format must be one of auto, .*; got "onnx"/],
  [['--name', 'my model'], /--name must be 1-128 letters, digits/],
])('serve %j is refused before anything loads, naming the flag', async (flags, message) => {
  await expect(run(process.execPath, [BIN, 'serve', '--model', '/nonexistent', '--task', '{"type":"tensor"}', ...flags]))
    .rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(message) });
});
