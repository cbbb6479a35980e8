// Converts a Keras file (.h5, .keras) or a SavedModel to a TF.js model at synth time, as a
// CDK asset bundling step: tensorflowjs_converter from PATH when it is there (local
// bundling), else the same converter in a pinned Python image (Docker bundling). The output
// is staged in the cloud assembly (asset.<hash>, reused while the source and the command stay
// the same) and used as the model folder from there on: baked into the image, or the model
// layer of a zip function.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { AssetStaging, DockerImage } from 'aws-cdk-lib';
import type { BundlingOptions, ILocalBundling } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { TensorFlowValidationError } from './validation-error';

/** What a source is converted from. */
export type ConversionSource = 'keras-h5' | 'keras-v3' | 'saved-model';

/**
 * The image of Docker bundling: the official Python image, pinned by tag (TensorFlow 2.15's
 * wheels are for Python 3.9 to 3.11).
 */
export const CONVERTER_IMAGE = 'python:3.11.10-slim-bookworm';

/**
 * The converter and everything it imports, pinned and installed with --no-deps, so pip
 * resolves nothing: tensorflowjs declares `tensorflow` (not tensorflow-cpu) and jax/flax
 * extras it never needs here. The same pins as runtime/scripts/reference-models.mjs (without
 * its Flask), which the tests run the converter from.
 */
export const CONVERTER_REQUIREMENTS: readonly string[] = [
  'absl-py==2.5.1', 'astunparse==1.6.3', 'certifi==2026.10.19.post1', 'charset-normalizer==3.5.3',
  'flatbuffers==25.12.19', 'gast==0.7.0', 'google-auth==2.63.0', 'google-auth-oauthlib==1.5.0', 'google-pasta==0.2.0',
  'grpcio==1.85.3', 'h5py==3.16.0', 'idna==3.20', 'jax==0.4.30', 'jaxlib==0.4.30', 'keras==2.15.0', 'libclang==18.1.1',
  'Markdown==3.11.3', 'MarkupSafe==3.0.4', 'ml-dtypes==0.3.2', 'numpy==1.26.4', 'oauthlib==4.0.1', 'opt_einsum==3.4.0',
  'packaging==26.4', 'pandas==2.2.3', 'protobuf==4.25.9', 'pyasn1==0.6.5', 'pyasn1_modules==0.4.2',
  'python-dateutil==4.0.0', 'pytz==2026.6', 'requests==2.34.2', 'requests-oauthlib==2.0.0', 'scipy==1.17.1',
  'six==1.17.0', 'tensorboard==2.15.2', 'tensorboard-data-server==0.7.2', 'tensorflow-cpu==2.15.1',
  'tensorflow-decision-forests==1.8.1', 'tensorflow-estimator==2.15.0', 'tensorflow-hub==0.16.1',
  'tensorflow-io-gcs-filesystem==0.37.1', 'tensorflowjs==4.22.0', 'termcolor==3.3.0', 'tf_keras==2.15.1',
  'typing_extensions==4.16.0', 'tzdata==2026.6', 'urllib3==2.8.0', 'Werkzeug==3.1.9', 'wrapt==1.14.2', 'wurlitzer==3.1.1',
];

const CONVERTER = 'tensorflowjs_converter';

/** The converter's arguments for `source` (a path the converter can read) into `outputDir`. */
function converterArgs(kind: ConversionSource, source: string, outputDir: string): string[] {
  switch (kind) {
    case 'keras-h5':
      return ['--input_format', 'keras', '--output_format', 'tfjs_layers_model', source, outputDir];
    case 'keras-v3':
      return ['--input_format', 'keras_keras', '--output_format', 'tfjs_layers_model', source, outputDir];
    case 'saved-model':
      return ['--input_format', 'tf_saved_model', '--output_format', 'tfjs_graph_model', '--signature_name', 'serving_default', '--saved_model_tags', 'serve', source, outputDir];
  }
}

/** The TF.js format a conversion gives: Keras files keep their layers, a SavedModel becomes a graph. */
export function convertedFormat(kind: ConversionSource): 'layers' | 'graph' {
  return kind === 'saved-model' ? 'graph' : 'layers';
}

/** An executable called `name` in a folder of PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  const windows = process.platform === 'win32';
  const names = windows ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').map((e) => `${name}${e.toLowerCase()}`).concat(name) : [name];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const candidate of names) {
      const file = path.join(dir, candidate);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The message when neither a converter nor Docker is at hand: what to install. */
export function noConverterMessage(sourcePath: string, kind: ConversionSource): string {
  const what = kind === 'saved-model' ? 'The SavedModel' : 'The Keras file';
  return `${what} ${sourcePath} must be converted to a TF.js model at synth time (${kind === 'saved-model' ? 'Compute.zip() runs the wasm backend, which cannot load a SavedModel' : 'TF.js cannot load Keras files'}), `
    + `but neither ${CONVERTER} nor docker is on PATH. Install the converter (\`pip install tensorflowjs==4.22.0\`, with Python 3.9-3.11 and TensorFlow 2.15) `
    + `or Docker (synth then runs the converter in the ${CONVERTER_IMAGE} image), or convert the model yourself with ${CONVERTER} and give Model.fromAsset the output folder.`;
}

/**
 * Local bundling: the converter on PATH. Nothing of it may be a field: CDK hashes the bundling
 * options as JSON, and the paths here would give the same model another hash on another machine.
 */
function localConverter(kind: ConversionSource, sourcePath: string, source: string): ILocalBundling {
  return {
    tryBundle: (outputDir: string) => {
      const converter = findOnPath(CONVERTER);
      if (!converter) {
        if (process.env.CDK_DOCKER || findOnPath('docker')) return false;
        throw new Error(noConverterMessage(sourcePath, kind));
      }
      const args = converterArgs(kind, source, outputDir);
      process.stderr.write(`Converting ${sourcePath} to a TF.js ${convertedFormat(kind)} model: ${converter} ${args.join(' ')}\n`);
      const env = { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' };
      const result = spawnSync(converter, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, env });
      if (result.error || result.status !== 0) {
        const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-20).join('\n');
        throw new Error(`${CONVERTER} failed on ${sourcePath} (exit ${result.status ?? result.error?.message}): ${output}`);
      }
      return true;
    },
  };
}

/**
 * The folder of the TF.js model converted from `sourcePath` (a .h5/.keras file or a
 * SavedModel folder), staged in the cloud assembly under `scope`.
 */
export function convertModel(scope: IConstruct, sourcePath: string, kind: ConversionSource): string {
  const isFile = kind !== 'saved-model';
  // Bundling mounts a folder: for a file, its folder with every other entry excluded (from
  // the hash and the copy; Docker still sees the folder).
  const folder = isFile ? path.dirname(sourcePath) : sourcePath;
  const name = path.basename(sourcePath);
  const inside = (root: string) => (isFile ? `${root}/${name}` : root);
  const pins = CONVERTER_REQUIREMENTS.join(' ');
  const bundling: BundlingOptions = {
    image: DockerImage.fromRegistry(CONVERTER_IMAGE),
    // The image runs as the caller's user (CDK's default): pip installs into $HOME=/tmp.
    environment: { HOME: '/tmp', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_CACHE_DIR: '1', TF_CPP_MIN_LOG_LEVEL: '2' },
    command: ['sh', '-c', [
      `pip install --quiet --user --no-deps --only-binary=:all: ${pins}`,
      `/tmp/.local/bin/${CONVERTER} ${converterArgs(kind, inside(AssetStaging.BUNDLING_INPUT_DIR), AssetStaging.BUNDLING_OUTPUT_DIR).join(' ')}`,
    ].join(' && ')],
    local: localConverter(kind, sourcePath, inside(folder)),
  };
  const staging = new AssetStaging(scope, 'ModelConversion', {
    sourcePath: folder,
    bundling,
    ...(isFile ? { exclude: ['*', `!${name}`] } : {}),
  });
  const out = staging.absoluteStagedPath;
  // A stack that is not being synthesized for deployment skips bundling (cdk synth
  // --exclusively): the source stands in, and nothing of it is deployed.
  if (out === folder) return sourcePath;
  if (!fs.existsSync(path.join(out, 'model.json'))) {
    throw new TensorFlowValidationError(scope, `${CONVERTER} wrote no model.json for ${sourcePath} (the output in ${out} holds ${fs.readdirSync(out).join(', ') || 'nothing'}).`);
  }
  return out;
}

/** The bytes of a file, or of every file under a folder. */
export function pathSize(p: string): number {
  if (!fs.statSync(p).isDirectory()) return fs.statSync(p).size;
  return fs.readdirSync(p).reduce((total, entry) => total + pathSize(path.join(p, entry)), 0);
}
