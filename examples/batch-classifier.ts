// Example: batch inference on S3 uploads. Images (and JSON Lines of base64 images) put
// under uploads/ in the created input bucket are classified by the demo model in a CPU
// container; the results land under predictions/ in the same bucket.
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BatchInference, Compute, TensorFlowFunction } from '../lib';
import { demoClassifier } from './container-classifier';

export class BatchClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;
  public readonly batch: BatchInference;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = demoClassifier(this, {
      compute: Compute.container(),
      // One chunk of work per invocation, with room to spare (not an API's 30 s).
      timeout: Duration.minutes(5),
    });
    this.batch = new BatchInference(this, 'Batch', {
      function: this.classifier,
      inputPrefix: 'uploads/',
      outputPrefix: 'predictions/',
      maxConcurrency: 5,
    });
  }
}
