// Shared fixtures for construct tests: small real model folders and a stack factory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';

export const RUNTIME_DIR = path.join(__dirname, '..', 'runtime');
/** The pretrained MobileNetV2 converted by `projen runtime:build` (2.6 MB, layers format). */
export const DEMO_MODEL_DIR = path.join(RUNTIME_DIR, 'models', 'mobilenet_v2');

/** A TF.js layers model folder of about `bytes` bytes (a real manifest, zero weights). */
export function layersModelDir(bytes = 1024, sparse = false): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-model-'));
  const floats = Math.max(1, Math.floor(bytes / 4));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: 'm', layers: [] } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'w', shape: [floats], dtype: 'float32' }] }],
  }));
  const shard = path.join(dir, 'group1-shard1of1.bin');
  if (sparse) {
    fs.writeFileSync(shard, '');
    fs.truncateSync(shard, floats * 4);
  } else {
    fs.writeFileSync(shard, Buffer.alloc(floats * 4));
  }
  return dir;
}

/** A folder shaped like a TensorFlow SavedModel. */
export function savedModelDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saved-model-'));
  fs.writeFileSync(path.join(dir, 'saved_model.pb'), Buffer.from([8, 1]));
  fs.mkdirSync(path.join(dir, 'variables'));
  fs.writeFileSync(path.join(dir, 'variables', 'variables.index'), Buffer.alloc(16));
  return dir;
}

/** A stack in an app that skips asset bundling (no npm or Docker during unit tests). */
export function newStack(id = 'Test'): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, id, { env: { account: '123456789012', region: 'us-east-1' } });
}

/** Replaces asset and version hashes so snapshots only change when the infrastructure does. */
export function masked(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template)
    .replace(/[0-9a-f]{64}/g, '[ASSET-HASH]')
    // A version's logical id carries a hash of the function's configuration, image included.
    .replace(/(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}/g, '$1[VERSION-HASH]'));
}

/** The cdk-nag (validation) report of an app's synthesis, or '' when every finding is acknowledged. */
export function nagReport(app: App): string {
  try {
    app.synth();
    return '';
  } catch (err) {
    const file = /found in: (\S+)/.exec((err as Error).message)?.[1];
    return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : (err as Error).message;
  }
}
