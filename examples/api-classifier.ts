// Example: the demo MobileNetV2 in a CPU container image behind a REST API with API key
// authorization: a usage plan that throttles each key and caps it at a daily quota.
import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { ApiAuthorization, Compute, InferenceApi, TensorFlowFunction } from '../lib';
import { demoClassifier } from './container-classifier';

export class ApiClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;
  public readonly api: InferenceApi;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = demoClassifier(this, {
      compute: Compute.container(),
      provisionedConcurrency: 1,
    });
    this.api = new InferenceApi(this, 'Api', {
      function: this.classifier,
      authorization: ApiAuthorization.apiKey({
        throttle: { rateLimit: 20, burstLimit: 40 },
        quota: { limit: 10_000, period: apigw.Period.DAY },
      }),
    });
    new CfnOutput(this, 'ClassifyUrl', {
      description: 'POST an image here with the header x-api-key',
      value: `${this.api.url}classify`,
    });
    new CfnOutput(this, 'ApiKeyId', {
      description: 'Read the key: aws apigateway get-api-key --include-value --api-key <this id>',
      value: this.api.apiKey!.keyId,
    });
  }
}
