// The demo model as Python TensorFlow writes it (Keras .h5 and .keras, a SavedModel) and
// Python TF's own answers for the sample photos, made by scripts/reference-models.mjs in the
// machine cache (a pinned TensorFlow 2.15 venv); and the Lambda bundle run in a child process
// on a chosen backend, since a process holds one TF.js backend.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RUNTIME_DIR } from './models';

/** What scripts/reference-models.mjs prints. */
export interface ReferenceModels {
  readonly python: string;
  readonly tensorflowjsConverter: string;
  readonly h5: string;
  readonly keras: string;
  readonly savedModel: string;
  readonly reference: string;
  readonly tfjsFromH5: string;
  readonly tfjsFromSavedModel: string;
}

export interface PythonAnswer {
  readonly probabilities: number[];
  readonly top1: string;
}

/** reference.json: per resize variant, per photo, tf.keras's probabilities in label order. */
export interface PythonReference {
  readonly tensorflow: string;
  readonly labels: string[];
  readonly variants: Record<'alignCorners' | 'halfPixelCenters', Record<string, PythonAnswer>>;
}

export const REFERENCE_SETUP = 'node runtime/scripts/reference-models.mjs';

/**
 * Runs the set-up (seconds when cached; a few minutes the first time on a machine: it
 * installs TensorFlow from the package index) and returns its paths.
 */
export function referenceModels(): ReferenceModels {
  let stdout: string;
  try {
    stdout = execFileSync(process.execPath, [path.join(RUNTIME_DIR, 'scripts', 'reference-models.mjs')], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`\`${REFERENCE_SETUP}\` failed: ${e.stderr || e.message}`);
  }
  const models = JSON.parse(stdout) as ReferenceModels;
  for (const [key, p] of Object.entries(models)) {
    if (typeof p === 'string' && p.startsWith('/') && !existsSync(p)) throw new Error(`${REFERENCE_SETUP} printed ${key}: ${p}, which does not exist`);
  }
  return models;
}

export function pythonReference(models: ReferenceModels): PythonReference {
  return JSON.parse(readFileSync(models.reference, 'utf8')) as PythonReference;
}

export { BundleInitError, nativeBackendMissing, requireNativeBackend, runBundle } from './bundle-child';
export type { Backend, BundleRun } from './bundle-child';
