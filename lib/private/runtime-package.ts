// Locates the runtime package (runtime/ beside lib/, in the repository and in the
// published npm package) and stages Docker build contexts: the runtime bundle, its
// lockfile, the Dockerfiles and the model, in one folder per model.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { IConstruct } from 'constructs';
import { COMPLETE_MARKER, assemblyStagingDir, stageFolder } from './staging';
import { TensorFlowValidationError } from './validation-error';

export const RUNTIME_DIR = path.join(__dirname, '..', '..', 'runtime');

/** The files of runtime/ that a Docker build needs (not src/, tests or node_modules). */
const CONTEXT_FILES = ['package.json', 'package-lock.json', 'dist/handler.mjs', 'docker/Dockerfile', 'docker/Dockerfile.gpu'];

/** The bundle's chunks (loaded by dist/handler.mjs, some on first use). */
export function runtimeChunks(): string[] {
  const dir = path.join(RUNTIME_DIR, 'dist', 'chunks');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => `dist/chunks/${f}`) : [];
}

/** Throws when the runtime bundle has not been built (a repository checkout before `projen runtime:build`). */
export function requireRuntimeFile(scope: IConstruct, relative: string): string {
  const file = path.join(RUNTIME_DIR, relative);
  if (!fs.existsSync(file)) {
    throw new TensorFlowValidationError(scope, `The runtime is not built: ${file} is missing. In a checkout of cdk-serverless-tensorflow, run \`npx projen runtime:build\`.`);
  }
  return file;
}

/**
 * A Docker build context holding the runtime and, under model/, the model (empty for
 * models read from S3). Deterministic content, so the image asset hash only changes
 * when the runtime or the model does.
 *
 * The folder is named after a fingerprint of what goes in it (the runtime files' content,
 * and the model's file names, sizes and modification times) and lives in the app's cloud
 * assembly folder (cdk.out/.serverless-tf/), where every later synth into the same folder
 * reuses it: a model of gigabytes is copied once per version, not once per `cdk synth`,
 * and removing cdk.out removes the copies too (nothing piles up in the OS temp folder).
 * It is written under a temporary name and renamed into place, so a concurrent synth
 * never sees half of it.
 */
export function stageDockerContext(scope: IConstruct, modelPath: string | undefined): string {
  for (const f of CONTEXT_FILES) requireRuntimeFile(scope, f);
  const runtimeFiles = [...CONTEXT_FILES, ...runtimeChunks()];
  const dir = path.join(assemblyStagingDir(scope), `context-${contextFingerprint(runtimeFiles, modelPath)}`);
  return stageFolder(dir, (building) => {
    for (const f of runtimeFiles) {
      fs.mkdirSync(path.dirname(path.join(building, f)), { recursive: true });
      fs.copyFileSync(path.join(RUNTIME_DIR, f), path.join(building, f));
    }
    fs.writeFileSync(path.join(building, '.dockerignore'), `**/.DS_Store\n${COMPLETE_MARKER}\n`);
    const modelDir = path.join(building, 'model');
    if (modelPath) {
      fs.cpSync(modelPath, modelDir, { recursive: true, dereference: true });
    } else {
      fs.mkdirSync(modelDir);
      fs.writeFileSync(path.join(modelDir, 'README.txt'), 'The model is read from S3 at init (SERVERLESS_TF_MODEL_URI); nothing is baked into this image.\n');
    }
  });
}

/** Runtime files by content; the model by file names, sizes and modification times (reading gigabytes on every synth would be slow). */
function contextFingerprint(runtimeFiles: string[], modelPath: string | undefined): string {
  const hash = crypto.createHash('sha256');
  for (const f of runtimeFiles) hash.update(`${f}\0`).update(fs.readFileSync(path.join(RUNTIME_DIR, f))).update('\0');
  hash.update(`model:${modelPath ? path.resolve(modelPath) : ''}\0`);
  if (modelPath) {
    for (const file of listFiles(modelPath)) {
      const stat = fs.statSync(path.join(modelPath, file));
      hash.update(`${file}\0${stat.size}\0${stat.mtimeMs}\0`);
    }
  }
  return hash.digest('hex').slice(0, 32);
}

/** Files under `dir`, relative and sorted, following symlinks as cpSync({ dereference }) does. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(dir, prefix)).sort()) {
    const relative = path.join(prefix, name);
    if (fs.statSync(path.join(dir, relative)).isDirectory()) out.push(...listFiles(dir, relative));
    else out.push(relative);
  }
  return out;
}
