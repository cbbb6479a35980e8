// Example: the demo MobileNetV2 in a CPU container behind an InferenceApi (IAM
// authorization), with asynchronous jobs (POST /jobs, GET /jobs/{id}, presigned uploads for
// large images) and an SNS notification when a job completes or fails.
import { Annotations, Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ApiAuthorization, AsyncInference, Compute, InferenceApi, JobNotification, TensorFlowFunction } from '../lib';
import { demoClassifier } from './container-classifier';

export class AsyncClassifierStack extends Stack {
  public readonly classifier: TensorFlowFunction;
  public readonly api: InferenceApi;
  public readonly jobs: AsyncInference;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = demoClassifier(this, {
      compute: Compute.container(),
      // Room for large inputs as jobs; synchronous requests are still cut at 29 s.
      timeout: Duration.minutes(5),
    });
    this.api = new InferenceApi(this, 'Api', { function: this.classifier, authorization: ApiAuthorization.iam() });
    Annotations.of(this.api).acknowledgeWarning('cdk-serverless-tensorflow:ApiTimeout', 'Long requests go through POST /jobs (AsyncInference below); the longer timeout is for them.');
    this.jobs = new AsyncInference(this, 'Jobs', {
      function: this.classifier,
      api: this.api,
      notification: JobNotification.sns(),
    });
  }
}
