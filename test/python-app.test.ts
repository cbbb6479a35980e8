// The Python example app (test/python/app.py) on the jsii Python package of this checkout:
// `node scripts/python-app.mjs` builds the wheel, sets up a cached virtual environment with
// aws-cdk-lib and constructs from the package index, and runs the app, whose cdk.out must hold
// the templates of the TypeScript examples it mirrors (examples/api-classifier.ts,
// examples/batch-classifier.ts), synthesized here with the same stack names and ids.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template as Assertions } from 'aws-cdk-lib/assertions';
import { ApiClassifierStack } from '../examples/api-classifier';
import { BatchClassifierStack } from '../examples/batch-classifier';

const ROOT = path.join(__dirname, '..');
const SET_UP = 'node scripts/python-app.mjs';
const MIN = 60_000;

type Template = Record<string, unknown>;

interface PythonEnv {
  python: string;
  pythonPath: string;
}

const STACKS = ['ServerlessTfApi', 'ServerlessTfBatch'];

let pythonOut: string;
let typescriptOut: string;

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
  const result = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${command} ${args.join(' ')} could not run: ${result.error.message}`);
  return result;
}

/** The set-up of the Python side, or an error that says what to run to see why it fails. */
function pythonEnv(): PythonEnv {
  const result = run(process.execPath, [path.join(ROOT, 'scripts', 'python-app.mjs')], process.env, 15 * MIN);
  if (result.status !== 0) {
    throw new Error(`The Python environment could not be set up (exit ${result.status ?? result.signal}); run \`${SET_UP}\` to see why:\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as PythonEnv;
}

function readJson(outdir: string, file: string): Template {
  return JSON.parse(fs.readFileSync(path.join(outdir, file), 'utf8')) as Template;
}

beforeAll(() => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'python-app-'));

  // GIVEN: the Python app, synthesized by `python app.py` into a cdk.out of its own
  const env = pythonEnv();
  pythonOut = path.join(work, 'python.out');
  const synth = run(env.python, ['-s', path.join(ROOT, 'test', 'python', 'app.py')], {
    ...process.env,
    PYTHONPATH: env.pythonPath,
    CDK_OUTDIR: pythonOut,
    // The jsii runtime's banner about this Node.js major version, on stderr: shown only on failure.
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0],
  }, 5 * MIN);
  if (synth.status !== 0) throw new Error(`python test/python/app.py exited with ${synth.status ?? synth.signal}:\n${synth.stderr}`);

  // AND: the TypeScript examples it mirrors, synthesized the same way (an App with an outdir)
  typescriptOut = path.join(work, 'typescript.out');
  const app = new App({ outdir: typescriptOut });
  new ApiClassifierStack(app, 'ServerlessTfApi');
  new BatchClassifierStack(app, 'ServerlessTfBatch');
  app.synth();
}, 20 * MIN);

test('the Python app makes a TensorFlowFunction in each stack, an InferenceApi and a BatchInference', () => {
  const api = Assertions.fromJSON(readJson(pythonOut, 'ServerlessTfApi.template.json'));
  const batch = Assertions.fromJSON(readJson(pythonOut, 'ServerlessTfBatch.template.json'));
  for (const stack of [api, batch]) stack.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', Environment: { Variables: { SERVERLESS_TF_MODEL_NAME: 'demo' } } });
  api.resourceCountIs('AWS::ApiGateway::RestApi', 1);
  api.resourceCountIs('AWS::ApiGateway::UsagePlan', 1);
  batch.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 5 } });
});

describe.each(STACKS)('the %s stack synthesized from Python', (stack) => {
  test('is the TypeScript example\'s template', () => {
    expect(readJson(pythonOut, `${stack}.template.json`)).toEqual(readJson(typescriptOut, `${stack}.template.json`));
  });

  test('has the TypeScript example\'s assets: the same image build context, staged in its cdk.out', () => {
    const assets = readJson(pythonOut, `${stack}.assets.json`);
    expect(assets).toEqual(readJson(typescriptOut, `${stack}.assets.json`));
    const images = Object.values(assets.dockerImages as Record<string, { source: { directory: string; dockerFile: string } }>);
    expect(images).toHaveLength(1);
    expect(fs.existsSync(path.join(pythonOut, images[0].source.directory, images[0].source.dockerFile))).toBe(true);
  });
});
