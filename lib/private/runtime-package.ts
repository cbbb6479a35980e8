// Locates the runtime package (runtime/ beside lib/, in the repository and in the
// published npm package) and stages Docker build contexts: the runtime bundle, its
// lockfile, the Dockerfiles and the model, in one folder per model.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { IConstruct } from 'constructs';
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

const staged = new Map<string, string>();

/**
 * A Docker build context holding the runtime and, under model/, the model (empty for
 * models read from S3). Deterministic content, so the image asset hash only changes
 * when the runtime or the model does.
 */
export function stageDockerContext(scope: IConstruct, modelPath: string | undefined): string {
  for (const f of CONTEXT_FILES) requireRuntimeFile(scope, f);
  const key = `${RUNTIME_DIR}|${modelPath ?? ''}`;
  const existing = staged.get(key);
  if (existing && fs.existsSync(existing)) return existing;
  const hash = crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `serverless-tf-context-${hash}-`));
  for (const f of [...CONTEXT_FILES, ...runtimeChunks()]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(RUNTIME_DIR, f), path.join(dir, f));
  }
  fs.writeFileSync(path.join(dir, '.dockerignore'), '**/.DS_Store\n');
  const modelDir = path.join(dir, 'model');
  if (modelPath) {
    fs.cpSync(modelPath, modelDir, { recursive: true, dereference: true });
  } else {
    fs.mkdirSync(modelDir);
    fs.writeFileSync(path.join(modelDir, 'README.txt'), 'The model is read from S3 at init (SERVERLESS_TF_MODEL_URI); nothing is baked into this image.\n');
  }
  staged.set(key, dir);
  return dir;
}
