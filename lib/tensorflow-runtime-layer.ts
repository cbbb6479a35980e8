// The runtime of zip functions as a Lambda layer: the runtime bundle and the packages it
// leaves external (TensorFlow.js with the wasm backend, sharp with its libvips for Linux),
// pruned to what Node.js loads. Prebuilt as one deterministic archive per architecture
// (runtime/scripts/build-layer.mjs) that ships in the npm package: synth copies a file.
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { requireRuntimeFile } from './private/runtime-package';
import { TensorFlowValidationError } from './private/validation-error';

/**
 * Properties of a TensorFlowRuntimeLayer.
 */
export interface TensorFlowRuntimeLayerProps {
  /**
   * The instruction set of the functions that use the layer: sharp's native libvips is
   * installed for it.
   *
   * @default lambda.Architecture.X86_64
   */
  readonly architecture?: lambda.Architecture;
}

/**
 * The serverless-tf runtime as a Lambda layer, for Node.js zip functions on the
 * TensorFlow.js wasm backend.
 *
 * It holds `nodejs/serverless-tf/handler.mjs` (the runtime bundle, which exports
 * `handler`, with the chunks it loads) and, in `nodejs/node_modules`, the packages the bundle imports at run time:
 * `@tensorflow/tfjs`, `@tensorflow/tfjs-backend-wasm` and `sharp` with its prebuilt
 * libvips for Linux (glibc) on the layer's architecture. ES modules resolve bare imports
 * by walking up from the importing file (NODE_PATH does not apply to them), so
 * `/opt/nodejs/serverless-tf/handler.mjs` finds `/opt/nodejs/node_modules`. A function
 * uses it with a one-line `index.mjs`:
 * `export { handler } from '/opt/nodejs/serverless-tf/handler.mjs';`
 *
 * Browser builds, type declarations and source maps are left out: about 31 MB unzipped
 * (11 MB zipped) instead of 340 MB. The layer is not built at synth time: it is a
 * prebuilt, deterministic archive in this package (`runtime/layer/linux-x64.zip`,
 * `linux-arm64.zip`), so `cdk synth` needs neither the network nor Docker, and its asset
 * hash changes only when the package version does.
 *
 * One layer can serve any number of functions of the same architecture. A
 * TensorFlowFunction with zip compute creates one per stack and architecture and shares
 * it between all of its zip functions; to share one between stacks instead (built once,
 * in a stack of its own), give its `layerVersion` as `Compute.zip({ runtimeLayer })`,
 * which also checks at synth time that the architectures match. A function in another
 * stack imports the layer's ARN through a CloudFormation export, which cannot change
 * while it is imported: when the runtime changes, the layers stack fails to deploy the
 * new layer version. If that matters, publish the ARN in an SSM parameter instead, and
 * import it with `lambda.LayerVersion.fromLayerVersionArn`.
 *
 * @example
 * // In the "layers" stack:
 * const runtime = new TensorFlowRuntimeLayer(layersStack, 'Runtime', { architecture: lambda.Architecture.ARM_64 });
 * // In any stack of the same account and region:
 * new TensorFlowFunction(this, 'Classifier', {
 *   model: Model.fromAsset('models/mobilenet_v2'),
 *   compute: Compute.zip({ runtimeLayer: runtime.layerVersion }),
 *   architecture: lambda.Architecture.ARM_64,
 * });
 */
export class TensorFlowRuntimeLayer extends Construct {
  /** The layer version. */
  public readonly layerVersion: lambda.LayerVersion;
  /** The architecture the layer's native code is built for. */
  public readonly architecture: lambda.Architecture;

  public constructor(scope: Construct, id: string, props: TensorFlowRuntimeLayerProps = {}) {
    super(scope, id);
    this.architecture = props.architecture ?? lambda.Architecture.X86_64;
    const archive = runtimeLayerArchive(this, this.architecture);

    this.layerVersion = new lambda.LayerVersion(this, 'Layer', {
      description: `serverless-tf runtime: TensorFlow.js (wasm backend) and sharp for Node.js on Linux ${this.architecture.name}`,
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X, lambda.Runtime.NODEJS_24_X],
      compatibleArchitectures: [this.architecture],
      // A .zip file is used as it is (no bundling); its asset hash is its content's.
      code: lambda.Code.fromAsset(archive),
    });
  }
}

/**
 * The prebuilt layer archive for `architecture`, in runtime/layer/ (built by
 * `npm run layer` in runtime/, which `projen runtime:build` runs; shipped in the package).
 */
function runtimeLayerArchive(scope: Construct, architecture: lambda.Architecture): string {
  if (architecture.name !== lambda.Architecture.ARM_64.name && architecture.name !== lambda.Architecture.X86_64.name) {
    throw new TensorFlowValidationError(scope, `TensorFlowRuntimeLayer: architecture must be x86_64 or arm64 (Lambda's); got ${architecture.name}.`);
  }
  const cpu = architecture.name === lambda.Architecture.ARM_64.name ? 'arm64' : 'x64';
  return requireRuntimeFile(scope, path.join('layer', `linux-${cpu}.zip`));
}
