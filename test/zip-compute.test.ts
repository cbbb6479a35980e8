// Zip compute: a Node.js 24 function with the runtime in a shared layer and the model in a
// layer of its own, the synth-time limits, and one real build of the runtime layer that
// then classifies a photo, to prove the pruned layer still runs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, AssetStaging, Stack } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { DEMO_MODEL_DIR, RUNTIME_DIR, layersModelDir, newStack } from './support';
import { Compute } from '../lib/compute';
import { Model, ModelFormat } from '../lib/model';
import { RUNTIME_LAYER_SIZE } from '../lib/private/zip-function';
import { RuntimeEnvironment } from '../lib/runtime-environment';
import { TensorFlowFunction } from '../lib/tensorflow-function';
import { TensorFlowRuntimeLayer } from '../lib/tensorflow-runtime-layer';

const MIB = 1024 * 1024;

/** The functions of the template that serve a model (not the warmer, not CDK's helpers). */
function modelFunctions(template: Template) {
  return Object.values(template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { [RuntimeEnvironment.MODEL_URI]: Match.anyValue() } } },
  }));
}

function layerDescriptions(template: Template): string[] {
  return Object.values(template.findResources('AWS::Lambda::LayerVersion')).map((l) => l.Properties.Description as string);
}

const isRuntimeLayer = (description: string) => description.startsWith('serverless-tf runtime');

describe('zip compute', () => {
  test('a nodejs24.x function that re-exports the runtime from its layer, with the model in a second layer', () => {
    // GIVEN
    const stack = newStack();

    // WHEN
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip() });

    // THEN
    const template = Template.fromStack(stack);
    const [fn] = modelFunctions(template);
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['x86_64'] });
    expect(fn.Properties.Layers).toHaveLength(2);
    expect(fn.Properties.Environment.Variables).toMatchObject({
      [RuntimeEnvironment.BACKEND]: 'wasm',
      [RuntimeEnvironment.MODEL_URI]: '/opt/model',
    });
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs22.x', 'nodejs24.x'],
      CompatibleArchitectures: ['x86_64'],
      Description: Match.stringLikeRegexp('^serverless-tf runtime'),
    });
    expect(layerDescriptions(template).filter((d) => d.includes('/opt/model'))).toHaveLength(1);
  });

  test('the function code is a one-line index.mjs importing the handler from /opt/nodejs', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip() });

    expect(fs.readFileSync(path.join(stagedPath(fn.function), 'index.mjs'), 'utf8')).toBe("export { handler } from '/opt/nodejs/serverless-tf/handler.mjs';\n");
  });

  test('a backend set in environment wins over wasm', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(layersModelDir()),
      compute: Compute.zip(),
      environment: { [RuntimeEnvironment.BACKEND]: 'cpu' },
    });
    const [fn] = modelFunctions(Template.fromStack(stack));
    expect(fn.Properties.Environment.Variables[RuntimeEnvironment.BACKEND]).toBe('cpu');
  });

  test('two zip functions in one stack share one runtime layer', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'A', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip() });
    new TensorFlowFunction(stack, 'B', { model: Model.fromAsset(layersModelDir(2048)), compute: Compute.zip() });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 3);
    expect(layerDescriptions(template).filter(isRuntimeLayer)).toHaveLength(1);
    const [a, b] = modelFunctions(template);
    expect(a.Properties.Layers[0]).toEqual(b.Properties.Layers[0]);
    expect(a.Properties.Layers[1]).not.toEqual(b.Properties.Layers[1]);
  });

  test('a model in S3 needs no model layer', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Models');
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromBucket(bucket, 'models/m/'), compute: Compute.zip() });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    const [fn] = modelFunctions(template);
    expect(fn.Properties.Layers).toHaveLength(1);
    expect(fn.Properties.Environment.Variables[RuntimeEnvironment.MODEL_URI]).toMatchObject({ 'Fn::Join': expect.anything() });
  });

  test('arm64 gets a runtime layer of its own', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'X86', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip() });
    new TensorFlowFunction(stack, 'Arm', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip(), architecture: lambda.Architecture.ARM_64 });

    const template = Template.fromStack(stack);
    expect(layerDescriptions(template).filter(isRuntimeLayer)).toHaveLength(2);
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['arm64'],
      Description: Match.stringLikeRegexp('^serverless-tf runtime.*arm64'),
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Architectures: ['arm64'] });
  });

  test('extra layers come after the runtime and model layers', () => {
    const stack = newStack();
    const extra = lambda.LayerVersion.fromLayerVersionArn(stack, 'Extra', 'arn:aws:lambda:us-east-1:123456789012:layer:extra:1');
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip({ layers: [extra] }) });

    const [fn] = modelFunctions(Template.fromStack(stack));
    expect(fn.Properties.Layers).toHaveLength(3);
    expect(fn.Properties.Layers[2]).toBe('arn:aws:lambda:us-east-1:123456789012:layer:extra:1');
  });

  test('a model too big for 250 MB unzipped is refused, with the sizes and the way out', () => {
    const stack = newStack();
    const big = layersModelDir(300 * MIB, true);

    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(big), compute: Compute.zip() }))
      .toThrow(/300\.0 MiB.*runtime layer.*250 MB.*Compute\.container\(\).*Model\.fromBucket/);
  });

  test('more than 5 layers are refused', () => {
    const stack = newStack();
    const layers = [1, 2, 3, 4].map((i) => lambda.LayerVersion.fromLayerVersionArn(stack, `L${i}`, `arn:aws:lambda:us-east-1:123456789012:layer:l${i}:1`));

    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip({ layers }) }))
      .toThrow(/at most 5 layers.*would have 6/);
  });

  test('a SavedModel read from S3 is refused (no native backend in a zip; one from Model.fromAsset is converted at synth)', () => {
    const stack = newStack();
    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromBucket(new s3.Bucket(stack, 'B'), 'm/', { format: ModelFormat.SAVED_MODEL }), compute: Compute.zip() })).toThrow(/SavedModel/);
  });
});

describe('zip compute with a runtime layer of your own', () => {
  test('a TensorFlowRuntimeLayer given as runtimeLayer is the function\'s first layer, and no shared one is made', () => {
    // GIVEN
    const stack = newStack();
    const runtime = new TensorFlowRuntimeLayer(stack, 'MyRuntime');

    // WHEN
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip({ runtimeLayer: runtime.layerVersion }) });

    // THEN
    const template = Template.fromStack(stack);
    expect(layerDescriptions(template).filter(isRuntimeLayer)).toHaveLength(1);
    template.templateMatches({ Resources: { [logicalIdOf(runtime.layerVersion)]: { Type: 'AWS::Lambda::LayerVersion' } } });
    const [fn] = modelFunctions(template);
    expect(fn.Properties.Layers).toHaveLength(2);
    expect(fn.Properties.Layers[0]).toEqual({ Ref: logicalIdOf(runtime.layerVersion) });
  });

  test('functions in two stacks share one TensorFlowRuntimeLayer built in a layers stack', () => {
    // GIVEN
    const [layersStack, stackA, stackB] = stacksInOneApp('Layers', 'A', 'B');
    const runtime = new TensorFlowRuntimeLayer(layersStack, 'Runtime');

    // WHEN
    for (const stack of [stackA, stackB]) {
      new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip({ runtimeLayer: runtime.layerVersion }) });
    }

    // THEN: one runtime layer in the app, exported once and imported by both functions
    const layers = Template.fromStack(layersStack);
    expect(layerDescriptions(layers).filter(isRuntimeLayer)).toHaveLength(1);
    const exports = Object.values(layers.findOutputs('*', { Value: { Ref: logicalIdOf(runtime.layerVersion) } }));
    expect(exports).toHaveLength(1);
    for (const stack of [stackA, stackB]) {
      const template = Template.fromStack(stack);
      expect(layerDescriptions(template).filter(isRuntimeLayer)).toHaveLength(0);
      const [fn] = modelFunctions(template);
      expect(fn.Properties.Layers[0]).toEqual({ 'Fn::ImportValue': exports[0].Export.Name });
    }
  });

  test('an imported layer version ARN is used as it is', () => {
    const stack = newStack();
    const arn = 'arn:aws:lambda:us-east-1:123456789012:layer:serverless-tf-runtime:7';
    const imported = lambda.LayerVersion.fromLayerVersionArn(stack, 'Runtime', arn);

    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip({ runtimeLayer: imported }) });

    const template = Template.fromStack(stack);
    expect(layerDescriptions(template).filter(isRuntimeLayer)).toHaveLength(0);
    const [fn] = modelFunctions(template);
    expect(fn.Properties.Layers).toHaveLength(2);
    expect(fn.Properties.Layers[0]).toBe(arn);
  });

  test('an imported layer has no known size: only the model counts towards 250 MB', () => {
    // GIVEN: a model that fits beside an unknown layer, but not beside ours (32 MiB)
    const stack = newStack();
    const imported = lambda.LayerVersion.fromLayerVersionArn(stack, 'Runtime', 'arn:aws:lambda:us-east-1:123456789012:layer:serverless-tf-runtime:7');
    const fitsAlone = layersModelDir(240 * MIB, true);

    // THEN
    expect(() => new TensorFlowFunction(stack, 'Imported', { model: Model.fromAsset(fitsAlone), compute: Compute.zip({ runtimeLayer: imported }) })).not.toThrow();
    expect(() => new TensorFlowFunction(stack, 'Shared', { model: Model.fromAsset(fitsAlone), compute: Compute.zip() })).toThrow(/240\.0 MiB.*runtime layer \(32\.0 MiB\)/);
    expect(() => new TensorFlowFunction(stack, 'TooBig', { model: Model.fromAsset(layersModelDir(300 * MIB, true)), compute: Compute.zip({ runtimeLayer: imported }) }))
      .toThrow(/model \(300\.0 MiB\) alone is over Lambda's 250 MB limit.*Compute\.container\(\).*Model\.fromBucket/);
  });

  test('a runtime layer built for another architecture is refused, with the way out', () => {
    const stack = newStack();
    const arm = new TensorFlowRuntimeLayer(stack, 'ArmRuntime', { architecture: lambda.Architecture.ARM_64 });

    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip({ runtimeLayer: arm.layerVersion }) }))
      .toThrow(/Fn: Compute\.zip: the runtimeLayer \(Test\/ArmRuntime\) is built for arm64, but the function runs on x86_64.*lambda\.Architecture\.X86_64.*lambda\.Architecture\.ARM_64/);
  });

  test.each([
    ['a TensorFlowRuntimeLayer in layers', (stack: Stack) => ({ layers: [new TensorFlowRuntimeLayer(stack, 'Runtime').layerVersion] })],
    ['the runtimeLayer again in layers, imported twice', (stack: Stack) => {
      const arn = 'arn:aws:lambda:us-east-1:123456789012:layer:serverless-tf-runtime:7';
      return {
        runtimeLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'Runtime', arn),
        layers: [lambda.LayerVersion.fromLayerVersionArn(stack, 'Again', arn)],
      };
    }],
  ])('a second runtime layer is refused: %s', (_case, zipProps) => {
    const stack = newStack();

    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip(zipProps(stack)) }))
      .toThrow(/hold a runtime layer.*Pass it as Compute\.zip\(\{ runtimeLayer \}\) only/);
  });
});

describe('TensorFlowRuntimeLayer', () => {
  test('x86_64 by default; usable on its own', () => {
    const stack = newStack();
    const layer = new TensorFlowRuntimeLayer(stack, 'Runtime');

    expect(layer.architecture).toBe(lambda.Architecture.X86_64);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['x86_64'] });
  });

  test('synth copies the prebuilt archive for the architecture: no npm, no network, no Docker, the same bytes every time', () => {
    // GIVEN: an app that stages assets, with no npm and no docker on PATH
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-cdkout-'));
    const savedPath = process.env.PATH;
    process.env.PATH = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-empty-path-'));
    try {
      const stack = new Stack(new App({ outdir }), 'Staged');

      // WHEN
      const x64 = new TensorFlowRuntimeLayer(stack, 'X64');
      const arm = new TensorFlowRuntimeLayer(stack, 'Arm', { architecture: lambda.Architecture.ARM_64 });

      // THEN: each asset is its archive, byte for byte, used as it is (a zip file asset)
      for (const [layer, cpu] of [[x64, 'x64'], [arm, 'arm64']] as const) {
        const staged = stagedPath(layer.layerVersion);
        expect(path.extname(staged)).toBe('.zip');
        expect(fs.readFileSync(staged).equals(fs.readFileSync(path.join(RUNTIME_DIR, 'layer', `linux-${cpu}.zip`)))).toBe(true);
      }
      const layers = Template.fromStack(stack).findResources('AWS::Lambda::LayerVersion');
      expect(new Set(Object.values(layers).map((l) => JSON.stringify(l.Properties.Content.S3Key))).size).toBe(2);
    } finally {
      process.env.PATH = savedPath;
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('the archive: pruned under the documented size, the layout Lambda mounts at /opt, and it classifies the demo photo', () => {
    // GIVEN: the x86_64 archive, unpacked as Lambda unpacks a layer under /opt
    const opt = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-opt-'));
    const archive = path.join(RUNTIME_DIR, 'layer', 'linux-x64.zip');
    const unzip = spawnSync('unzip', ['-q', archive, '-d', opt], { encoding: 'utf8' });
    expect({ status: unzip.status, stderr: unzip.stderr }).toEqual({ status: 0, stderr: '' });

    // THEN: what the runtime loads is there, and nothing it must not
    const nodeModules = path.join(opt, 'nodejs', 'node_modules');
    for (const pkg of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp', '@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64']) {
      expect({ pkg, present: fs.existsSync(path.join(nodeModules, pkg, 'package.json')) }).toEqual({ pkg, present: true });
    }
    for (const pkg of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@aws-sdk', 'core-js', '@img/sharp-linux-arm64', '@img/sharp-linuxmusl-x64']) {
      expect({ pkg, present: fs.existsSync(path.join(nodeModules, pkg)) }).toEqual({ pkg, present: false });
    }
    const bytes = treeBytes(opt);
    expect(bytes).toBeLessThanOrEqual(RUNTIME_LAYER_SIZE.toBytes());
    const manifest = JSON.parse(fs.readFileSync(path.join(RUNTIME_DIR, 'layer', 'linux-x64.json'), 'utf8')) as { unzippedBytes: number; architecture: string };
    expect(manifest).toMatchObject({ unzippedBytes: bytes, architecture: 'x86_64' });

    // AND: the bundle, imported where the layer puts it, serves the demo model on wasm
    const invoke = [
      "import { readFileSync } from 'node:fs';",
      'const { handler } = await import(process.env.HANDLER_PATH);',
      "const answer = await handler({ b64: readFileSync(process.env.IMAGE_PATH).toString('base64') }, {});",
      "process.stdout.write('ANSWER ' + JSON.stringify(answer) + '\\n');",
    ].join('\n');
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', invoke], {
      cwd: fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-invoke-')),
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HANDLER_PATH: path.join(opt, 'nodejs', 'serverless-tf', 'handler.mjs'),
        IMAGE_PATH: path.join(RUNTIME_DIR, 'samples', 'chelsea.png'),
        [RuntimeEnvironment.MODEL_URI]: DEMO_MODEL_DIR,
        [RuntimeEnvironment.TASK]: fs.readFileSync(path.join(DEMO_MODEL_DIR, 'task.json'), 'utf8'),
        [RuntimeEnvironment.BACKEND]: 'wasm',
      },
    });
    const line = result.stdout.split('\n').find((l) => l.startsWith('ANSWER '));
    if (!line) throw new Error(`the handler did not answer (exit ${result.status}):\n${result.stderr}\n${result.stdout}`);
    const answer = JSON.parse(line.slice('ANSWER '.length)) as { predictions: { label: string; score: number }[] };
    expect(answer.predictions[0].label).toBe('Neutral');
    expect(result.stdout + result.stderr).toMatch(/"backend":"wasm"/);
    fs.rmSync(opt, { recursive: true, force: true });
  }, 60_000);
});

/** Stacks in one app that skips asset bundling, for what is shared between stacks. */
function stacksInOneApp(...ids: string[]): Stack[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return ids.map((id) => new Stack(app, id, { env: { account: '123456789012', region: 'us-east-1' } }));
}

function logicalIdOf(resource: IConstruct): string {
  return Stack.of(resource).getLogicalId(resource.node.defaultChild as CfnElement);
}

/** Where the asset of a function's or layer's code was staged (bundled) in the cloud assembly. */
function stagedPath(resource: IConstruct): string {
  const staging = resource.node.findAll().find((c): c is AssetStaging => c instanceof AssetStaging);
  if (!staging) throw new Error(`no asset under ${resource.node.path}`);
  return staging.absoluteStagedPath;
}

function treeBytes(p: string): number {
  const stat = fs.lstatSync(p);
  return stat.isDirectory() ? fs.readdirSync(p).reduce((total, e) => total + treeBytes(path.join(p, e)), 0) : stat.size;
}
