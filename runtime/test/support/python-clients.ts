// The real Python clients of the V2 protocol (tritonclient[http] and KServe's
// InferenceRESTClient), pinned in a venv in the machine cache that scripts/python-tools.mjs
// sets up (about 90 s and 500 MB the first time, from the package index pip is configured
// with; well under a second when cached), and a way to run a Python script with them.
import { execFile } from 'node:child_process';
import path from 'node:path';

const SET_UP = path.join(__dirname, '..', '..', '..', 'scripts', 'python-tools.mjs');
const SET = 'protocol-clients';
/** Longest a first set-up may take: pip installs 75 distributions. */
export const CLIENTS_SET_UP_TIMEOUT_MS = 10 * 60 * 1000;

let python: Promise<string> | undefined;

/** The venv's python, setting the venv up first when it is not in the cache; once per test file. */
export function protocolClientsPython(): Promise<string> {
  python ??= new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [SET_UP, '--set', SET], { timeout: CLIENTS_SET_UP_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`The Python protocol clients could not be set up: run \`node scripts/python-tools.mjs --set ${SET}\` and fix what it reports.\n${stderr}${err.message}`));
      } else {
        resolve(stdout.trim());
      }
    });
  });
  return python;
}

/** Runs `script` (on stdin) with the clients' python and `args`; its stdout, or an error with its stderr. */
export async function runPython(script: string, args: readonly string[], what: string): Promise<string> {
  const exe = await protocolClientsPython();
  return new Promise<string>((resolve, reject) => {
    const child = execFile(exe, ['-', ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) => {
      if (err) reject(new Error(`${what} failed: ${err.message}\n${stderr}`));
      else resolve(out);
    });
    child.stdin!.end(script);
  });
}
