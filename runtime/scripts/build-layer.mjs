// Builds the runtime layer of zip functions as prebuilt archives, one per architecture:
// layer/linux-x64.zip and layer/linux-arm64.zip, each with a .json beside it (size, digest,
// versions). They ship in the npm package, so `cdk synth` of a Compute.zip() function
// copies a file: no npm, no network, no Docker, and the same bytes (the same asset hash)
// on every machine that installs the same package version.
//
// Layout, as Lambda mounts it under /opt:
//   nodejs/serverless-tf/handler.mjs, chunks/*.mjs   the runtime bundle (dist/)
//   nodejs/node_modules/...                         what the bundle leaves external:
//     @tensorflow/tfjs, @tensorflow/tfjs-backend-wasm and sharp with its prebuilt libvips
//     for Linux (glibc) on the architecture, pruned to what Node.js loads.
// ES modules resolve bare imports by walking up from the importing file, so
// /opt/nodejs/serverless-tf/handler.mjs finds /opt/nodejs/node_modules.
//
// The installed packages depend only on the lockfile: they are cached per lockfile (and
// this script) under .layer-cache/, so a rebuild after a source change only re-zips.
// The archives are deterministic: entries sorted, one fixed time stamp, fixed modes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';

const root = fileURLToPath(new URL('../', import.meta.url));
const ARCHITECTURES = [{ cpu: 'x64', lambda: 'x86_64' }, { cpu: 'arm64', lambda: 'arm64' }];
/** What the runtime loads at run time besides its bundle. */
const ENTRIES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp'];
/** Dependencies @tensorflow/tfjs declares for its CLI and browser polyfills; its Node entry never requires them. */
const NOT_LOADED = { '@tensorflow/tfjs': ['argparse', 'chalk', 'core-js', 'regenerator-runtime', 'yargs'] };
/** The documented bound (lib/private/zip-function.ts RUNTIME_LAYER_SIZE): the build fails above it. */
const MAX_UNZIPPED_BYTES = 32 * 1024 * 1024;
/** DOS time stamps start in 1980; every entry gets this one (UTC, below). */
const FIXED_TIME = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

process.env.TZ = 'UTC';
const started = Date.now();
const lockfile = readFileSync(path.join(root, 'package-lock.json'));
const self = readFileSync(fileURLToPath(import.meta.url));
const bundle = bundleFiles();
const outDir = path.join(root, 'layer');
mkdirSync(outDir, { recursive: true });

const built = [];
for (const arch of ARCHITECTURES) {
  const nodeModules = installedPackages(arch.cpu);
  const entries = [
    ...listFiles(nodeModules).map((f) => ({ source: path.join(nodeModules, f), name: `nodejs/node_modules/${f}` })),
    ...bundle.map((f) => ({ source: path.join(root, 'dist', f), name: `nodejs/serverless-tf/${f}` })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const unzippedBytes = entries.reduce((total, e) => total + statSync(e.source).size, 0);
  if (unzippedBytes > MAX_UNZIPPED_BYTES) {
    throw new Error(`build-layer: the linux-${arch.cpu} layer is ${mb(unzippedBytes)} unzipped, over the documented ${mb(MAX_UNZIPPED_BYTES)} (RUNTIME_LAYER_SIZE): prune more, or raise both.`);
  }
  const file = path.join(outDir, `linux-${arch.cpu}.zip`);
  await writeZip(entries, file);
  const zipped = readFileSync(file);
  const manifest = {
    architecture: arch.lambda,
    unzippedBytes,
    zippedBytes: zipped.length,
    sha256: createHash('sha256').update(zipped).digest('hex'),
    files: entries.length,
    packages: packageVersions(nodeModules),
  };
  writeFileSync(path.join(outDir, `linux-${arch.cpu}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  built.push(`linux-${arch.cpu}.zip ${mb(zipped.length)} (${mb(unzippedBytes)} unzipped)`);
}
console.log(`build-layer: ${built.join(', ')} in ${Date.now() - started} ms`);

/** dist/handler.mjs and the chunks it loads (the CLI's chunks too: small, and telling them apart means parsing imports). */
function bundleFiles() {
  const dist = path.join(root, 'dist');
  if (!existsSync(path.join(dist, 'handler.mjs'))) throw new Error('build-layer: dist/handler.mjs is missing: run `npm run bundle` first.');
  const chunks = existsSync(path.join(dist, 'chunks')) ? readdirSync(path.join(dist, 'chunks')).filter((f) => f.endsWith('.mjs')).sort() : [];
  return ['handler.mjs', ...chunks.map((f) => `chunks/${f}`)];
}

/**
 * The pruned node_modules for Linux (glibc) on `cpu`, from the cache or installed now:
 * `npm ci` of the production dependencies for that platform, whatever the host (npm 10.2
 * and later take --os/--cpu/--libc), without install scripts (sharp ships its binaries in
 * @img packages; nothing else kept has a script).
 */
function installedPackages(cpu) {
  const key = createHash('sha256').update(lockfile).update(self).update(cpu).digest('hex').slice(0, 16);
  const cacheDir = path.join(root, '.layer-cache');
  const cached = path.join(cacheDir, `linux-${cpu}-${key}`);
  if (existsSync(path.join(cached, 'node_modules'))) return path.join(cached, 'node_modules');
  mkdirSync(cacheDir, { recursive: true });
  for (const stale of readdirSync(cacheDir)) {
    if (stale.startsWith(`linux-${cpu}-`)) rmSync(path.join(cacheDir, stale), { recursive: true, force: true });
  }
  const work = mkdtempSync(`${cached}.partial-`);
  try {
    copyFileSync(path.join(root, 'package.json'), path.join(work, 'package.json'));
    copyFileSync(path.join(root, 'package-lock.json'), path.join(work, 'package-lock.json'));
    const npm = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline',
      '--os=linux', `--cpu=${cpu}`, '--libc=glibc'], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'], shell: process.platform === 'win32' });
    if (npm.status !== 0) throw new Error(`build-layer: npm ci for linux-${cpu} failed (exit ${npm.status})`);
    const before = treeBytes(path.join(work, 'node_modules'));
    const kept = prune(path.join(work, 'node_modules'));
    console.log(`build-layer: linux-${cpu} node_modules pruned from ${mb(before)} to ${mb(treeBytes(path.join(work, 'node_modules')))} (${kept} packages)`);
    rmSync(path.join(work, 'package.json'));
    rmSync(path.join(work, 'package-lock.json'));
    renameSync(work, cached);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return path.join(cached, 'node_modules');
}

/**
 * Trims `npm ci` output to what the runtime loads:
 * 1. only the packages reachable from ENTRIES (the AWS SDK, Powertools and the rest that
 *    esbuild bundled, tfjs-node and tfjs-node-gpu all go). Not followed: type declaration
 *    packages and NOT_LOADED.
 * 2. in the @tensorflow packages, only package.json, the "main" file (a self-contained
 *    CommonJS bundle, which is what Node loads), licences and the .wasm binaries beside
 *    it (tfjs-backend-wasm reads them from its own folder). The ES module trees and the
 *    browser builds are 90% of the install.
 * 3. everywhere: source maps, type declarations, Markdown.
 * Returns the number of packages kept.
 */
function prune(nodeModules) {
  const parent = path.dirname(nodeModules);
  const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
  const typesOnly = (name) => name.startsWith('@types/') || name === '@webgpu/types';
  const isLicense = (name) => /^(licen[cs]e|notice)/i.test(name);
  const resolveFrom = (dir, name) => {
    for (let d = dir; ; d = path.dirname(d)) {
      if (path.basename(d) !== 'node_modules') {
        const candidate = path.join(d, 'node_modules', name);
        if (existsSync(path.join(candidate, 'package.json'))) return candidate;
      }
      if (d === parent || d === path.dirname(d)) return undefined;
    }
  };
  const keep = new Set();
  const queue = ENTRIES.map((name) => {
    const dir = resolveFrom(parent, name);
    if (!dir) throw new Error(`build-layer: ${name} is not installed`);
    return dir;
  });
  while (queue.length) {
    const dir = queue.pop();
    if (keep.has(dir)) continue;
    keep.add(dir);
    const pkg = readJson(path.join(dir, 'package.json'));
    const optional = pkg.optionalDependencies ?? {};
    const skip = NOT_LOADED[pkg.name] ?? [];
    for (const name of Object.keys({ ...pkg.dependencies, ...optional })) {
      if (typesOnly(name) || skip.includes(name)) continue;
      const found = resolveFrom(dir, name);
      if (found) queue.push(found);
      else if (!(name in optional)) throw new Error(`build-layer: ${pkg.name} depends on ${name}, which is not installed`);
    }
  }
  const packagesIn = (nm) => (existsSync(nm) ? readdirSync(nm).filter((e) => !e.startsWith('.')).flatMap((e) =>
    (e.startsWith('@') ? readdirSync(path.join(nm, e)).map((s) => path.join(nm, e, s)) : [path.join(nm, e)])) : []);
  const sweep = (nm) => {
    for (const dir of packagesIn(nm)) {
      if (keep.has(dir)) sweep(path.join(dir, 'node_modules'));
      else rmSync(dir, { recursive: true, force: true });
    }
    if (!existsSync(nm)) return;
    for (const e of readdirSync(nm)) {
      const p = path.join(nm, e);
      if (e.startsWith('.') || (e.startsWith('@') && readdirSync(p).length === 0)) rmSync(p, { recursive: true, force: true });
    }
    if (nm !== nodeModules && readdirSync(nm).length === 0) rmdirSync(nm);
  };
  sweep(nodeModules);
  for (const dir of keep) {
    const pkg = readJson(path.join(dir, 'package.json'));
    if (!pkg.name.startsWith('@tensorflow/')) continue;
    const main = path.resolve(dir, pkg.main);
    if (!existsSync(main)) throw new Error(`build-layer: ${pkg.name}: main file ${pkg.main} is missing`);
    const wanted = (p) => p === main || p === path.join(dir, 'package.json') || isLicense(path.basename(p))
      || (p.endsWith('.wasm') && path.dirname(p) === path.dirname(main));
    const trim = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) {
          if (p === path.join(dir, 'node_modules')) continue;
          trim(p);
          if (readdirSync(p).length === 0) rmdirSync(p);
        } else if (!wanted(p)) rmSync(p);
      }
    };
    trim(dir);
  }
  const NOT_RUNTIME = /(\.map|\.d\.[cm]?ts|\.tsbuildinfo|\.md|\.markdown)$/i;
  const clean = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) clean(p);
      else if (NOT_RUNTIME.test(e.name) && !isLicense(e.name)) rmSync(p);
    }
  };
  clean(nodeModules);
  return keep.size;
}

/** Writes the entries (already sorted) into a zip, under a temporary name renamed into place. */
function writeZip(entries, file) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    const dirs = new Set();
    for (const { source, name } of entries) {
      // Directory entries first, so unzip tools and Lambda give them sane modes.
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (!dirs.has(dir)) {
          dirs.add(dir);
          zip.addEmptyDirectory(dir, { mtime: FIXED_TIME, mode: 0o40755 });
        }
      }
      const executable = (lstatSync(source).mode & 0o111) !== 0;
      zip.addFile(source, name, { mtime: FIXED_TIME, mode: executable ? 0o100755 : 0o100644, compress: true });
    }
    zip.end();
    const partial = `${file}.partial-${process.pid}`;
    const out = createWriteStream(partial);
    zip.outputStream.pipe(out).on('close', () => {
      renameSync(partial, file);
      resolve();
    }).on('error', reject);
  });
}

function listFiles(dir, prefix = '') {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1)).flatMap((e) => {
    const relative = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? listFiles(dir, relative) : [relative];
  });
}

function packageVersions(nodeModules) {
  return Object.fromEntries(listFiles(nodeModules)
    .filter((f) => /^(@[^/]+\/)?[^/@][^/]*\/package\.json$/.test(f))
    .map((f) => {
      const pkg = JSON.parse(readFileSync(path.join(nodeModules, f), 'utf8'));
      return [pkg.name, pkg.version];
    })
    .sort(([a], [b]) => (a < b ? -1 : 1)));
}

function treeBytes(p) {
  const stat = lstatSync(p);
  return stat.isDirectory() ? readdirSync(p).reduce((total, e) => total + treeBytes(path.join(p, e)), 0) : stat.size;
}

function mb(n) {
  return `${(n / 1e6).toFixed(1)} MB`;
}
