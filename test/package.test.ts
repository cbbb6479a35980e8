// The package as users install it: `npm pack` of this checkout, installed into a fresh CDK
// app outside the repository, then what a new user does first: `npx serverless-tf --help`,
// `serve --model` with one /classify, `demo`, and `cdk synth` of a zip function with the
// npm cache empty and npm offline (synth must need neither the network nor Docker).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const MIN = 60_000;

let app: string;
let installed: string;

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Ran {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mustRun(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Ran {
  const result = run(command, args, options);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** A folder of commands that must not run (npm, docker): each records that it was called, then fails. */
function forbiddenCommands(dir: string, log: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of ['npm', 'docker']) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> "${log}"\nexit 1\n`);
    fs.chmodSync(file, 0o755);
  }
  return dir;
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'index.js')) || !fs.existsSync(path.join(ROOT, 'runtime', 'layer', 'linux-x64.zip'))) {
    throw new Error('The package is not built: run `npx projen compile` (which builds the runtime) before this test.');
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-package-'));
  // GIVEN: the tarball users get from the registry
  const packed = mustRun('npm', ['pack', '--pack-destination', work, '--json'], { cwd: ROOT, timeoutMs: 2 * MIN });
  const [{ filename }] = JSON.parse(packed.stdout) as { filename: string }[];
  const tarball = path.join(work, path.basename(filename));

  // AND: a fresh CDK app that installs it with the CDK versions this package is built with
  app = path.join(work, 'app');
  fs.mkdirSync(app);
  const version = (name: string) => (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'fresh-app',
    private: true,
    dependencies: {
      'cdk-serverless-tensorflow': `file:${tarball}`,
      'aws-cdk-lib': version('aws-cdk-lib'),
      'constructs': version('constructs'),
      'aws-cdk': version('aws-cdk'),
    },
  }, null, 2));
  mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeoutMs: 5 * MIN });
  installed = path.join(app, 'node_modules', 'cdk-serverless-tensorflow');
}, 8 * MIN);

describe('npx serverless-tf from the installed package', () => {
  test('--help prints the usage and exits 0', () => {
    const result = run('npx', ['--no-install', 'serverless-tf', '--help'], { cwd: app, timeoutMs: MIN });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage:\n {2}serverless-tf serve --model DIR\|DIR\/MODEL\.json\|s3:\/\/bucket\/prefix\//);
  });

  test('serve --model DIR --task FILE answers /classify on loopback with the model\'s labels', async () => {
    const model = path.join(installed, 'runtime', 'models', 'mobilenet_v2');
    const child = spawn('npx', ['--no-install', 'serverless-tf', 'serve', '--model', model, '--task', path.join(model, 'task.json'), '--port', '0'], {
      cwd: app, env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' }, detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      const deadline = Date.now() + MIN;
      while (!/ at (http:\/\/127\.0\.0\.1:\d+)/.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = / at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      const photo = fs.readFileSync(path.join(installed, 'runtime', 'samples', 'chelsea.png'));
      const res = await fetch(`${url}/classify`, { method: 'POST', body: photo, headers: { 'Content-Type': 'image/png' } });
      const body = await res.json() as { predictions: { label: string; score: number }[] };
      expect(res.status).toBe(200);
      expect(body.predictions.map((p) => p.label).sort()).toEqual(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
      expect(body.predictions[0]).toMatchObject({ label: 'Neutral', score: expect.any(Number) });
      expect(body.predictions[0].score).toBeGreaterThan(0.85);
    } finally {
      // npx runs the CLI in a child of its own: stop the whole group.
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
  }, 2 * MIN);

  test('demo classifies the sample photographs the package carries', () => {
    const result = run('npx', ['--no-install', 'serverless-tf', 'demo'], { cwd: app, timeoutMs: MIN });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Demo: nsfwjs's content classifier/);
    expect(result.stdout).toMatch(/^chelsea\.png\s+Neutral 0\.9\d\d/m);
    expect(result.stdout).toMatch(/^rocket\.jpg\s+Drawing /m);
  });
});

describe('cdk synth of a zip function in the fresh app', () => {
  test('needs neither npm, the network, nor Docker: the layer is the packaged archive', () => {
    // GIVEN: a user's app with a zip function serving the packaged demo model
    fs.writeFileSync(path.join(app, 'app.js'), `
const { App, Stack } = require('aws-cdk-lib');
const { Compute, InferenceTask, Model, TensorFlowFunction } = require('cdk-serverless-tensorflow');
const app = new App();
const stack = new Stack(app, 'Fresh');
new TensorFlowFunction(stack, 'Classifier', {
  model: Model.fromAsset(require.resolve('cdk-serverless-tensorflow/package.json').replace('package.json', 'runtime/models/mobilenet_v2')),
  task: InferenceTask.imageClassification({ inputSize: 224, alignCorners: true, labels: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] }),
  compute: Compute.zip(),
});
`);
    fs.writeFileSync(path.join(app, 'cdk.json'), JSON.stringify({ app: 'node app.js' }));
    // AND: an empty npm cache, npm offline, and npm and docker replaced by commands that record a call and fail
    const calls = path.join(app, 'forbidden-calls.log');
    const bin = forbiddenCommands(path.join(app, 'forbidden-bin'), calls);
    const env = {
      ...process.env,
      PATH: `${bin}${path.delimiter}${process.env.PATH}`,
      npm_config_offline: 'true',
      npm_config_cache: fs.mkdtempSync(path.join(os.tmpdir(), 'empty-npm-cache-')),
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    };

    // WHEN
    const result = run(process.execPath, [path.join(app, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--no-notices', '--no-version-reporting'], { cwd: app, env, timeoutMs: 3 * MIN });

    // THEN
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: expect.not.stringMatching(/npm ci|Error/) });
    expect(fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '').toBe('');
    const template = JSON.parse(fs.readFileSync(path.join(app, 'cdk.out', 'Fresh.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const layers = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::LayerVersion');
    expect(layers.map((l) => l.Properties.Description).sort()).toEqual([
      expect.stringMatching(/^TensorFlow model mobilenet_v2 for Fresh\/Classifier/),
      'serverless-tf runtime: TensorFlow.js (wasm backend) and sharp for Node.js on Linux x86_64',
    ].sort());
    const archive = fs.readFileSync(path.join(installed, 'runtime', 'layer', 'linux-x64.zip'));
    const staged = fs.readdirSync(path.join(app, 'cdk.out')).filter((f) => f.endsWith('.zip')).map((f) => fs.readFileSync(path.join(app, 'cdk.out', f)));
    expect(staged.filter((bytes) => bytes.equals(archive))).toHaveLength(1);
  }, 4 * MIN);
});
