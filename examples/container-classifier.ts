// Example: the demo MobileNetV2 in a CPU container image, with provisioned concurrency
// that scales on utilisation (no warm-up schedule: provisioned environments are always
// initialized; the zip example shows one).
import * as path from 'path';
import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Compute, InferenceTask, Model, TensorFlowFunction } from '../lib';
import type { TensorFlowFunctionProps } from '../lib';

export const DEMO_MODEL_DIR = path.join(__dirname, '..', 'runtime', 'models', 'mobilenet_v2');
export const DEMO_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

/** The demo model's own preprocessing: bilinear resize with aligned corners, then /255. */
export const demoTask = () => InferenceTask.imageClassification({ inputSize: 224, alignCorners: true, labels: DEMO_LABELS, topK: 3 });

/** The demo MobileNetV2 as the model "demo" (construct id `id`); the other examples put their front doors before it. */
export function demoClassifier(scope: Construct, options: Partial<TensorFlowFunctionProps> = {}, id = 'Classifier'): TensorFlowFunction {
  return new TensorFlowFunction(scope, id, { model: Model.fromAsset(DEMO_MODEL_DIR), task: demoTask(), modelName: 'demo', ...options });
}

export class ContainerClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = demoClassifier(this, {
      compute: Compute.container(),
      provisionedConcurrency: 1,
      provisionedConcurrencyScaling: { maxCapacity: 4 },
    });
  }
}
