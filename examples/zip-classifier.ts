// Example: the demo model as a zip function, the runtime and the model in layers (the
// wasm backend): the fastest deploys, for small models.
import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Compute, TensorFlowFunction } from '../lib';
import { demoClassifier } from './container-classifier';

export class ZipClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = demoClassifier(this, {
      compute: Compute.zip(),
      warmUp: { concurrency: 1 },
    });
  }
}
