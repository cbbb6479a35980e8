// Example: zip functions on runtime layers of your own. An arm64 function on a
// TensorFlowRuntimeLayer made in this stack, with an extra layer of your files
// (layers/demo-labels: /opt/nodejs/labels.json) and a warm-up schedule; an x86_64 function on a
// runtime layer published once for the account (imported by ARN) with provisioned concurrency.
import * as path from 'path';
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { Compute, TensorFlowFunction, TensorFlowRuntimeLayer } from '../lib';
import { demoClassifier } from './container-classifier';

export class UserLayerStack extends Stack {
  public readonly runtime: TensorFlowRuntimeLayer;
  public readonly arm: TensorFlowFunction;
  public readonly x86: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.runtime = new TensorFlowRuntimeLayer(this, 'Runtime', { architecture: lambda.Architecture.ARM_64 });
    const extras = new lambda.LayerVersion(this, 'Extras', {
      code: lambda.Code.fromAsset(path.join(__dirname, 'layers', 'demo-labels')),
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X, lambda.Runtime.NODEJS_24_X],
      description: 'Extra files of the user',
    });
    this.arm = demoClassifier(this, {
      compute: Compute.zip({ runtimeLayer: this.runtime.layerVersion, layers: [extras] }),
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(30),
      warmUp: { concurrency: 2 },
    }, 'Arm');

    // A runtime layer published once (e.g. by a stack of TensorFlowRuntimeLayer alone) and shared.
    const published = lambda.LayerVersion.fromLayerVersionArn(this, 'Published', 'arn:aws:lambda:us-east-1:123456789012:layer:serverless-tf-runtime:7');
    this.x86 = demoClassifier(this, {
      compute: Compute.zip({ runtimeLayer: published }),
      timeout: Duration.seconds(30),
      provisionedConcurrency: 1,
    }, 'X86');
  }
}
