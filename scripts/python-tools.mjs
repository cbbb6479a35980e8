#!/usr/bin/env node
// The Python tools of the template checks (cfn-lint, test/cfn-lint.test.ts) in a virtual
// environment outside the repository, in the machine's cache, one folder per set of pinned
// requirements and interpreter version: a new pin gets a new folder, an unchanged one is
// reused without touching the network. Prints the path of the cfn-lint executable (only
// that, on stdout; progress goes to stderr) and exits 0, or says what failed and exits 1.
//
//   node scripts/python-tools.mjs            set up (if needed) and print the cfn-lint path
//   PYTHON=/usr/bin/python3.12 node ...      use that interpreter instead of python3
//
// The cache root is $SERVERLESS_TF_PYTHON_TOOLS_CACHE, else $XDG_CACHE_HOME, else ~/.cache.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Every distribution in the environment, pinned, so that a set-up today and one in a year
// install the same thing (the output of `pip freeze` after installing cfn-lint alone).
// networkx 3.6 needs Python 3.11 or later, hence MIN_PYTHON.
const REQUIREMENTS = [
  'cfn-lint==1.58.0',
  'jsonpatch==1.48',
  'jsonpointer==3.12',
  'mpmath==1.3.0',
  'networkx==3.6.1',
  'PyYAML==6.0.4',
  'regex==2026.11.19',
  'sympy==1.14.0',
  'typing_extensions==4.16.0',
];
const MIN_PYTHON = [3, 11];
/** A set-up that holds the lock longer than this has died: the next one takes over. */
const STALE_LOCK_MS = 15 * 60 * 1000;
const MARKER = '.complete';

const windows = process.platform === 'win32';

class SetUpError extends Error {}

function fail(message) {
  throw new SetUpError(message);
}

function run(command, args, what) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) fail(`${what}: could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    fail(`${what} failed (${command} ${args.join(' ')}, exit ${result.status ?? result.signal}):\n${(result.stderr || result.stdout).trim()}`);
  }
  return result.stdout;
}

/** The interpreter, its version as [major, minor], and its full version string. */
function interpreter() {
  const candidates = process.env.PYTHON ? [process.env.PYTHON] : windows ? ['python', 'py'] : ['python3', 'python'];
  for (const command of candidates) {
    const probe = spawnSync(command, ['-c', 'import sys, venv; print(".".join(map(str, sys.version_info[:3])), sys.implementation.name)'], { encoding: 'utf8' });
    if (probe.status !== 0 || probe.error) continue;
    const [version, implementation] = probe.stdout.trim().split(' ');
    const [major, minor] = version.split('.').map(Number);
    if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
      fail(`${command} is Python ${version}; the pinned cfn-lint environment needs Python ${MIN_PYTHON.join('.')} or later (set PYTHON to one).`);
    }
    return { command, version, implementation };
  }
  fail(`no Python interpreter with the venv module found (tried ${candidates.join(', ')}); install Python ${MIN_PYTHON.join('.')}+ or set PYTHON.`);
}

function cacheRoot() {
  if (process.env.SERVERLESS_TF_PYTHON_TOOLS_CACHE) return process.env.SERVERLESS_TF_PYTHON_TOOLS_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'cdk-serverless-tensorflow', 'python-tools');
}

const binDir = (venv) => path.join(venv, windows ? 'Scripts' : 'bin');
const cfnLintOf = (venv) => path.join(binDir(venv), windows ? 'cfn-lint.exe' : 'cfn-lint');

function ready(venv) {
  return fs.existsSync(path.join(venv, MARKER)) && fs.existsSync(cfnLintOf(venv));
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Holds a lock folder beside the venv while `work` runs, so that two set-ups do not interleave. */
function withLock(lock, isDone, work) {
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') fail(`cannot create the lock ${lock}: ${err.message}`);
      if (isDone()) return;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > STALE_LOCK_MS || Date.now() > deadline) {
        process.stderr.write(`python-tools: taking over the stale lock ${lock}\n`);
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      sleep(500);
    }
  }
  try {
    if (!isDone()) work();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function setUp(python, venv, requirements) {
  process.stderr.write(`python-tools: creating ${venv} (Python ${python.version})\n`);
  fs.rmSync(venv, { recursive: true, force: true });
  run(python.command, ['-m', 'venv', venv], 'creating the virtual environment');
  const venvPython = path.join(binDir(venv), windows ? 'python.exe' : 'python');
  const requirementsFile = path.join(venv, 'requirements.txt');
  fs.writeFileSync(requirementsFile, requirements);
  // The index is whatever pip is configured with (pip.conf, PIP_INDEX_URL): none named here.
  run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', requirementsFile],
    'installing the pinned requirements (is the package index reachable?)');
  const version = run(cfnLintOf(venv), ['--version'], 'checking cfn-lint').trim();
  fs.writeFileSync(path.join(venv, MARKER), `${version}\n`);
  process.stderr.write(`python-tools: ${version} ready\n`);
}

function main() {
  const python = interpreter();
  const requirements = `${REQUIREMENTS.join('\n')}\n`;
  // The venv binds the interpreter's minor version: another one gets another folder.
  const key = createHash('sha256')
    .update(`${requirements}\n${python.implementation} ${python.version.split('.').slice(0, 2).join('.')}\n${process.platform}-${process.arch}`)
    .digest('hex').slice(0, 16);
  const root = cacheRoot();
  const venv = path.join(root, key);
  if (!ready(venv)) {
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (err) {
      fail(`cannot create the cache folder ${root}: ${err.message}`);
    }
    withLock(`${venv}.lock`, () => ready(venv), () => setUp(python, venv, requirements));
    if (!ready(venv)) fail(`set-up of ${venv} did not complete`);
  }
  process.stdout.write(`${cfnLintOf(venv)}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`python-tools: ${err instanceof SetUpError ? err.message : err.stack}\n`);
  process.stderr.write('python-tools: fix the above and run `node scripts/python-tools.mjs` again.\n');
  process.exit(1);
}
