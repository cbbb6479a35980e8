#!/usr/bin/env node
// What the Python example app (test/python/app.py, test/python-app.test.ts) runs on: the jsii
// Python package of this checkout, and aws-cdk-lib and constructs from the package index.
//
//   node scripts/python-app.mjs                  set up (if needed); print {"python", "pythonPath"} as JSON
//   node scripts/python-app.mjs APP.py [ARGS]    set up (if needed), then run APP.py with them
//   PYTHON=/usr/bin/python3.12 node ...          use that interpreter instead of python3
//
// Three parts, each redone only when what it is made from changes:
// - The wheel, dist/python/*.whl (`jsii-pacmak --target python`, what `projen package:python`
//   runs: about 25 s, and it needs the package index for setuptools, build and twine). It embeds
//   the npm tarball of the checkout, so it is current when that tarball's SHA-512 equals what
//   `npm pack --dry-run` reports now (2-3 s to find out).
// - A virtual environment with the pinned requirements below, in the machine's cache, one
//   folder per set of pins and interpreter version (about 30 s and 460 MB the first time).
// - The wheel unpacked (`pip install --no-deps --target`) into a folder of the cache named after
//   its tarball's digest, put on PYTHONPATH: checkouts with different code never share one.
// The cache root is $SERVERLESS_TF_PYTHON_APP_CACHE, else $XDG_CACHE_HOME, else ~/.cache.
// Progress goes to stderr; a failure says what failed and exits 1.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SetUpError, cacheRoot as machineCache, fail, interpreter as pythonInterpreter, run, venvExecutable, withLock as lockedSetUp } from './python-setup.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMAND = 'node scripts/python-app.mjs';

// aws-cdk-lib and constructs as package.json's devDependencies would have them, and what they
// pull in, pinned (`pip freeze` after installing the two). aws-cdk-lib 2.276.0, the npm
// devDependency, is not on the package index: 2.275.0 is its newest there. Every aws-cdk-lib type
// that our .jsii names exists in 2.275.0 (FunctionOptions included, unchanged), and the test
// compares the templates in full, so a difference between the two would show there. Move the pin
// to package.json's version once the index has it.
const REQUIREMENTS = [
  'attrs==26.1.0',
  'aws-cdk-lib==2.275.0',
  'aws-cdk.asset-awscli-v1==2.2.292',
  'aws-cdk.asset-node-proxy-agent-v6==2.1.3',
  'aws-cdk.cloud-assembly-schema==55.4.0',
  'cattrs==26.2.1',
  'constructs==10.5.1',
  'jsii==1.142.0',
  'publication==0.0.3',
  'python-dateutil==4.0.0',
  'typeguard==2.13.3',
  'typing_extensions==4.16.0',
  'tzdata==2026.6',
];
/** jsii-pacmak's wheels declare Requires-Python >=3.10. */
const MIN_PYTHON = [3, 10];
/** A set-up that holds a lock longer than this has died: the next one takes over. */
/** Unpacked wheels kept in the cache (the newest): each is about 30 MB. */
const KEEP_SITES = 4;
const MARKER = '.complete';

const windows = process.platform === 'win32';

function log(message) {
  process.stderr.write(`python-app: ${message}\n`);
}

const pythonOf = (venv) => venvExecutable(venv, 'python');
const digest = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);
const interpreter = () => pythonInterpreter(MIN_PYTHON, 'the jsii Python package');
const cacheRoot = () => machineCache('SERVERLESS_TF_PYTHON_APP_CACHE', 'python-app');
const withLock = (lock, isDone, work) => lockedSetUp(lock, isDone, work, log);

/** The newest mtime of the files under `dir` whose names pass `keep`. */
function newestMtime(dir, keep) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(file, keep));
    else if (keep(entry.name)) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

/** The wheel packs the compiled library: refuse sources newer than their compilation. */
function checkCompiled() {
  const assembly = path.join(ROOT, '.jsii');
  const missing = ['.jsii', 'lib/index.js', 'runtime/dist/handler.mjs', 'runtime/layer/linux-x64.zip'].filter((file) => !fs.existsSync(path.join(ROOT, file)));
  if (missing.length > 0) fail(`the library is not built (no ${missing.join(', ')}): run \`npx projen compile\` (it builds the runtime too).`);
  const sources = newestMtime(path.join(ROOT, 'lib'), (name) => name.endsWith('.ts') && !name.endsWith('.d.ts'));
  if (sources > fs.statSync(assembly).mtimeMs) fail('lib/ has sources newer than its compilation (.jsii): run `npx projen compile`.');
}

/** The SHA-512 (as npm writes it) of what `npm pack` would make of the checkout now. */
function packIntegrity() {
  const out = run(windows ? 'npm.cmd' : 'npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], 'npm pack --dry-run', { cwd: ROOT });
  const [{ integrity }] = JSON.parse(out);
  return integrity;
}

/** The SHA-512 of the npm tarball inside a wheel. */
function wheelIntegrity(python, wheel) {
  const script = [
    'import base64, hashlib, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'name = next(n for n in z.namelist() if n.endswith(".jsii.tgz"))',
    'print("sha512-" + base64.b64encode(hashlib.sha512(z.read(name)).digest()).decode())',
  ].join('\n');
  return run(python.command, ['-c', script, wheel], `reading ${wheel}`).trim();
}

function currentWheel() {
  const dir = path.join(ROOT, 'dist', 'python');
  const wheels = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith('.whl')) : [];
  if (wheels.length > 1) fail(`more than one wheel in ${dir} (${wheels.join(', ')}): remove it and run \`${COMMAND}\` again.`);
  return wheels.length === 1 ? path.join(dir, wheels[0]) : undefined;
}

/** Builds dist/python/*.whl unless the one there packs the checkout as it is. */
function ensureWheel(python) {
  const integrity = packIntegrity();
  const isCurrent = () => {
    const wheel = currentWheel();
    return wheel !== undefined && wheelIntegrity(python, wheel) === integrity;
  };
  fs.mkdirSync(path.join(ROOT, 'dist'), { recursive: true });
  withLock(path.join(ROOT, 'dist', '.python-wheel.lock'), isCurrent, () => {
    log('building the wheel (jsii-pacmak --target python)');
    const started = Date.now();
    const pacmak = path.join(ROOT, 'node_modules', '.bin', windows ? 'jsii-pacmak.cmd' : 'jsii-pacmak');
    // pacmak makes its own virtual environment with the `python3` on PATH (`python` on Windows).
    run(pacmak, ['--target', 'python'], 'jsii-pacmak --target python (is the package index reachable?)', { cwd: ROOT });
    log(`wheel built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  const wheel = currentWheel();
  if (wheel === undefined || wheelIntegrity(python, wheel) !== integrity) {
    fail(`dist/python has no wheel of the checkout as it is after jsii-pacmak (did lib/ or runtime/ change meanwhile?)`);
  }
  return { wheel, integrity };
}

/** The cached virtual environment with REQUIREMENTS. */
function ensureVenv(python, root) {
  const requirements = `${REQUIREMENTS.join('\n')}\n`;
  // The venv binds the interpreter's minor version: another one gets another folder.
  const key = digest(`${requirements}\n${python.implementation} ${python.version.split('.').slice(0, 2).join('.')}\n${process.platform}-${process.arch}`);
  const venv = path.join(root, `venv-${key}`);
  const ready = () => fs.existsSync(path.join(venv, MARKER)) && fs.existsSync(pythonOf(venv));
  withLock(`${venv}.lock`, ready, () => {
    log(`creating ${venv} (Python ${python.version})`);
    const started = Date.now();
    fs.rmSync(venv, { recursive: true, force: true });
    run(python.command, ['-m', 'venv', venv], 'creating the virtual environment');
    const requirementsFile = path.join(venv, 'requirements.txt');
    fs.writeFileSync(requirementsFile, requirements);
    // The index is whatever pip is configured with (pip.conf, PIP_INDEX_URL): none named here.
    run(pythonOf(venv), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', requirementsFile],
      'installing the pinned requirements (is the package index reachable?)');
    fs.writeFileSync(path.join(venv, MARKER), requirements);
    log(`virtual environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  if (!ready()) fail(`set-up of ${venv} did not complete`);
  return venv;
}

/** The wheel unpacked into a folder named after its tarball's digest; older ones pruned. */
function ensureSite(venv, root, { wheel, integrity }) {
  const sites = path.join(root, 'sites');
  const site = path.join(sites, digest(integrity));
  const ready = () => fs.existsSync(path.join(site, MARKER));
  fs.mkdirSync(sites, { recursive: true });
  withLock(`${site}.lock`, ready, () => {
    log(`installing ${path.basename(wheel)} into ${site}`);
    fs.rmSync(site, { recursive: true, force: true });
    run(pythonOf(venv), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--no-index', '--no-deps', '--target', site, wheel],
      `installing ${wheel}`);
    fs.writeFileSync(path.join(site, MARKER), `${integrity}\n`);
  });
  if (!ready()) fail(`installing the wheel into ${site} did not complete`);
  fs.utimesSync(path.join(site, MARKER), new Date(), new Date());
  const others = fs.readdirSync(sites)
    .filter((name) => !name.endsWith('.lock') && path.join(sites, name) !== site && fs.existsSync(path.join(sites, name, MARKER)))
    .map((name) => ({ dir: path.join(sites, name), used: fs.statSync(path.join(sites, name, MARKER)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const { dir } of others.slice(KEEP_SITES - 1)) fs.rmSync(dir, { recursive: true, force: true });
  return site;
}

function setUp() {
  const python = interpreter();
  checkCompiled();
  const root = cacheRoot();
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (err) {
    fail(`cannot create the cache folder ${root}: ${err.message}`);
  }
  const built = ensureWheel(python);
  const venv = ensureVenv(python, root);
  const site = ensureSite(venv, root, built);
  // The venv's packages only: nothing from the user's site-packages.
  const probe = spawnSync(pythonOf(venv), ['-s', '-c', 'import cdk_serverless_tensorflow, aws_cdk; print(aws_cdk.__name__)'], {
    encoding: 'utf8', env: { ...process.env, PYTHONPATH: site },
  });
  if (probe.status !== 0) fail(`the installed package does not import:\n${(probe.stderr || probe.stdout).trim()}`);
  return { python: pythonOf(venv), pythonPath: site, wheel: built.wheel };
}

function main() {
  const [app, ...args] = process.argv.slice(2);
  const env = setUp();
  if (app === undefined) {
    process.stdout.write(`${JSON.stringify(env)}\n`);
    return 0;
  }
  const result = spawnSync(env.python, ['-s', app, ...args], { stdio: 'inherit', env: { ...process.env, PYTHONPATH: env.pythonPath } });
  if (result.error) fail(`could not run ${env.python}: ${result.error.message}`);
  return result.status ?? 1;
}

try {
  process.exitCode = main();
} catch (err) {
  log(err instanceof SetUpError ? err.message : err.stack);
  log(`fix the above and run \`${COMMAND}\` again.`);
  process.exitCode = 1;
}
