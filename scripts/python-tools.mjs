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
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SetUpError, cacheRoot as machineCache, fail, interpreter as pythonInterpreter, run, venvExecutable, withLock as lockedSetUp } from './python-setup.mjs';

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
const MARKER = '.complete';


const interpreter = () => pythonInterpreter(MIN_PYTHON, 'the pinned cfn-lint environment');
const log = (message) => process.stderr.write(`python-tools: ${message}\n`);

const cacheRoot = () => machineCache('SERVERLESS_TF_PYTHON_TOOLS_CACHE', 'python-tools');
const cfnLintOf = (venv) => venvExecutable(venv, 'cfn-lint');

function ready(venv) {
  return fs.existsSync(path.join(venv, MARKER)) && fs.existsSync(cfnLintOf(venv));
}

const withLock = (lock, isDone, work) => lockedSetUp(lock, isDone, work, log);

function setUp(python, venv, requirements) {
  log(`creating ${venv} (Python ${python.version})`);
  fs.rmSync(venv, { recursive: true, force: true });
  run(python.command, ['-m', 'venv', venv], 'creating the virtual environment');
  const venvPython = venvExecutable(venv, 'python');
  const requirementsFile = path.join(venv, 'requirements.txt');
  fs.writeFileSync(requirementsFile, requirements);
  // The index is whatever pip is configured with (pip.conf, PIP_INDEX_URL): none named here.
  run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', requirementsFile],
    'installing the pinned requirements (is the package index reachable?)');
  const version = run(cfnLintOf(venv), ['--version'], 'checking cfn-lint').trim();
  fs.writeFileSync(path.join(venv, MARKER), `${version}\n`);
  log(`${version} ready`);
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
  log(err instanceof SetUpError ? err.message : err.stack);
  process.stderr.write('python-tools: fix the above and run `node scripts/python-tools.mjs` again.\n');
  process.exit(1);
}
