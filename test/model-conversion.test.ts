// Keras files and SavedModels converted at synth time (CDK asset bundling): with
// tensorflowjs_converter on PATH (the pinned one of runtime/scripts/reference-models.mjs,
// which also writes the demo model's .h5, .keras and SavedModel with Python TensorFlow, in
// the machine cache), with a stand-in `docker` executable that records how synth calls it,
// and with neither. The demo model is nsfwjs's MobileNetV2 (MIT, runtime/models/mobilenet_v2).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Compute, InferenceTask, Model, ModelFormat, RuntimeEnvironment, TensorFlowFunction } from '../lib';
import { envOf } from './support';
import { CONVERTER_IMAGE, CONVERTER_REQUIREMENTS } from '../lib/private/model-conversion';

const SET_UP = path.join(__dirname, '..', 'runtime', 'scripts', 'reference-models.mjs');
const LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

interface ReferenceModels {
  readonly python: string;
  readonly tensorflowjsConverter: string;
  readonly h5: string;
  readonly keras: string;
  readonly savedModel: string;
  readonly tfjsFromH5: string;
}

let models: ReferenceModels;
/** PATH with the pinned converter's folder first. */
let converterPath: string;
/** A PATH with the system tools (sh, cp) and no converter and no docker. */
const SYSTEM_PATH = ['/usr/bin', '/bin'].join(path.delimiter);

beforeAll(() => {
  // Seconds when cached; the first time on a machine it installs TensorFlow (a few minutes).
  const result = spawnSync(process.execPath, [SET_UP], { encoding: 'utf8', timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`The reference models could not be set up: run \`node runtime/scripts/reference-models.mjs\` and fix what it reports.\n${result.stderr ?? ''}${result.error?.message ?? ''}`);
  }
  models = JSON.parse(result.stdout) as ReferenceModels;
  converterPath = [path.dirname(models.tensorflowjsConverter), process.env.PATH].join(path.delimiter);
}, 15 * 60_000);

/** Runs `work` with PATH set to `value`, then puts PATH back. */
function withPath<T>(value: string, work: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = value;
  try {
    return work();
  } finally {
    process.env.PATH = saved;
  }
}

/** A stack in an app that bundles assets (into its own cdk.out), as `cdk synth` does. */
function bundlingStack(outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'conversion-out-'))): Stack {
  return new Stack(new App({ outdir }), 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

const imageTask = (labels = LABELS) => InferenceTask.imageClassification({ inputSize: 224, labels });
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

describe('with tensorflowjs_converter on PATH', () => {
  // One cloud assembly: the .h5 converted for the first test is reused by the next.
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'conversion-out-'));

  test('Model.fromAsset of a Keras .h5 file on Compute.zip(): synth converts it to a TF.js layers model, which the model layer holds', () => {
    // GIVEN
    const stack = bundlingStack(outdir);

    // WHEN
    const fn = withPath(converterPath, () => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(models.h5), compute: Compute.zip(), task: imageTask() }));

    // THEN
    expect(fn.model.format).toBe(ModelFormat.LAYERS);
    expect(fn.model.localPath!.startsWith(outdir)).toBe(true);
    const modelJson = readJson(path.join(fn.model.localPath!, 'model.json'));
    expect(modelJson).toMatchObject({ format: 'layers-model', convertedBy: expect.stringMatching(/TensorFlow\.js Converter v4\.22\.0/) });
    expect(envOf(Template.fromStack(stack))).toMatchObject({ [RuntimeEnvironment.MODEL_FORMAT]: 'layers', [RuntimeEnvironment.MODEL_URI]: '/opt/model' });
    // The model layer's staged asset: the converted model under model/.
    const layerAssets = fs.readdirSync(outdir).filter((d) => d.startsWith('asset.') && fs.existsSync(path.join(outdir, d, 'model', 'model.json')));
    expect(layerAssets).toHaveLength(1);
    expect(fs.readFileSync(path.join(outdir, layerAssets[0], 'model', 'model.json'), 'utf8')).toBe(fs.readFileSync(path.join(fn.model.localPath!, 'model.json'), 'utf8'));
    expect(fs.readdirSync(path.join(outdir, layerAssets[0], 'model')).filter((f) => f.endsWith('.h5'))).toEqual([]);
  });

  test('the converted model is checked against the task like any TF.js model: 3 labels for its 5 classes fail synth', () => {
    const stack = bundlingStack(outdir);
    expect(() => withPath(converterPath, () => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(models.h5), compute: Compute.zip(), task: imageTask(LABELS.slice(0, 3)) })))
      .toThrow(/3 labels|labels.*5/);
  });

  test('a .keras file on container compute is converted too (tfjs-node cannot load Keras files): the image gets the TF.js model', () => {
    const stack = bundlingStack(outdir);
    const fn = withPath(converterPath, () => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(models.keras), task: imageTask() }));
    expect(fn.model.format).toBe(ModelFormat.LAYERS);
    expect(readJson(path.join(fn.model.localPath!, 'model.json'))).toMatchObject({ format: 'layers-model' });
    expect(envOf(Template.fromStack(stack))).toMatchObject({ [RuntimeEnvironment.MODEL_FORMAT]: 'layers' });
  });

  test('a SavedModel on Compute.zip() is converted to a TF.js graph model with its serving signature', () => {
    const stack = bundlingStack(outdir);
    const fn = withPath(converterPath, () => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(models.savedModel), compute: Compute.zip(), task: imageTask() }));
    expect(fn.model.format).toBe(ModelFormat.GRAPH);
    const modelJson = readJson(path.join(fn.model.localPath!, 'model.json'));
    expect(modelJson).toMatchObject({ format: 'graph-model', signature: { inputs: { input_1: expect.anything() }, outputs: { output_0: expect.anything() } } });
    expect(fs.existsSync(path.join(fn.model.localPath!, 'saved_model.pb'))).toBe(false);
    expect(envOf(Template.fromStack(stack))).toMatchObject({ [RuntimeEnvironment.MODEL_FORMAT]: 'graph' });
  });

  test('a Keras file that is not one: the synth error carries the converter\'s own complaint', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-keras-'));
    const broken = path.join(dir, 'resnet50.h5');
    fs.writeFileSync(broken, 'not an HDF5 file');
    expect(() => withPath(converterPath, () => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset(broken), compute: Compute.zip() })))
      .toThrow(/tensorflowjs_converter failed on .*resnet50\.h5 \(exit 1\):[\s\S]*(HDF5|signature|file)/i);
  });
});

describe('without a converter', () => {
  test('a SavedModel on container compute is not converted: the image loads it natively', () => {
    const stack = bundlingStack();
    const fn = withPath(SYSTEM_PATH, () => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(models.savedModel), task: imageTask() }));
    expect(fn.model).toMatchObject({ format: ModelFormat.SAVED_MODEL, localPath: models.savedModel });
    expect(envOf(Template.fromStack(stack))).toMatchObject({ [RuntimeEnvironment.MODEL_FORMAT]: 'saved_model' });
  });

  test('neither tensorflowjs_converter nor docker on PATH: synth fails and says what to install', () => {
    expect(() => withPath(SYSTEM_PATH, () => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset(models.h5), compute: Compute.zip() })))
      .toThrow(/The Keras file .*mobilenet_v2\.h5 must be converted to a TF\.js model at synth time.*neither tensorflowjs_converter nor docker is on PATH\. Install the converter \(`pip install tensorflowjs==4\.22\.0`.*or Docker/);
    expect(() => withPath(SYSTEM_PATH, () => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset(models.savedModel), compute: Compute.zip() })))
      .toThrow(/The SavedModel .*saved_model must be converted.*Compute\.zip\(\) runs the wasm backend.*neither tensorflowjs_converter nor docker/);
  });

  test('a SavedModel read from S3 on Compute.zip() cannot be converted at synth: refused, saying how to serve it', () => {
    const stack = bundlingStack();
    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromBucket(new s3.Bucket(stack, 'B'), 'm/', { format: ModelFormat.SAVED_MODEL }), compute: Compute.zip() }))
      .toThrow(/SavedModel needs the native TensorFlow backend.*give the SavedModel folder to Model\.fromAsset/);
  });

  test('a Keras file that is not there, a Keras file given another format, and the folder of a Keras file fail with what to give', () => {
    expect(() => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset('/nonexistent/resnet50.h5'), compute: Compute.zip() }))
      .toThrow(/Model\.fromAsset: \/nonexistent\/resnet50\.h5 is not a file\. Give the path of the Keras file/);
    expect(() => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset(models.h5, { format: ModelFormat.GRAPH }) }))
      .toThrow(/format graph was given, but .*mobilenet_v2\.h5 is a Keras file, which is converted to a TF\.js layers model/);
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'keras-folder-'));
    fs.copyFileSync(models.h5, path.join(folder, 'resnet50.h5'));
    expect(() => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset(folder) }))
      .toThrow(/has neither model\.json nor saved_model\.pb.*It holds the Keras file .*resnet50\.h5: give that file's path to Model\.fromAsset/);
  });
});

describe('with docker on PATH and no converter: Docker bundling in the pinned Python image', () => {
  let recorded: string[];
  let fn: TensorFlowFunction;

  beforeAll(() => {
    // A stand-in for the docker CLI: records its arguments, and puts a converted model where
    // the container would have written it (the host folder mounted at /asset-output).
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-stand-in-'));
    const record = path.join(bin, 'arguments.txt');
    fs.writeFileSync(path.join(bin, 'docker'), [
      '#!/bin/sh',
      `printf '%s\\n' "$@" > '${record}'`,
      'out=""; prev=""',
      'for a in "$@"; do',
      '  if [ "$prev" = "-v" ]; then case "$a" in *:/asset-output*) out="${a%%:/asset-output*}";; esac; fi',
      '  prev="$a"',
      'done',
      `cp -R '${models.tfjsFromH5}'/. "$out"/ || { echo "stand-in: cp into [$out] failed" >&2; exit 3; }`,
    ].join('\n'), { mode: 0o755 });
    // CDK runs $CDK_DOCKER, else `docker` found through the PATH of the jest process itself,
    // which a test's process.env (jest's copy) does not change: CDK_DOCKER names the stand-in.
    process.env.CDK_DOCKER = path.join(bin, 'docker');
    try {
      fn = withPath([bin, SYSTEM_PATH].join(path.delimiter), () => new TensorFlowFunction(bundlingStack(), 'Fn', { model: Model.fromAsset(models.h5), compute: Compute.zip(), task: imageTask() }));
    } finally {
      delete process.env.CDK_DOCKER;
    }
    recorded = fs.readFileSync(record, 'utf8').trimEnd().split('\n');
  });

  test('docker runs the official Python image pinned by tag, with the Keras file\'s folder mounted as /asset-input', () => {
    expect(CONVERTER_IMAGE).toMatch(/^python:3\.11\.\d+-slim-bookworm$/);
    expect(recorded.slice(0, 2)).toEqual(['run', '--rm']);
    expect(recorded).toContain(CONVERTER_IMAGE);
    expect(recorded).toContain(`${path.dirname(models.h5)}:/asset-input:delegated`);
    expect(recorded.slice(recorded.indexOf('HOME=/tmp') - 1, recorded.indexOf('HOME=/tmp') + 1)).toEqual(['--env', 'HOME=/tmp']);
  });

  test('the container pip-installs the pinned converter and converts the file into /asset-output', () => {
    const [shell, flag, script] = recorded.slice(-3);
    expect([shell, flag]).toEqual(['sh', '-c']);
    expect(script).toMatch(/^pip install --quiet --user --no-deps --only-binary=:all: /);
    expect(script.split(' && ')[0].split(' ')).toEqual(expect.arrayContaining(['tensorflowjs==4.22.0', 'tensorflow-cpu==2.15.1', 'tf_keras==2.15.1']));
    expect(script).toContain(' && /tmp/.local/bin/tensorflowjs_converter --input_format keras --output_format tfjs_layers_model /asset-input/mobilenet_v2.h5 /asset-output');
  });

  test('what the container wrote becomes the model', () => {
    expect(fn.model.format).toBe(ModelFormat.LAYERS);
    expect(fs.readFileSync(path.join(fn.model.localPath!, 'model.json'), 'utf8')).toBe(fs.readFileSync(path.join(models.tfjsFromH5, 'model.json'), 'utf8'));
  });

  test('the image installs exactly the versions the tests convert with (the pinned venv)', () => {
    const freeze = spawnSync(models.python, ['-m', 'pip', 'freeze'], { encoding: 'utf8' });
    const installed = new Set(freeze.stdout.split('\n').map((l) => l.trim().toLowerCase().replace(/_/g, '-')));
    const missing = CONVERTER_REQUIREMENTS.filter((pin) => !installed.has(pin.toLowerCase().replace(/_/g, '-')));
    expect(missing).toEqual([]);
  });
});
