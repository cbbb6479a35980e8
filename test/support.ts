// Shared fixtures for construct tests: small real model folders, a stack factory, a
// TensorFlowFunction factory, and readers of the function's environment and role policy.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { Model, RuntimeEnvironment, TensorFlowFunction } from '../lib';
import type { TensorFlowFunctionProps } from '../lib';

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

/** A test's props for a TensorFlowFunction: all optional, the model too. */
export type FunctionProps = Partial<TensorFlowFunctionProps>;

/** Makes a TensorFlowFunction with its suite's defaults under the props given. */
export interface FunctionFactory {
  /** A function with the factory's default id. */
  (scope: Construct, props?: FunctionProps): TensorFlowFunction;
  /** A function with id `id`. */
  (scope: Construct, id: string, props?: FunctionProps): TensorFlowFunction;
}

let smallModel: string | undefined;

/**
 * A factory of TensorFlowFunctions of a small layers model (one 1 KiB folder per test file),
 * with `defaults` (a suite's timeout, task or model name) under each call's props.
 */
export function classifierWith(defaults: FunctionProps = {}, defaultId = 'Fn'): FunctionFactory {
  return (scope: Construct, idOrProps?: string | FunctionProps, props: FunctionProps = {}): TensorFlowFunction => {
    const [id, given] = typeof idOrProps === 'string' ? [idOrProps, props] : [defaultId, idOrProps ?? {}];
    smallModel ??= layersModelDir();
    return new TensorFlowFunction(scope, id, { model: Model.fromAsset(smallModel), ...defaults, ...given });
  };
}

/** A TensorFlowFunction 'Fn' (or `id`) of a small layers model, with the construct's defaults under `props`. */
export const classifier: FunctionFactory = classifierWith();

/**
 * The environment variables of the template's first TensorFlowFunction. A variable set from
 * a token holds the intrinsic it resolved to ({ Ref }, { 'Fn::Join' }) rather than a string:
 * compare those with toEqual or toMatchObject.
 */
export function envOf(template: Template): Record<string, string> {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { [RuntimeEnvironment.MODEL_NAME]: Match.anyValue() } } } });
  const [fn] = Object.values(fns);
  return fn.Properties.Environment.Variables as Record<string, string>;
}

/** Every statement of the role policy of the TensorFlowFunction with id `functionId` (its own role). */
export function statementsOf(template: Template, functionId = 'Fn'): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^${functionId}ServiceRole`) }] } });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}
