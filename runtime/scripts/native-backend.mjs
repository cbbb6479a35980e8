#!/usr/bin/env node
// Builds the native TensorFlow backend (@tensorflow/tfjs-node) from source and installs it
// into runtime/node_modules, without tfjs-node's install script: that script downloads
// libtensorflow from a host outside the package registries, which this project's machines
// and CI cannot reach, so `npm ci` drops the optional dependency.
//
// libtensorflow comes from the tensorflow-cpu wheel instead. 2.12.1 is the oldest wheel
// whose TensorFlow C API (TF_* and TFE_*) sits in its own library, libtensorflow_cc.so.2,
// with no Python in it: up to 2.11 the C API lives in _pywrap_tensorflow_internal.so, which
// cannot be loaded outside a Python process ("undefined symbol: PyTuple_Type"). tfjs-node
// 4.22 is written against libtensorflow 2.9.1; everything it calls is still exported by 2.12.
//
// Usage (from the repository root or runtime/):
//   node runtime/scripts/native-backend.mjs           set up (idempotent; cached steps are skipped)
//   node runtime/scripts/native-backend.mjs --check   only check that the installed addon loads
//   node runtime/scripts/native-backend.mjs --force   discard this version's cache and start over
//
// Every step keeps its result in a machine cache outside the repository,
// ${XDG_CACHE_HOME:-~/.cache}/serverless-tf/native/<tf>-<tfjs-node>-node<ABI>/, and is done
// once: `npm ci` deletes the installed copy again, and the next run puts it back from the
// cache in a few seconds, without the network. The installed package has tfjs-node's own
// layout (the addon in lib/napi-v<N>/, libtensorflow in deps/lib/, found through the
// addon's rpath $ORIGIN/../../deps/lib), so a plain require('@tensorflow/tfjs-node') works
// with no environment variables. Its npm dependencies go into its own nested node_modules,
// except @tensorflow/tfjs: that one must be the runtime's, or the backend would register on
// another copy of tfjs-core. runtime/package.json and package-lock.json are not touched.
//
// Needs: Linux x64, python3 with pip, a C++ compiler and make (node-gyp), Node's headers
// (include/node beside the node binary), npm. Prints one line per step; exits non-zero
// with the name of the step that failed.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, cp, link, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PREFIX = 'native-backend:';
const TF_VERSION = '2.12.1';
const TFJS_NODE_VERSION = '4.22.0';
// One wheel, pinned by hash. Its native libraries do not depend on the Python version: the
// cp311 tag only picks one file (python3 here need not be 3.11, the wheel is never installed).
const WHEEL = {
  requirement: `tensorflow-cpu==${TF_VERSION}`,
  sha256: '7ffb595707a8fb376deaddc768784c7a0242b16cbc6e06393b1733b2ce19f855',
  pipArgs: ['--only-binary=:all:', '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '--platform', 'manylinux2014_x86_64'],
};
const LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
// binding.gyp links -ltensorflow -ltensorflow_framework: the link-time names of the two.
const LINK_NAMES = { 'libtensorflow.so': 'libtensorflow_cc.so.2', 'libtensorflow_framework.so': 'libtensorflow_framework.so.2' };
const MARKER = '.serverless-tf-native.json';

const runtimeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modulesDir = path.join(runtimeDir, 'node_modules');
const targetDir = path.join(modulesDir, '@tensorflow', 'tfjs-node');
const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'serverless-tf', 'native');
const cacheDir = path.join(cacheRoot, `${TF_VERSION}-${TFJS_NODE_VERSION}-node${process.versions.modules}`);
const libDir = path.join(cacheDir, 'libtensorflow');
const packageDir = path.join(cacheDir, 'tfjs-node');
const depsDir = path.join(cacheDir, 'deps');

class StepError extends Error {
  constructor(step, message) {
    super(message);
    this.name = 'StepError';
    this.step = step;
  }
}

const started = Date.now();
const log = (msg) => console.log(`${PREFIX} ${msg}`);
const firstLine = (s) => s.split('\n', 1)[0];
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** Runs a command; its output is kept and shown only when it fails. */
function run(step, cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new StepError(step, `${cmd} could not be started: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new StepError(step, `${cmd} ${args.join(' ')} exited with ${result.status ?? result.signal}:\n${output}`);
  }
  return result.stdout;
}

async function readJson(file) {
  return JSON.parse(await readFile(file, 'utf8'));
}

/** A step's result is complete once its stamp exists: it is written last, after a rename into place. */
const stampOf = (dir) => path.join(dir, '.complete');
const done = (dir) => existsSync(stampOf(dir));

/** Does `work(tmp)` in a fresh folder beside `dir`, stamps it and renames it into place. */
async function buildInto(dir, work) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  const tmp = await mkdtemp(`${dir}.tmp-`);
  try {
    await chmod(tmp, 0o755);
    const info = await work(tmp);
    await writeFile(stampOf(tmp), `${JSON.stringify({ ...info, at: new Date().toISOString() }, null, 2)}\n`);
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function checkPlatform() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new StepError('platform', `only Linux x64 is supported (the tensorflow-cpu ${TF_VERSION} wheel used here is manylinux x86_64); this is ${process.platform}-${process.arch}.`);
  }
  const tfjs = path.join(modulesDir, '@tensorflow', 'tfjs', 'package.json');
  if (!existsSync(tfjs)) throw new StepError('platform', `${tfjs} is missing: install the runtime's dependencies first (npm ci --prefix runtime).`);
  const version = JSON.parse(readFileSync(tfjs, 'utf8')).version;
  if (version !== TFJS_NODE_VERSION) {
    throw new StepError('platform', `runtime/node_modules has @tensorflow/tfjs ${version}, but tfjs-node ${TFJS_NODE_VERSION} needs @tensorflow/tfjs ${TFJS_NODE_VERSION}.`);
  }
}

// Extracts only what the addon needs: the two libraries, the C API headers and the
// ctstring headers they include (the wheel's include/ is 140 MB of Eigen, absl and more).
const EXTRACT_PY = `
import os, sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
libs = set(sys.argv[3:])
count = 0
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith('/'):
            continue
        if name.startswith('tensorflow/') and os.path.basename(name) in libs and name.count('/') == 1:
            dest = os.path.join(out, 'lib', os.path.basename(name))
        elif name.endswith('.dist-info/LICENSE'):
            dest = os.path.join(out, 'LICENSE')
        elif name.startswith(('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/tsl/c/')) or (
                name.startswith('tensorflow/include/tensorflow/') and '/platform/ctstring' in name):
            dest = os.path.join(out, 'include', name[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as dst:
            while True:
                chunk = src.read(1 << 22)
                if not chunk:
                    break
                dst.write(chunk)
        count += 1
missing = [l for l in libs if not os.path.exists(os.path.join(out, 'lib', l))]
if missing:
    sys.exit('the wheel has no ' + ', '.join('tensorflow/' + l for l in missing))
print(count)
`;

function python() {
  return process.env.PYTHON || 'python3';
}

async function libtensorflow() {
  const step = 'libtensorflow';
  if (done(libDir)) return log(`${step}: cached (tensorflow-cpu ${TF_VERSION} in ${libDir})`);
  const since = Date.now();
  await buildInto(libDir, async (tmp) => {
    const download = path.join(tmp, 'download');
    await mkdir(download);
    const requirements = path.join(download, 'requirements.txt');
    await writeFile(requirements, `${WHEEL.requirement} --hash=sha256:${WHEEL.sha256}\n`);
    run(`${step} (pip download)`, python(), ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', ...WHEEL.pipArgs, '-d', download, '-r', requirements], { stdio: ['ignore', 'pipe', 'pipe'] });
    const wheel = (await readdir(download)).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new StepError(`${step} (pip download)`, `pip reported success but left no wheel in ${download}.`);
    const count = run(`${step} (extract)`, python(), ['-c', EXTRACT_PY, path.join(download, wheel), tmp, ...LIBRARIES]).trim();
    await rm(download, { recursive: true, force: true });
    return { wheel, sha256: WHEEL.sha256, files: Number(count) };
  });
  log(`${step}: tensorflow-cpu ${TF_VERSION} downloaded and ${LIBRARIES.join(', ')} and the C API headers extracted (${seconds(since)})`);
}

/** node-gyp: the one npm ships (node-gyp is not a dependency of the runtime). */
function nodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const npmCli = path.join('node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', npmCli));
  try {
    const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
    // <prefix>/bin/npm -> <prefix>/lib/node_modules/npm/bin/npm-cli.js
    candidates.push(path.join(path.dirname(realpathSync(npm)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch {
    /* no npm on PATH: the other candidates */
  }
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new StepError('build', `node-gyp not found (looked at ${candidates.join(', ')}); install npm, or set npm_config_node_gyp to node-gyp.js.`);
  return found;
}

/** The N-API version tfjs-node's binary is built for, as node-pre-gyp picks it: the highest it lists that this Node has. */
function napiBuildVersion(pkg) {
  const supported = pkg.binary.napi_versions.filter((v) => v <= Number(process.versions.napi));
  if (!supported.length) throw new StepError('build', `Node ${process.version} has N-API ${process.versions.napi}, older than any tfjs-node ${TFJS_NODE_VERSION} supports.`);
  return Math.max(...supported);
}

async function tfjsNodeSource(tmp) {
  const step = 'build (npm pack)';
  const out = run(step, 'npm', ['pack', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`, '--pack-destination', tmp, '--ignore-scripts', '--json', '--silent'], { cwd: tmp });
  let packed;
  try {
    [packed] = JSON.parse(out);
  } catch {
    throw new StepError(step, `npm pack printed no JSON: ${out.slice(0, 500)}`);
  }
  const tarball = path.join(tmp, packed.filename);
  run(`${step} (extract)`, 'tar', ['-xzf', tarball, '-C', tmp]);
  await rm(tarball);
  const source = path.join(tmp, 'package');
  const pkg = await readJson(path.join(source, 'package.json'));
  if (pkg.name !== '@tensorflow/tfjs-node' || pkg.version !== TFJS_NODE_VERSION) {
    throw new StepError(step, `npm pack gave ${pkg.name}@${pkg.version}, not @tensorflow/tfjs-node@${TFJS_NODE_VERSION}.`);
  }
  return { source, pkg, integrity: packed.integrity };
}

async function buildAddon() {
  const step = 'build';
  if (done(packageDir)) return log(`${step}: cached (tfjs_binding.node in ${packageDir})`);
  const nodeHeaders = path.join(path.dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(path.join(nodeHeaders, 'node_api.h'))) {
    throw new StepError(step, `Node's headers are not at ${nodeHeaders} (node-gyp would download them, and it cannot here): install Node from its official tarball or the distribution's nodejs-dev package.`);
  }
  const gyp = nodeGyp();
  const since = Date.now();
  await buildInto(packageDir, async (tmp) => {
    const { source, pkg, integrity } = await tfjsNodeSource(tmp);
    // binding.gyp looks for libtensorflow in deps/lib and its headers in deps/include.
    const deps = path.join(source, 'deps');
    await mkdir(path.join(deps, 'lib'), { recursive: true });
    await symlink(path.join(libDir, 'include'), path.join(deps, 'include'));
    for (const lib of LIBRARIES) await symlink(path.join(libDir, 'lib', lib), path.join(deps, 'lib', lib));
    for (const [name, lib] of Object.entries(LINK_NAMES)) await symlink(lib, path.join(deps, 'lib', name));
    const napi = napiBuildVersion(pkg);
    const modulePath = path.join(source, 'lib', `napi-v${napi}`);
    run(step, process.execPath, [gyp, 'rebuild', `--nodedir=${path.resolve(nodeHeaders, '..', '..')}`, '--module_name=tfjs_binding', `--module_path=${modulePath}`, `--napi_build_version=${napi}`, `--jobs=${os.availableParallelism()}`], {
      cwd: source, env: { ...process.env, npm_config_loglevel: 'error' },
    });
    if (!existsSync(path.join(modulePath, 'tfjs_binding.node'))) throw new StepError(step, `node-gyp succeeded but ${modulePath}/tfjs_binding.node is missing.`);
    await rm(path.join(source, 'build'), { recursive: true, force: true });
    await rm(deps, { recursive: true, force: true });
    // The package folder is the stamped folder itself.
    for (const entry of await readdir(source)) await rename(path.join(source, entry), path.join(tmp, entry));
    await rm(source, { recursive: true });
    return { package: `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`, integrity, napi, node: process.version };
  });
  log(`${step}: @tensorflow/tfjs-node ${TFJS_NODE_VERSION} packed and its addon built against libtensorflow ${TF_VERSION} (${seconds(since)})`);
}

/** tfjs-node's npm dependencies but @tensorflow/tfjs, installed once into the cache. */
async function dependencies() {
  const step = 'dependencies';
  if (done(depsDir)) return log(`${step}: cached (${depsDir}/node_modules)`);
  const since = Date.now();
  const pkg = await readJson(path.join(packageDir, 'package.json'));
  const wanted = Object.fromEntries(Object.entries(pkg.dependencies).filter(([name]) => !name.startsWith('@tensorflow/')));
  await buildInto(depsDir, async (tmp) => {
    await writeFile(path.join(tmp, 'package.json'), `${JSON.stringify({ name: 'tfjs-node-dependencies', private: true, dependencies: wanted }, null, 2)}\n`);
    run(step, 'npm', ['install', '--ignore-scripts', '--omit=dev', '--omit=peer', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: tmp });
    return { dependencies: wanted };
  });
  log(`${step}: ${Object.keys(wanted).join(', ')} installed (${seconds(since)})`);
}

/** Hard links the big libraries from the cache (same file system), else copies them. */
async function linkOrCopy(from, to) {
  try {
    await link(from, to);
  } catch (err) {
    if (!['EXDEV', 'EPERM', 'EMLINK'].includes(err.code)) throw err;
    await copyFile(from, to);
  }
}

async function installedMarker() {
  try {
    return await readJson(path.join(targetDir, MARKER));
  } catch {
    return undefined;
  }
}

const wantedMarker = () => ({ tensorflow: TF_VERSION, tfjsNode: TFJS_NODE_VERSION, nodeAbi: process.versions.modules, cache: cacheDir });

async function install() {
  const step = 'install';
  const marker = await installedMarker();
  if (marker && JSON.stringify(marker) === JSON.stringify(wantedMarker())) {
    const result = loads();
    if (result.ok) {
      log(`${step}: already in ${path.relative(process.cwd(), targetDir) || targetDir}, and it loads (backend ${result.info.backend}, libtensorflow ${result.info.libtensorflow})`);
      return true;
    }
    log(`${step}: the installed copy does not load (${firstLine(result.why)}): installing it again`);
  }
  const since = Date.now();
  const tmp = await mkdtemp(path.join(path.dirname(targetDir), '.tfjs-node-'));
  try {
    await chmod(tmp, 0o755);
    // The package without what only building needs; the addon is in lib/napi-v<N>/.
    await cp(packageDir, tmp, { recursive: true, filter: (src) => path.basename(src) !== '.complete' });
    await mkdir(path.join(tmp, 'deps', 'lib'), { recursive: true });
    for (const lib of LIBRARIES) await linkOrCopy(path.join(libDir, 'lib', lib), path.join(tmp, 'deps', 'lib', lib));
    await copyFile(path.join(libDir, 'LICENSE'), path.join(tmp, 'deps', 'LICENSE'));
    await cp(path.join(depsDir, 'node_modules'), path.join(tmp, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(tmp, MARKER), `${JSON.stringify(wantedMarker())}\n`);
    await rm(targetDir, { recursive: true, force: true });
    await rename(tmp, targetDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw new StepError(step, `could not put the package into ${targetDir}: ${err.message}`);
  }
  log(`${step}: @tensorflow/tfjs-node copied into ${path.relative(process.cwd(), targetDir) || targetDir}, libtensorflow in its deps/lib (${seconds(since)})`);
  return false;
}

// Loads the installed package the way the runtime does, in a child process (a broken
// addon can take its process down), and checks it is the runtime's tfjs that it extends.
const CHECK_JS = `
const { createRequire } = require('node:module');
const path = require('node:path');
const runtime = createRequire(path.join(process.argv[1], 'package.json'));
const tf = runtime('@tensorflow/tfjs-node');
const own = createRequire(runtime.resolve('@tensorflow/tfjs-node'));
if (own.resolve('@tensorflow/tfjs') !== runtime.resolve('@tensorflow/tfjs')) {
  throw new Error('tfjs-node resolves another @tensorflow/tfjs (' + own.resolve('@tensorflow/tfjs') + ') than the runtime');
}
const sum = tf.tidy(() => tf.tensor1d([1, 2, 3]).square().sum().dataSync()[0]);
console.log(JSON.stringify({ backend: tf.getBackend(), libtensorflow: tf.backend().binding.TF_Version, sum }));
`;

function loads() {
  const result = spawnSync(process.execPath, ['-e', CHECK_JS, runtimeDir], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  if (result.status === 0) {
    try {
      const info = JSON.parse(result.stdout.trim().split('\n').pop());
      if (info.backend === 'tensorflow' && info.sum === 14) return { ok: true, info };
      return { ok: false, why: `it loaded but answered ${result.stdout.trim()}` };
    } catch {
      return { ok: false, why: `it printed ${result.stdout.trim().slice(0, 300)}` };
    }
  }
  const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(0, 12).join('\n');
  return { ok: false, why: `node exited with ${result.status ?? result.signal}:\n${output}` };
}

function check() {
  const step = 'check';
  if (!existsSync(path.join(targetDir, 'package.json'))) {
    throw new StepError(step, `${targetDir} is missing: run node runtime/scripts/native-backend.mjs (npm ci removes it).`);
  }
  const result = loads();
  if (!result.ok) throw new StepError(step, `@tensorflow/tfjs-node does not load: ${result.why}\nRun node runtime/scripts/native-backend.mjs (with --force to rebuild from scratch).`);
  log(`${step}: require('@tensorflow/tfjs-node') works: backend ${result.info.backend}, libtensorflow ${result.info.libtensorflow}`);
}

async function main() {
  const args = new Set(process.argv.slice(2));
  for (const arg of args) {
    if (!['--check', '--force'].includes(arg)) throw new StepError('arguments', `unknown argument ${arg}; use --check or --force.`);
  }
  if (args.has('--check')) return check();
  checkPlatform();
  if (args.has('--force')) {
    await rm(cacheDir, { recursive: true, force: true });
    await rm(targetDir, { recursive: true, force: true });
    log(`force: removed ${cacheDir} and the installed copy`);
  }
  await libtensorflow();
  await buildAddon();
  await dependencies();
  if (!(await install())) check();
  log(`done in ${seconds(started)}`);
}

try {
  await main();
} catch (err) {
  const step = err instanceof StepError ? err.step : 'unexpected';
  console.error(`${PREFIX} step "${step}" failed: ${err instanceof StepError ? err.message : err.stack}`);
  process.exit(1);
}
