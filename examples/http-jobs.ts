// Example: the demo MobileNetV2 behind an HTTP API (a JWT authorizer of your identity
// provider, CORS for one web origin) with asynchronous jobs that announce their end on
// EventBridge, jobs data removed with the stack, everything monitored.
import { Annotations, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AsyncInference, Compute, HttpApiAuthorization, InferenceHttpApi, InferenceMonitoring, JobNotification, TensorFlowFunction } from '../lib';
import { demoClassifier } from './container-classifier';

export class HttpJobsStack extends Stack {
  public readonly classifier: TensorFlowFunction;
  public readonly httpApi: InferenceHttpApi;
  public readonly jobs: AsyncInference;
  public readonly monitoring: InferenceMonitoring;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.classifier = demoClassifier(this, { compute: Compute.container(), timeout: Duration.minutes(5) });
    this.httpApi = new InferenceHttpApi(this, 'HttpApi', {
      function: this.classifier,
      authorization: HttpApiAuthorization.jwt('https://issuer.example.com', ['inference-clients']),
      cors: { allowOrigins: ['https://app.example.com'] },
    });
    Annotations.of(this.httpApi).acknowledgeWarning('cdk-serverless-tensorflow:ApiTimeout', 'Long requests go through POST /jobs; the longer timeout is for them.');
    this.jobs = new AsyncInference(this, 'Jobs', {
      function: this.classifier,
      httpApi: this.httpApi,
      notification: JobNotification.eventBridge(),
      // Jobs data of a demo: nothing to keep once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.monitoring = new InferenceMonitoring(this, 'Monitoring');
    this.httpApi.monitor(this.monitoring);
    this.jobs.monitor(this.monitoring);
  }
}
