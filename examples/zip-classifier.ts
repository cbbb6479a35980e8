// Example: the demo model as a zip function, the runtime and the model in layers (the
// wasm backend): the fastest deploys, for small models.
import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Compute, Model, TensorFlowFunction } from '../lib';
import { DEMO_MODEL_DIR, demoTask } from './container-classifier';

export class ZipClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = new TensorFlowFunction(this, 'Classifier', {
      model: Model.fromAsset(DEMO_MODEL_DIR),
      task: demoTask(),
      modelName: 'demo',
      compute: Compute.zip(),
      warmUp: { concurrency: 1 },
    });
  }
}
