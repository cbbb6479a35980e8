#!/usr/bin/env node
// The demo model (runtime/models/mobilenet_v2, a TF.js layers model) in the formats a
// TensorFlow user has, made by Python TensorFlow itself, with Python TF's own answers for the
// sample photos (runtime/samples): the inputs of the SavedModel and Keras tests and of the
// Python TF + Flask peer of the benchmarks. Nothing of it is committed (about 60 MB).
//
//   node runtime/scripts/reference-models.mjs        set up (if needed) and print the paths
//   PYTHON=/usr/bin/python3.12 node ...              use that interpreter instead of python3
//
// Two steps, each kept in the machine cache ($SERVERLESS_TF_REFERENCE_MODELS_CACHE, else
// $XDG_CACHE_HOME or ~/.cache, under cdk-serverless-tensorflow/reference-models) and done
// once: a virtual environment with the pinned TensorFlow, tensorflowjs and Flask (a new pin
// gets a new folder), and the models, keyed by that environment, the demo model's files,
// task.json, the photos, reference-models.py and this script (any change makes them again). Cached, a run
// takes well under a second and needs no network.
//
// The models: tensorflowjs_converter turns the layers model into a Keras HDF5 file
// (mobilenet_v2.h5); reference-models.py loads that with tf.keras.models.load_model, saves it
// as mobilenet_v2.keras, exports a SavedModel (model.export(): signature serving_default) and
// writes reference.json: tf.keras's probabilities and top-1 label per photo, preprocessed by
// TF (decode_image, bilinear resize to 224, /255) in the demo task's way (alignCorners) and in
// TF2's default one (halfPixelCenters). Then the converter makes of the .h5 a TF.js layers
// model (tfjs-from-h5) and of the SavedModel a TF.js graph model (tfjs-from-saved-model).
//
// Prints one JSON object on stdout (progress goes to stderr) and exits 0, or says what
// failed and exits 1:
//   { "python", "tensorflowjsConverter", "venv", "versions": {...}, "layersModel", "task",
//     "samples", "h5", "keras", "savedModel", "reference", "tfjsFromH5", "tfjsFromSavedModel" }
// `python` has TensorFlow and Flask; `tensorflowjsConverter` is the converter's executable.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SetUpError, cacheRoot, fail, interpreter, run, venvExecutable, withLock } from '../../scripts/python-setup.mjs';

// Every distribution of the environment, pinned, installed with --no-deps (so pip resolves
// nothing and installs exactly these). TensorFlow 2.15 is the last with Keras 2 as tf.keras
// (2.16 moved to Keras 3, whose files TF.js's converter reads only in part); tensorflowjs
// 4.22 is the converter of the runtime's TF.js 4.22. The converter imports tf_keras, jax,
// tensorflow_hub and tensorflow_decision_forests (and that one pandas) at start-up, so they
// are here; flax, PyInquirer and importlib_resources, which it declares too, it never imports
// for these conversions. tensorflow-decision-forests 1.8.1 is the one built for TF 2.15.
// Flask is for the benchmarks' Python peer.
const REQUIREMENTS = [
  'absl-py==2.5.1', 'astunparse==1.6.3', 'blinker==1.9.0', 'certifi==2026.10.19.post1', 'cffi==2.1.1',
  'charset-normalizer==3.5.3', 'click==8.5.1', 'cryptography==50.0.2', 'Flask==3.1.2', 'flatbuffers==25.12.19',
  'gast==0.7.0', 'google-auth==2.63.0', 'google-auth-oauthlib==1.5.0', 'google-pasta==0.2.0', 'grpcio==1.85.3',
  'h5py==3.16.0', 'idna==3.20', 'itsdangerous==2.2.0', 'jax==0.4.30', 'jaxlib==0.4.30', 'Jinja2==3.1.6',
  'keras==2.15.0', 'libclang==18.1.1', 'Markdown==3.11.3', 'MarkupSafe==3.0.4', 'ml-dtypes==0.3.2',
  'numpy==1.26.4', 'oauthlib==4.0.1', 'opt_einsum==3.4.0', 'packaging==26.4', 'pandas==2.2.3',
  'protobuf==4.25.9', 'pyasn1==0.6.5', 'pyasn1_modules==0.4.2', 'pycparser==3.12', 'python-dateutil==4.0.0',
  'pytz==2026.6', 'requests==2.34.2', 'requests-oauthlib==2.0.0', 'scipy==1.17.1', 'six==1.17.0',
  'tensorboard==2.15.2', 'tensorboard-data-server==0.7.2', 'tensorflow-cpu==2.15.1',
  'tensorflow-decision-forests==1.8.1', 'tensorflow-estimator==2.15.0', 'tensorflow-hub==0.16.1',
  'tensorflow-io-gcs-filesystem==0.37.1', 'tensorflowjs==4.22.0', 'termcolor==3.3.0', 'tf_keras==2.15.1',
  'typing_extensions==4.16.0', 'tzdata==2026.6', 'urllib3==2.8.0', 'Werkzeug==3.1.9', 'wrapt==1.14.2',
  'wurlitzer==3.1.1',
];
const VERSIONS = { tensorflow: '2.15.1', tensorflowjs: '4.22.0', keras: '2.15.0', flask: '3.1.2' };
// TensorFlow 2.15's wheels are for Python 3.9-3.11.
const MIN_PYTHON = [3, 9];
const MAX_PYTHON_MINOR = 11;
const MARKER = '.complete';

const runtimeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demoDir = path.join(runtimeDir, 'models', 'mobilenet_v2');
const samplesDir = path.join(runtimeDir, 'samples');
const pythonScript = path.join(runtimeDir, 'scripts', 'reference-models.py');
const IMAGE = /\.(jpe?g|png|gif|bmp)$/i;

const log = (message) => process.stderr.write(`reference-models: ${message}\n`);
// libtensorflow's INFO lines (oneDNN, CPU features) are noise here; warnings and errors show.
const pythonEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', PYTHONDONTWRITEBYTECODE: '1' };

function python() {
  const found = interpreter(MIN_PYTHON, 'TensorFlow 2.15');
  const minor = Number(found.version.split('.')[1]);
  if (found.version.startsWith('3.') && minor > MAX_PYTHON_MINOR) {
    fail(`${found.command} is Python ${found.version}; TensorFlow ${VERSIONS.tensorflow} has wheels for Python 3.9 to 3.${MAX_PYTHON_MINOR} only (set PYTHON to one).`);
  }
  return found;
}

const sha = (...parts) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p).update('\0');
  return hash.digest('hex').slice(0, 16);
};

function venvReady(venv) {
  return fs.existsSync(path.join(venv, MARKER)) && fs.existsSync(venvExecutable(venv, 'tensorflowjs_converter'));
}

function setUpVenv(py, venv) {
  log(`creating ${venv} (Python ${py.version}; TensorFlow ${VERSIONS.tensorflow}, tensorflowjs ${VERSIONS.tensorflowjs}: about 2 GB on disk, a few minutes)`);
  fs.rmSync(venv, { recursive: true, force: true });
  run(py.command, ['-m', 'venv', venv], 'creating the virtual environment');
  const requirementsFile = path.join(venv, 'requirements.txt');
  fs.writeFileSync(requirementsFile, `${REQUIREMENTS.join('\n')}\n`);
  // The index is whatever pip is configured with (pip.conf, PIP_INDEX_URL): none named here.
  run(venvExecutable(venv, 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--no-deps', '--only-binary=:all:', '-r', requirementsFile],
    'installing the pinned requirements (is the package index reachable?)');
  const version = run(venvExecutable(venv, 'tensorflowjs_converter'), ['--version'], 'checking tensorflowjs_converter', { env: pythonEnv }).trim().split('\n')[0];
  fs.writeFileSync(path.join(venv, MARKER), `${version}\n`);
  log(`${version} ready`);
}

/** The files the models are made from, in a stable order. */
function inputFiles() {
  if (!fs.existsSync(path.join(demoDir, 'model.json'))) {
    log('the demo model is missing: converting it (scripts/convert-demo-model.mjs)');
    run(process.execPath, [path.join(runtimeDir, 'scripts', 'convert-demo-model.mjs')], 'converting the demo model', { cwd: runtimeDir });
  }
  const model = fs.readdirSync(demoDir).filter((f) => f === 'model.json' || f === 'task.json' || f.endsWith('.bin')).sort().map((f) => path.join(demoDir, f));
  const photos = fs.readdirSync(samplesDir).filter((f) => IMAGE.test(f)).sort().map((f) => path.join(samplesDir, f));
  if (photos.length === 0) fail(`no photos in ${samplesDir}`);
  return [fileURLToPath(import.meta.url), pythonScript, ...model, ...photos];
}

const outputs = (dir) => ({
  h5: path.join(dir, 'mobilenet_v2.h5'),
  keras: path.join(dir, 'mobilenet_v2.keras'),
  savedModel: path.join(dir, 'saved_model'),
  reference: path.join(dir, 'reference.json'),
  // What `cdk synth` makes of the Keras file and the SavedModel for Compute.zip(), made here
  // once with the same converter commands (lib/private/model-conversion.ts).
  tfjsFromH5: path.join(dir, 'tfjs-from-h5'),
  tfjsFromSavedModel: path.join(dir, 'tfjs-from-saved-model'),
});

function modelsReady(dir) {
  return fs.existsSync(path.join(dir, MARKER)) && Object.values(outputs(dir)).every((p) => fs.existsSync(p));
}

function makeModels(venv, dir) {
  log(`making the demo model's .h5, .keras, SavedModel and Python TF's reference answers in ${dir}`);
  const building = `${dir}.partial`;
  fs.rmSync(building, { recursive: true, force: true });
  fs.mkdirSync(building, { recursive: true });
  const out = outputs(building);
  const started = Date.now();
  run(venvExecutable(venv, 'tensorflowjs_converter'), ['--input_format', 'tfjs_layers_model', '--output_format', 'keras', path.join(demoDir, 'model.json'), out.h5],
    'converting the TF.js layers model to Keras HDF5 (tensorflowjs_converter)', { env: pythonEnv });
  const progress = run(venvExecutable(venv, 'python'), [pythonScript, path.join(demoDir, 'task.json'), samplesDir, building],
    'making the .keras file, the SavedModel and the reference answers (reference-models.py)', { env: pythonEnv });
  // model.export() prints the whole signature (hundreds of lines): only the script's own lines.
  for (const line of progress.split('\n').filter((l) => l.startsWith('reference-models.py:'))) log(line);
  const converter = venvExecutable(venv, 'tensorflowjs_converter');
  run(converter, ['--input_format', 'keras', '--output_format', 'tfjs_layers_model', out.h5, out.tfjsFromH5],
    'converting the .h5 file to a TF.js layers model (tensorflowjs_converter)', { env: pythonEnv });
  run(converter, ['--input_format', 'tf_saved_model', '--output_format', 'tfjs_graph_model', '--signature_name', 'serving_default', '--saved_model_tags', 'serve', out.savedModel, out.tfjsFromSavedModel],
    'converting the SavedModel to a TF.js graph model (tensorflowjs_converter)', { env: pythonEnv });
  fs.writeFileSync(path.join(building, MARKER), `${new Date().toISOString()}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(building, dir);
  log(`models made in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function main() {
  const py = python();
  const requirements = REQUIREMENTS.join('\n');
  const venvKey = sha(requirements, `${py.implementation} ${py.version.split('.').slice(0, 2).join('.')}`, `${process.platform}-${process.arch}`);
  const root = cacheRoot('SERVERLESS_TF_REFERENCE_MODELS_CACHE', 'reference-models');
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (err) {
    fail(`cannot create the cache folder ${root}: ${err.message}`);
  }
  const venv = path.join(root, `venv-${venvKey}`);
  if (!venvReady(venv)) {
    withLock(`${venv}.lock`, () => venvReady(venv), () => setUpVenv(py, venv), log);
    if (!venvReady(venv)) fail(`set-up of ${venv} did not complete`);
  }
  const files = inputFiles();
  const modelsKey = sha(venvKey, ...files.map((f) => `${path.relative(runtimeDir, f)}\0${createHash('sha256').update(fs.readFileSync(f)).digest('hex')}`));
  const models = path.join(root, `models-${modelsKey}`);
  if (!modelsReady(models)) {
    withLock(`${models}.lock`, () => modelsReady(models), () => makeModels(venv, models), log);
    if (!modelsReady(models)) fail(`making ${models} did not complete`);
  }
  const result = {
    python: venvExecutable(venv, 'python'),
    tensorflowjsConverter: venvExecutable(venv, 'tensorflowjs_converter'),
    venv,
    versions: VERSIONS,
    layersModel: demoDir,
    task: path.join(demoDir, 'task.json'),
    samples: samplesDir,
    ...outputs(models),
  };
  process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
}

try {
  main();
} catch (err) {
  log(err instanceof SetUpError ? err.message : err.stack);
  process.stderr.write('reference-models: fix the above and run `node runtime/scripts/reference-models.mjs` again.\n');
  process.exit(1);
}
