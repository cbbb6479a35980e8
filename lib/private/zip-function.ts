// Zip compute: a Node.js 24 function whose code is a one-line re-export of the runtime in
// a TensorFlowRuntimeLayer (the one shared per stack, or the user's), with the model in a
// layer of its own (at /opt/model) or read from S3 at init. Checked against Lambda's size
// and layer limits at synth time.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Size, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { Compute } from '../compute';
import type { ModelConfig } from '../model';
import { RuntimeEnvironment } from '../runtime-environment';
import { TensorFlowRuntimeLayer } from '../tensorflow-runtime-layer';
import { mib } from './sizing';
import { COMPLETE_MARKER, stageFolder } from './staging';
import { TensorFlowValidationError } from './validation-error';

/**
 * Lambda's limit on a function's code and all of its layers, unzipped: 250 MB as the
 * documentation writes it, enforced as 262,144,000 bytes (250 MiB).
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export const MAX_UNZIPPED_BYTES = 262_144_000;

/** Lambda's limit on layers per function. */
export const MAX_LAYERS = 5;

/**
 * The runtime layer's unzipped size, rounded up: measured at 31.3 MB (29.8 MiB) for
 * x86_64 and 31.0 MB for arm64 with the runtime's lockfile of TensorFlow.js 4.22 and
 * sharp 0.35 (of which libvips is 18 MB). test/zip-compute.test.ts checks a real build
 * against it.
 */
export const RUNTIME_LAYER_SIZE = Size.mebibytes(32);

/** The function's own code: the runtime's handler, re-exported from the layer. */
const ENTRY_SOURCE = "export { handler } from '/opt/nodejs/serverless-tf/handler.mjs';\n";

/**
 * The runtime variables of the zip packaging, which carries the wasm backend only; part of the
 * TensorFlowFunction's own environment, so the environment prop can still override them.
 */
export const ZIP_ENVIRONMENT: Readonly<Record<string, string>> = { [RuntimeEnvironment.BACKEND]: 'wasm' };

export interface ZipFunction {
  readonly function: lambda.Function;
  /** The layer that holds the runtime: Compute.zip's runtimeLayer, or the shared per-stack one. */
  readonly runtimeLayer: lambda.ILayerVersion;
  /** The layer that holds the model at /opt/model, for a model in a local folder. */
  readonly modelLayer?: lambda.ILayerVersion;
}

/**
 * Checks the zip layout (architecture, layers, sizes) against Lambda's limits. Call it before
 * any resource of the function is created: an error then leaves no half-built function behind.
 */
export function validateZipCompute(scope: Construct, functionProps: lambda.FunctionOptions, compute: Compute, model: ModelConfig): void {
  validate(scope, zipLayout(functionProps, compute, model));
}

function zipLayout(functionProps: lambda.FunctionOptions, compute: Compute, model: ModelConfig): ZipLayout {
  return {
    model,
    architecture: functionProps.architecture ?? lambda.Architecture.X86_64,
    givenRuntimeLayer: compute.zipProps?.runtimeLayer,
    ourLayers: model.localPath !== undefined ? 2 : 1,
    extraLayers: [...functionProps.layers ?? [], ...compute.zipProps?.layers ?? []],
  };
}

/**
 * The function, with `functionProps.environment` (ZIP_ENVIRONMENT included) as it is. Call
 * validateZipCompute first: buildZipFunction does not check the layout again.
 */
export function buildZipFunction(scope: Construct, functionProps: lambda.FunctionOptions, compute: Compute, model: ModelConfig): ZipFunction {
  const { architecture, givenRuntimeLayer, extraLayers } = zipLayout(functionProps, compute, model);
  const runtimeLayer = givenRuntimeLayer ?? sharedRuntimeLayer(scope, architecture).layerVersion;
  const ownModelLayer = model.localPath ? modelLayer(scope, model.localPath, architecture) : undefined;
  const layers: lambda.ILayerVersion[] = [runtimeLayer, ...ownModelLayer ? [ownModelLayer] : [], ...extraLayers];

  const fn = new lambda.Function(scope, 'Function', {
    ...functionProps,
    architecture,
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromAsset(stageEntry(), { exclude: [COMPLETE_MARKER] }),
    layers,
  });
  return { function: fn, runtimeLayer, modelLayer: ownModelLayer };
}

interface ZipLayout {
  readonly model: ModelConfig;
  readonly architecture: lambda.Architecture;
  /** Compute.zip({ runtimeLayer }); undefined for the shared per-stack layer. */
  readonly givenRuntimeLayer?: lambda.ILayerVersion;
  /** The runtime layer, and the model layer when the model is a local folder. */
  readonly ourLayers: number;
  /** From the layers and Compute.zip({ layers }) props. */
  readonly extraLayers: lambda.ILayerVersion[];
}

function validate(scope: Construct, layout: ZipLayout): void {
  const { model, architecture, givenRuntimeLayer, ourLayers, extraLayers } = layout;
  const given = givenRuntimeLayer && runtimeLayerOf(givenRuntimeLayer);
  if (given && given.architecture.name !== architecture.name) {
    throw new TensorFlowValidationError(scope, `Compute.zip: the runtimeLayer (${given.node.path}) is built for ${given.architecture.name}, but the function runs on ${architecture.name}, and the layer's sharp carries native libvips for one architecture only. Give a TensorFlowRuntimeLayer built with { architecture: lambda.Architecture.${architectureConstant(architecture)} }, or set the function's architecture to lambda.Architecture.${architectureConstant(given.architecture)}.`);
  }
  const duplicate = extraLayers.find((l) => runtimeLayerOf(l) !== undefined || (givenRuntimeLayer !== undefined && sameLayer(l, givenRuntimeLayer)));
  if (duplicate) {
    throw new TensorFlowValidationError(scope, `Compute.zip: the layers or Compute.zip({ layers }) props hold a runtime layer (${describeLayer(duplicate)}), but the function already gets ${givenRuntimeLayer ? 'the one given as Compute.zip({ runtimeLayer })' : 'the shared per-stack one'}, and two would overlay each other in /opt/nodejs. Pass it as Compute.zip({ runtimeLayer }) only, and remove it from layers.`);
  }

  const total = ourLayers + extraLayers.length;
  if (total > MAX_LAYERS) {
    throw new TensorFlowValidationError(scope, `Compute.zip: a function takes at most ${MAX_LAYERS} layers (Lambda's limit); this one would have ${total}: the runtime layer${ourLayers === 2 ? ', the model layer' : ''} and ${extraLayers.length} from the layers and Compute.zip({ layers }) props. Remove ${total - MAX_LAYERS}.`);
  }

  const modelBytes = model.localPath !== undefined ? model.sizeBytes ?? 0 : 0;
  const ways = 'Use Compute.container() (images up to 10 GB), or Model.fromBucket to read the model from S3 into /tmp at init.';
  // A layer that is not a TensorFlowRuntimeLayer (e.g. imported by ARN) has no size we
  // can know here: the model is checked on its own, and Lambda checks the sum at deploy.
  if (givenRuntimeLayer !== undefined && given === undefined) {
    if (modelBytes > MAX_UNZIPPED_BYTES) {
      throw new TensorFlowValidationError(scope, `Compute.zip: the model (${mib(modelBytes)}) alone is over Lambda's 250 MB limit (${mib(MAX_UNZIPPED_BYTES)}) for a function and its layers unzipped, before the runtime layer is counted. ${ways}`);
    }
    return;
  }
  const runtimeBytes = RUNTIME_LAYER_SIZE.toBytes();
  if (runtimeBytes + modelBytes > MAX_UNZIPPED_BYTES) {
    throw new TensorFlowValidationError(scope, `Compute.zip: the model (${mib(modelBytes)}) and the runtime layer (${mib(runtimeBytes)}) come to ${mib(modelBytes + runtimeBytes)} unzipped, over Lambda's 250 MB limit (${mib(MAX_UNZIPPED_BYTES)}) for a function and its layers. ${ways}`);
  }
}

/** The TensorFlowRuntimeLayer a layer version belongs to: then its architecture and size are known. */
function runtimeLayerOf(layer: lambda.ILayerVersion): TensorFlowRuntimeLayer | undefined {
  const owner = layer.node.scope;
  return owner instanceof TensorFlowRuntimeLayer && owner.layerVersion === layer ? owner : undefined;
}

/** The same object, or two imports of the same literal ARN. */
function sameLayer(a: lambda.ILayerVersion, b: lambda.ILayerVersion): boolean {
  return a === b || (!Token.isUnresolved(a.layerVersionArn) && a.layerVersionArn === b.layerVersionArn);
}

function describeLayer(layer: lambda.ILayerVersion): string {
  return Token.isUnresolved(layer.layerVersionArn) ? layer.node.path : layer.layerVersionArn;
}

function architectureConstant(architecture: lambda.Architecture): string {
  return architecture.name === lambda.Architecture.ARM_64.name ? 'ARM_64' : 'X86_64';
}

/** One runtime layer per stack and architecture, shared by every zip function in it. */
function sharedRuntimeLayer(scope: Construct, architecture: lambda.Architecture): TensorFlowRuntimeLayer {
  const stack = Stack.of(scope);
  const id = `ServerlessTensorFlowRuntime-${architecture.name}`;
  const existing = stack.node.tryFindChild(id);
  if (existing instanceof TensorFlowRuntimeLayer) return existing;
  return new TensorFlowRuntimeLayer(stack, id, { architecture });
}

/** The model folder as a layer whose content sits under model/, so it lands at /opt/model. */
function modelLayer(scope: Construct, modelPath: string, architecture: lambda.Architecture): lambda.LayerVersion {
  return new lambda.LayerVersion(scope, 'ModelLayer', {
    description: `TensorFlow model ${path.basename(modelPath)} for ${scope.node.path}, at /opt/model`,
    compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
    compatibleArchitectures: [architecture],
    code: lambda.Code.fromAsset(modelPath, {
      bundling: {
        // A copy into model/: done locally, so the image is never pulled.
        image: lambda.Runtime.NODEJS_24_X.bundlingImage,
        command: ['bash', '-c', 'mkdir -p /asset-output/model && cp -R /asset-input/. /asset-output/model/'],
        local: {
          tryBundle(outputDir: string) {
            fs.cpSync(modelPath, path.join(outputDir, 'model'), { recursive: true, dereference: true });
            return true;
          },
        },
      },
    }),
  });
}

/**
 * A folder holding index.mjs, named after its content: every synth, in any process, uses
 * the same one (written under a temporary name and renamed into place) instead of leaving
 * a new folder in /tmp each time.
 */
function stageEntry(): string {
  const hash = crypto.createHash('sha256').update(ENTRY_SOURCE).digest('hex').slice(0, 16);
  return stageFolder(path.join(os.tmpdir(), `serverless-tf-zip-entry-${hash}`), (building) => {
    fs.writeFileSync(path.join(building, 'index.mjs'), ENTRY_SOURCE);
  });
}
