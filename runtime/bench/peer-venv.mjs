// The Python peer's venv (bench/peer.mjs): bench/python/requirements.txt installed into a
// venv in the machine cache, ${XDG_CACHE_HOME:-~/.cache}/cdk-serverless-tensorflow/bench-peer/<hash>/
// (or $SERVERLESS_TF_PEER_VENV_ROOT), keyed by the requirements and the interpreter, so a
// changed pin makes a new venv and an unchanged one is reused without the network.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, interpreter, run, venvExecutable, withLock } from '../../scripts/python-setup.mjs';
import { BENCH_DIR } from './lib.mjs';

export const REQUIREMENTS = join(BENCH_DIR, 'python', 'requirements.txt');
const MARKER = '.bench-peer-ready.json';

/** The venv's python, installing it first when needed; `log` gets one line per step. */
export function peerPython(log = () => {}) {
  const python = interpreter([3, 9], 'the Python peer of bench/peer.mjs');
  const requirements = readFileSync(REQUIREMENTS, 'utf8');
  const key = createHash('sha256').update(`${python.version} ${python.implementation}\n${requirements}`).digest('hex').slice(0, 16);
  const root = cacheRoot('SERVERLESS_TF_PEER_VENV_ROOT', 'bench-peer');
  const venv = join(root, key);
  const exe = venvExecutable(venv, 'python');
  const marker = join(venv, MARKER);
  const done = () => existsSync(marker);
  if (done()) return { python: exe, venv, freeze: JSON.parse(readFileSync(marker, 'utf8')).freeze };
  mkdirSync(root, { recursive: true });
  withLock(join(root, `${key}.lock`), done, () => {
    const started = Date.now();
    log(`installing the Python peer (${REQUIREMENTS}) into ${venv} with ${python.command} ${python.version}; a few minutes the first time`);
    rmSync(venv, { recursive: true, force: true });
    run(python.command, ['-m', 'venv', venv], 'creating the peer venv');
    run(exe, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', REQUIREMENTS], 'installing the peer requirements');
    run(exe, ['-c', 'import tensorflow, keras, flask, gunicorn, PIL'], 'importing the peer packages');
    const freeze = run(exe, ['-m', 'pip', 'freeze', '--disable-pip-version-check'], 'listing the peer packages').trim().split('\n');
    writeFileSync(marker, JSON.stringify({ freeze, python: python.version }, null, 2));
    log(`peer venv ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }, log);
  return { python: exe, venv, freeze: JSON.parse(readFileSync(marker, 'utf8')).freeze };
}

// `node bench/peer-venv.mjs --setup`: only install the venv, and print its python.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--setup')) {
  console.log(peerPython((m) => console.log(`peer-venv: ${m}`)).python);
}
