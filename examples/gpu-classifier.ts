// Example: a model read from S3 at init, served on GPU instances through Lambda
// Managed Instances (a created VPC and capacity provider, 24 GiB of GPU memory).
import { Size, Stack, StackProps } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Compute, InferenceTask, Model, ModelFormat, TensorFlowFunction } from '../lib';
import type { TensorFlowFunctionProps } from '../lib';

/** The EfficientNetV2 of the GPU examples: a 350 MiB graph model kept under efficientnet/v2/ in `models`, 384x384 in. */
export function efficientNet(models: s3.IBucket): Pick<TensorFlowFunctionProps, 'model' | 'task' | 'modelName'> {
  return {
    model: Model.fromBucket(models, 'efficientnet/v2/', { format: ModelFormat.GRAPH, size: Size.mebibytes(350) }),
    task: InferenceTask.imageClassification({ inputSize: 384, halfPixelCenters: true, topK: 5 }),
    modelName: 'efficientnet',
  };
}

export class GpuClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const models = s3.Bucket.fromBucketName(this, 'Models', 'my-model-bucket');
    this.classifier = new TensorFlowFunction(this, 'Classifier', {
      ...efficientNet(models),
      compute: Compute.gpu({ acceleratorMemory: Size.gibibytes(24), perExecutionEnvironmentMaxConcurrency: 16, minExecutionEnvironments: 1 }),
    });
  }
}
