// What the Python set-up scripts share (python-tools.mjs: cfn-lint; python-app.mjs: the jsii
// Python package): finding an interpreter, running a step with an error that names it, the
// machine cache folder, and a lock folder so that two set-ups do not interleave.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const STALE_LOCK_MS = 15 * 60 * 1000;
const windows = process.platform === 'win32';

/** A set-up step that failed: its message says which and why. */
export class SetUpError extends Error {}

export function fail(message) {
  throw new SetUpError(message);
}

/** Runs a step; its stdout, or a SetUpError naming `what` with the command's output. */
export function run(command, args, what, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) fail(`${what}: could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    fail(`${what} failed (${command} ${args.join(' ')}, exit ${result.status ?? result.signal}):\n${`${result.stderr}\n${result.stdout}`.trim()}`);
  }
  return result.stdout;
}

/** The interpreter ($PYTHON, else python3/python), its version string and implementation; `minimum` is [major, minor]. */
export function interpreter(minimum, purpose) {
  const candidates = process.env.PYTHON ? [process.env.PYTHON] : windows ? ['python', 'py'] : ['python3', 'python'];
  for (const command of candidates) {
    const probe = spawnSync(command, ['-c', 'import sys, venv; print(".".join(map(str, sys.version_info[:3])), sys.implementation.name)'], { encoding: 'utf8' });
    if (probe.status !== 0 || probe.error) continue;
    const [version, implementation] = probe.stdout.trim().split(' ');
    const [major, minor] = version.split('.').map(Number);
    if (major < minimum[0] || (major === minimum[0] && minor < minimum[1])) {
      fail(`${command} is Python ${version}; ${purpose} needs Python ${minimum.join('.')} or later (set PYTHON to one).`);
    }
    return { command, version, implementation };
  }
  fail(`no Python interpreter with the venv module found (tried ${candidates.join(', ')}); install Python ${minimum.join('.')}+ or set PYTHON.`);
}

/** The machine cache folder `name` ($XDG_CACHE_HOME or ~/.cache), unless `$overrideVar` names one. */
export function cacheRoot(overrideVar, name) {
  if (process.env[overrideVar]) return process.env[overrideVar];
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'cdk-serverless-tensorflow', name);
}

/** A venv's folder of executables. */
export const binDir = (venv) => path.join(venv, windows ? 'Scripts' : 'bin');

/** `name` as an executable of the venv. */
export const venvExecutable = (venv, name) => path.join(binDir(venv), windows ? `${name}.exe` : name);

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Holds the lock folder `lock` while `work` runs, unless `isDone()` says another set-up
 * finished it meanwhile; a lock older than 15 minutes is taken over.
 */
export function withLock(lock, isDone, work, log) {
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
        log(`taking over the stale lock ${lock}`);
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
