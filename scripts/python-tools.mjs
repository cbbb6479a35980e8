#!/usr/bin/env node
// The Python tools of the repository's tests in virtual environments outside the repository, in
// the machine's cache, one folder per set of pinned requirements and interpreter version: a new
// pin gets a new folder, an unchanged one is reused without touching the network. Prints the path
// of the set's executable (only that, on stdout; progress goes to stderr) and exits 0, or says
// what failed and exits 1. Two sets:
//
//   node scripts/python-tools.mjs                          cfn-lint (test/cfn-lint.test.ts): prints cfn-lint's path
//   node scripts/python-tools.mjs --set protocol-clients   tritonclient.http and KServe's InferenceRESTClient
//                                                          (runtime/test/protocols-binary.test.ts): prints the venv's python
//   PYTHON=/usr/bin/python3.12 node ...                    use that interpreter instead of python3
//
// The cache root is $SERVERLESS_TF_PYTHON_TOOLS_CACHE, else $XDG_CACHE_HOME, else ~/.cache.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SetUpError, cacheRoot as machineCache, fail, interpreter as pythonInterpreter, run, venvExecutable, withLock as lockedSetUp } from './python-setup.mjs';

/**
 * The sets of tools: for each, every distribution in its environment, pinned, so that a set-up
 * today and one in a year install the same thing (the output of `pip freeze --all` after
 * installing the named tools alone, less pip), the oldest Python its pins allow, the executable
 * printed, and a check that the environment works.
 */
const SETS = {
  // networkx 3.6 needs Python 3.11 or later, hence minPython.
  'cfn-lint': {
    purpose: 'the pinned cfn-lint environment',
    requirements: [
      'cfn-lint==1.58.0',
      'jsonpatch==1.48',
      'jsonpointer==3.12',
      'mpmath==1.3.0',
      'networkx==3.6.1',
      'PyYAML==6.0.4',
      'regex==2026.11.19',
      'sympy==1.14.0',
      'typing_extensions==4.16.0',
    ],
    minPython: [3, 11],
    executable: 'cfn-lint',
    check: { args: ['--version'], what: 'checking cfn-lint' },
  },
  // The Python clients of the V2 protocol that real users run: tritonclient[http] 2.73.0 and
  // kserve 0.21.0 (its InferenceRESTClient and V2 data models). kserve has no client-only
  // distribution and `import kserve` loads its model server and Kubernetes client (fastapi,
  // uvicorn, kubernetes, pandas, grpcio: 46 of these 75 distributions are imported), so the
  // whole tree is installed: a subset with --no-deps would break `pip check` and any lazy
  // import. setuptools is pinned because grpcio-tools requires it (pip freeze omits it).
  // numpy 2.4 needs Python 3.11 or later.
  'protocol-clients': {
    purpose: 'the pinned tritonclient and KServe client environment',
    requirements: [
      'tritonclient[http]==2.73.0',
      'kserve==0.21.0',
      'aiohappyeyeballs==2.7.1',
      'aiohttp==3.14.5',
      'aiohttp-retry==2.9.1',
      'aiosignal==1.4.0',
      'annotated-doc==0.0.7',
      'annotated-types==0.8.0',
      'anyio==4.16.0',
      'attrs==26.1.0',
      'brotli==1.2.1',
      'certifi==2026.10.19.post1',
      'cffi==2.1.1',
      'charset-normalizer==3.5.3',
      'click==8.5.1',
      'cloudevents==1.13.0',
      'cryptography==50.0.2',
      'deprecation==2.1.0',
      'durationpy==0.11',
      'fastapi==0.165.0',
      'frozenlist==1.8.0',
      'gevent==26.9.0',
      'geventhttpclient==2.6.1',
      'greenlet==3.3.2',
      'grpc-interceptor==0.15.4',
      'grpcio==1.85.3',
      'grpcio-tools==1.81.1',
      'h11==0.16.0',
      'httpcore==1.0.9',
      'httptools==0.9.0',
      'httpx==0.29.0',
      'idna==3.20',
      'kubernetes==37.0.1',
      'ml_dtypes==0.5.4',
      'multidict==7.2.1',
      'numpy==2.4.6',
      'oauthlib==4.0.1',
      'opentelemetry-api==1.45.2',
      'orjson==3.13.0',
      'packaging==26.4',
      'pandas==2.3.3',
      'pillow==13.0.0',
      'prometheus_client==0.26.0',
      'propcache==0.5.4',
      'protobuf==6.33.6',
      'psutil==5.9.8',
      'pyasn1==0.6.5',
      'pycparser==3.12',
      'pydantic==2.14.4',
      'pydantic_core==2.50.5',
      'PyJWT==2.15.1',
      'python-dateutil==2.9.0.post0',
      'python-dotenv==1.2.4',
      'python-multipart==0.0.34',
      'python-rapidjson==1.25',
      'pytz==2026.6',
      'PyYAML==6.0.4',
      'requests==2.34.2',
      'requests-oauthlib==2.0.0',
      'setuptools==84.2.1',
      'six==1.17.0',
      'starlette==1.10.0',
      'tabulate==0.10.0',
      'timing-asgi==0.3.2',
      'typing-inspection==0.4.5',
      'typing_extensions==4.16.0',
      'tzdata==2026.6',
      'urllib3==2.8.0',
      'uvicorn==0.55.0',
      'uvloop==0.23.0',
      'watchfiles==1.3.0',
      'websocket-client==1.9.2',
      'websockets==17.4',
      'yarl==1.25.1',
      'zope.event==6.2',
      'zope.interface==8.7',
    ],
    minPython: [3, 11],
    executable: 'python',
    check: {
      args: ['-c', 'import importlib.metadata as m, tritonclient.http, kserve; print(f"tritonclient {m.version(\'tritonclient\')}, kserve {m.version(\'kserve\')}")'],
      what: 'importing tritonclient.http and kserve',
    },
  },
};
const DEFAULT_SET = 'cfn-lint';
/** A set-up that holds the lock longer than this has died: the next one takes over. */
const MARKER = '.complete';

const log = (message) => process.stderr.write(`python-tools: ${message}\n`);

const cacheRoot = () => machineCache('SERVERLESS_TF_PYTHON_TOOLS_CACHE', 'python-tools');

const executableOf = (set, venv) => venvExecutable(venv, set.executable);

function ready(set, venv) {
  return fs.existsSync(path.join(venv, MARKER)) && fs.existsSync(executableOf(set, venv));
}

const withLock = (lock, isDone, work) => lockedSetUp(lock, isDone, work, log);

function setUp(set, python, venv, requirements) {
  log(`creating ${venv} (Python ${python.version})`);
  fs.rmSync(venv, { recursive: true, force: true });
  run(python.command, ['-m', 'venv', venv], 'creating the virtual environment');
  const venvPython = venvExecutable(venv, 'python');
  const requirementsFile = path.join(venv, 'requirements.txt');
  fs.writeFileSync(requirementsFile, requirements);
  // The index is whatever pip is configured with (pip.conf, PIP_INDEX_URL): none named here.
  run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', requirementsFile],
    'installing the pinned requirements (is the package index reachable?)');
  const version = run(executableOf(set, venv), set.check.args, set.check.what).trim();
  fs.writeFileSync(path.join(venv, MARKER), `${version}\n`);
  log(`${version} ready`);
}

/** The set named by `--set NAME` (or `--set=NAME`), else the default. */
function chosenSet(args) {
  let name = DEFAULT_SET;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--set' && i + 1 < args.length) name = args[++i];
    else if (args[i].startsWith('--set=')) name = args[i].slice('--set='.length);
    else fail(`unknown argument ${args[i]}; usage: node scripts/python-tools.mjs [--set ${Object.keys(SETS).join('|')}]`);
  }
  if (!Object.hasOwn(SETS, name)) fail(`no tool set ${name}; the sets are ${Object.keys(SETS).join(', ')}`);
  return SETS[name];
}

function main() {
  const set = chosenSet(process.argv.slice(2));
  const python = pythonInterpreter(set.minPython, set.purpose);
  const requirements = `${set.requirements.join('\n')}\n`;
  // The venv binds the interpreter's minor version: another one gets another folder.
  const key = createHash('sha256')
    .update(`${requirements}\n${python.implementation} ${python.version.split('.').slice(0, 2).join('.')}\n${process.platform}-${process.arch}`)
    .digest('hex').slice(0, 16);
  const root = cacheRoot();
  const venv = path.join(root, key);
  if (!ready(set, venv)) {
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (err) {
      fail(`cannot create the cache folder ${root}: ${err.message}`);
    }
    withLock(`${venv}.lock`, () => ready(set, venv), () => setUp(set, python, venv, requirements));
    if (!ready(set, venv)) fail(`set-up of ${venv} did not complete`);
  }
  process.stdout.write(`${executableOf(set, venv)}\n`);
}

try {
  main();
} catch (err) {
  log(err instanceof SetUpError ? err.message : err.stack);
  const again = process.argv.length > 2 ? `node scripts/python-tools.mjs ${process.argv.slice(2).join(' ')}` : 'node scripts/python-tools.mjs';
  process.stderr.write(`python-tools: fix the above and run \`${again}\` again.\n`);
  process.exit(1);
}
