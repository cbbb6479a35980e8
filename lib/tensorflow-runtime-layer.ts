// The runtime of zip functions as a Lambda layer: the runtime bundle and the packages it
// leaves external (TensorFlow.js with the wasm backend, sharp with its libvips for Linux),
// pruned to what Node.js loads so the layer stays far below Lambda's 250 MB.
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AssetHashType } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RUNTIME_DIR, requireRuntimeFile } from './private/runtime-package';

/**
 * Properties of a TensorFlowRuntimeLayer.
 */
export interface TensorFlowRuntimeLayerProps {
  /**
   * The instruction set of the functions that use the layer: sharp's native libvips is
   * installed for it.
   *
   * @default lambda.Architecture.X86_64
   */
  readonly architecture?: lambda.Architecture;
}

/**
 * The serverless-tf runtime as a Lambda layer, for Node.js zip functions on the
 * TensorFlow.js wasm backend.
 *
 * It holds `nodejs/serverless-tf/handler.mjs` (the runtime bundle, which exports
 * `handler`, with the chunks it loads) and, in `nodejs/node_modules`, the packages the bundle imports at run time:
 * `@tensorflow/tfjs`, `@tensorflow/tfjs-backend-wasm` and `sharp` with its prebuilt
 * libvips for Linux (glibc) on the layer's architecture. ES modules resolve bare imports
 * by walking up from the importing file (NODE_PATH does not apply to them), so
 * `/opt/nodejs/serverless-tf/handler.mjs` finds `/opt/nodejs/node_modules`. A function
 * uses it with a one-line `index.mjs`:
 * `export { handler } from '/opt/nodejs/serverless-tf/handler.mjs';`
 *
 * Browser builds, type declarations and source maps are left out: about 31 MB unzipped
 * (11 MB zipped) instead of 340 MB. The layer is built at synth time with the local
 * npm (10.2 or later, which can install packages for another platform), or in the
 * Node.js 24 bundling image when npm is missing or older.
 *
 * One layer can serve any number of functions of the same architecture. A
 * TensorFlowFunction with zip compute creates one per stack and architecture and shares
 * it between all of its zip functions; to share one between stacks instead (built once,
 * in a stack of its own), give its `layerVersion` as `Compute.zip({ runtimeLayer })`,
 * which also checks at synth time that the architectures match. A function in another
 * stack imports the layer's ARN through a CloudFormation export, which cannot change
 * while it is imported: when the runtime changes, the layers stack fails to deploy the
 * new layer version. If that matters, publish the ARN in an SSM parameter instead, and
 * import it with `lambda.LayerVersion.fromLayerVersionArn`.
 *
 * @example
 * // In the "layers" stack:
 * const runtime = new TensorFlowRuntimeLayer(layersStack, 'Runtime', { architecture: lambda.Architecture.ARM_64 });
 * // In any stack of the same account and region:
 * new TensorFlowFunction(this, 'Classifier', {
 *   model: Model.fromAsset('models/mobilenet_v2'),
 *   compute: Compute.zip({ runtimeLayer: runtime.layerVersion }),
 *   architecture: lambda.Architecture.ARM_64,
 * });
 */
export class TensorFlowRuntimeLayer extends Construct {
  /** The layer version. */
  public readonly layerVersion: lambda.LayerVersion;
  /** The architecture the layer's native code is built for. */
  public readonly architecture: lambda.Architecture;

  public constructor(scope: Construct, id: string, props: TensorFlowRuntimeLayerProps = {}) {
    super(scope, id);
    this.architecture = props.architecture ?? lambda.Architecture.X86_64;
    const cpu = this.architecture.name === lambda.Architecture.ARM_64.name ? 'arm64' : 'x64';
    requireRuntimeFile(this, 'package-lock.json');
    const bundle = bundleFiles(this);

    const hash = crypto.createHash('sha256');
    for (const file of ['package-lock.json', ...bundle]) hash.update(file).update(fs.readFileSync(path.join(RUNTIME_DIR, file)));
    hash.update(this.architecture.name);

    this.layerVersion = new lambda.LayerVersion(this, 'Layer', {
      description: `serverless-tf runtime: TensorFlow.js (wasm backend) and sharp for Node.js on Linux ${this.architecture.name}`,
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X, lambda.Runtime.NODEJS_24_X],
      compatibleArchitectures: [this.architecture],
      code: lambda.Code.fromAsset(RUNTIME_DIR, {
        assetHashType: AssetHashType.CUSTOM,
        assetHash: hash.digest('hex'),
        bundling: {
          image: lambda.Runtime.NODEJS_24_X.bundlingImage,
          // The prune script travels as an environment variable: the bundling image has
          // node but not this package. Being part of the bundling options, it is also
          // part of the asset hash, so a change to it rebuilds the layer.
          environment: { [PRUNE_SCRIPT_ENV]: PRUNE_SCRIPT, npm_config_cache: '/tmp/.npm', npm_config_update_notifier: 'false', HOME: '/tmp' },
          command: ['bash', '-c', [
            'set -euo pipefail',
            'work=$(mktemp -d)',
            'cp /asset-input/package.json /asset-input/package-lock.json "$work"/',
            'cd "$work"',
            `npm ${npmCiArgs(cpu).join(' ')}`,
            `node -e "$${PRUNE_SCRIPT_ENV}" "$work/node_modules"`,
            `mkdir -p ${BUNDLE_DIR_IN_LAYER_DOCKER}`,
            'cp -R "$work/node_modules" /asset-output/nodejs/node_modules',
            `cd /asset-input/dist && cp --parents ${bundle.map((f) => path.posix.relative('dist', f)).join(' ')} ${BUNDLE_DIR_IN_LAYER_DOCKER}/`,
          ].join(' && ')],
          local: { tryBundle: (outputDir) => bundleLocally(outputDir, cpu, bundle) },
        },
      }),
    });
  }
}

/**
 * `npm ci` for production dependencies of Linux (glibc) on `cpu`, whatever the host.
 * No install scripts run: sharp ships prebuilt binaries in its @img packages, and
 * nothing else the layer keeps has one.
 */
function npmCiArgs(cpu: string): string[] {
  return ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--os=linux', `--cpu=${cpu}`, '--libc=glibc'];
}

/** npm learnt --libc in 10.2; an older npm would install sharp's binaries for the host. */
const MIN_NPM = [10, 2];

/** Where the runtime bundle goes in the layer: /opt/nodejs/serverless-tf, beside /opt/nodejs/node_modules. */
const BUNDLE_DIR_IN_LAYER = path.join('nodejs', 'serverless-tf');
const BUNDLE_DIR_IN_LAYER_DOCKER = '/asset-output/nodejs/serverless-tf';

/**
 * The runtime bundle, relative to runtime/: dist/handler.mjs and the chunks esbuild split
 * off (loaded on first use, e.g. the AWS SDK). Chunks of the CLI come along: they are
 * small, and telling them apart would mean parsing imports.
 */
function bundleFiles(scope: Construct): string[] {
  requireRuntimeFile(scope, 'dist/handler.mjs');
  const chunksDir = path.join(RUNTIME_DIR, 'dist', 'chunks');
  const chunks = fs.existsSync(chunksDir) ? fs.readdirSync(chunksDir).filter((f) => f.endsWith('.mjs')).sort() : [];
  return ['dist/handler.mjs', ...chunks.map((f) => `dist/chunks/${f}`)];
}

/** Builds the layer with the local npm; false when there is no suitable npm, so Docker is tried. */
function bundleLocally(outputDir: string, cpu: string, bundle: string[]): boolean {
  const shell = process.platform === 'win32';
  const version = spawnSync('npm', ['--version'], { encoding: 'utf8', shell });
  if (version.status !== 0) return false;
  const [major, minor] = version.stdout.trim().split('.').map(Number);
  if (major < MIN_NPM[0] || (major === MIN_NPM[0] && minor < MIN_NPM[1])) return false;

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-layer-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(RUNTIME_DIR, f), path.join(work, f));
    run('npm', npmCiArgs(cpu), work, shell);
    const nodeModules = path.join(work, 'node_modules');
    run(process.execPath, ['-e', PRUNE_SCRIPT, nodeModules], work, false);
    fs.cpSync(nodeModules, path.join(outputDir, 'nodejs', 'node_modules'), { recursive: true });
    for (const file of bundle) {
      const target = path.join(outputDir, BUNDLE_DIR_IN_LAYER, path.relative('dist', file));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(RUNTIME_DIR, file), target);
    }
    return true;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], cwd: string, shell: boolean): void {
  const result = spawnSync(command, args, { cwd, shell, stdio: ['ignore', process.stderr, 'inherit'] });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`TensorFlowRuntimeLayer: \`${path.basename(command)} ${args[0]}\` failed with exit code ${result.status} in ${cwd}.`);
  }
}

const PRUNE_SCRIPT_ENV = 'SERVERLESS_TF_PRUNE_SCRIPT';

/**
 * Plain Node.js (CommonJS, no dependencies) that trims `npm ci` output, given as the
 * last argument, to what the runtime loads:
 * 1. only the packages reachable from the bundle's external imports. The rest (the AWS
 *    SDK, Powertools and the other dependencies esbuild bundled, tfjs-node and
 *    tfjs-node-gpu) goes. Not followed: type declaration packages, and the CLI and
 *    polyfill dependencies @tensorflow/tfjs declares but its Node entry never requires.
 * 2. in the @tensorflow packages, only package.json, the "main" file (a self-contained
 *    CommonJS bundle, which is what Node loads) and the .wasm binaries beside it
 *    (tfjs-backend-wasm reads them from its own folder). The ES module trees and the
 *    UMD/minified browser builds are 90% of the install.
 * 3. everywhere: source maps, type declarations, Markdown.
 * It prints the sizes before and after.
 */
const PRUNE_SCRIPT = String.raw`
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.resolve(process.argv[process.argv.length - 1]);
const parent = path.dirname(root);
const ENTRIES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp'];
const NOT_LOADED = { '@tensorflow/tfjs': ['argparse', 'chalk', 'core-js', 'regenerator-runtime', 'yargs'] };
const typesOnly = (name) => name.startsWith('@types/') || name === '@webgpu/types';
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const sizeOf = (p) => { const s = fs.lstatSync(p); return s.isDirectory() ? fs.readdirSync(p).reduce((t, e) => t + sizeOf(path.join(p, e)), 0) : s.size; };
const isLicense = (name) => /^(licen[cs]e|notice)/i.test(name);
function resolveFrom(dir, name) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (path.basename(d) !== 'node_modules') {
      const candidate = path.join(d, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    }
    if (d === parent || d === path.dirname(d)) return undefined;
  }
}
const before = sizeOf(root);
const keep = new Set();
const queue = ENTRIES.map((name) => {
  const dir = resolveFrom(parent, name);
  if (!dir) throw new Error(name + ' is not installed in ' + root);
  return dir;
});
while (queue.length) {
  const dir = queue.pop();
  if (keep.has(dir)) continue;
  keep.add(dir);
  const pkg = readJson(path.join(dir, 'package.json'));
  const optional = pkg.optionalDependencies || {};
  const skip = NOT_LOADED[pkg.name] || [];
  for (const name of Object.keys({ ...pkg.dependencies, ...optional })) {
    if (typesOnly(name) || skip.includes(name)) continue;
    const found = resolveFrom(dir, name);
    if (found) queue.push(found);
    else if (!(name in optional)) throw new Error(pkg.name + ' depends on ' + name + ', which is not installed');
  }
}
function packagesIn(nm) {
  if (!fs.existsSync(nm)) return [];
  return fs.readdirSync(nm).filter((e) => !e.startsWith('.')).flatMap((e) =>
    e.startsWith('@') ? fs.readdirSync(path.join(nm, e)).map((s) => path.join(nm, e, s)) : [path.join(nm, e)]);
}
function sweep(nm) {
  for (const dir of packagesIn(nm)) {
    if (keep.has(dir)) sweep(path.join(dir, 'node_modules'));
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!fs.existsSync(nm)) return;
  for (const e of fs.readdirSync(nm)) {
    const p = path.join(nm, e);
    if (e.startsWith('.') || (e.startsWith('@') && fs.readdirSync(p).length === 0)) fs.rmSync(p, { recursive: true, force: true });
  }
  if (nm !== root && fs.readdirSync(nm).length === 0) fs.rmdirSync(nm);
}
sweep(root);
for (const dir of keep) {
  const pkg = readJson(path.join(dir, 'package.json'));
  if (!pkg.name.startsWith('@tensorflow/')) continue;
  const main = path.resolve(dir, pkg.main);
  if (!fs.existsSync(main)) throw new Error(pkg.name + ': main file ' + pkg.main + ' is missing');
  const besideMain = (p) => path.dirname(p) === path.dirname(main);
  const wanted = (p) => p === main || p === path.join(dir, 'package.json') || isLicense(path.basename(p)) || (p.endsWith('.wasm') && besideMain(p));
  const trim = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (p === path.join(dir, 'node_modules')) continue;
        trim(p);
        if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
      } else if (!wanted(p)) fs.rmSync(p);
    }
  };
  trim(dir);
}
const NOT_RUNTIME = /(\.map|\.d\.[cm]?ts|\.tsbuildinfo|\.md|\.markdown)$/i;
const clean = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) clean(p);
    else if (NOT_RUNTIME.test(e.name) && !isLicense(e.name)) fs.rmSync(p);
  }
};
clean(root);
const mb = (n) => (n / 1e6).toFixed(1) + ' MB';
console.log('serverless-tf runtime layer: node_modules pruned from ' + mb(before) + ' to ' + mb(sizeOf(root)) + ' (' + keep.size + ' packages)');
`;
