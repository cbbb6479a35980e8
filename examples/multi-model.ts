// Example: three models in one stack behind one REST API and one monitoring. The demo
// MobileNetV2 in a CPU container answers the API's synchronous routes (IAM authorization);
// the Iris classifier, a zip function with its model in S3, takes the same API's POST /jobs
// and GET /jobs/{id}; the demo model again, as raw tensors (TF Serving and KServe V2 bodies)
// on a zip function, answers on a function URL. Both zip functions share the runtime layer.
// One InferenceMonitoring alarms on all of them and draws one dashboard.
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ApiAuthorization, AsyncInference, Compute, InferenceApi, InferenceFunctionUrl, InferenceMonitoring, InferenceTask, TensorFlowFunction } from '../lib';
import { irisModel, irisTask } from './batch-tabular';
import { demoClassifier } from './container-classifier';

export class MultiModelStack extends Stack {
  public readonly images: TensorFlowFunction;
  public readonly iris: TensorFlowFunction;
  public readonly tensors: TensorFlowFunction;
  public readonly api: InferenceApi;
  public readonly jobs: AsyncInference;
  public readonly url: InferenceFunctionUrl;
  public readonly monitoring: InferenceMonitoring;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.images = demoClassifier(this, { timeout: Duration.seconds(30) }, 'Images');
    const models = s3.Bucket.fromBucketName(this, 'Models', 'my-model-bucket');
    this.iris = new TensorFlowFunction(this, 'Iris', {
      model: irisModel(models),
      modelName: 'iris',
      task: irisTask(),
      compute: Compute.zip(),
      // Jobs of large CSV bodies; nothing synchronous reaches this function.
      timeout: Duration.minutes(5),
    });
    this.tensors = demoClassifier(this, {
      // Names are the routes (/v1/models/demo-tensors:predict) and the metrics: one per function.
      modelName: 'demo-tensors',
      task: InferenceTask.tensor(),
      compute: Compute.zip(),
      timeout: Duration.seconds(30),
    }, 'Tensors');

    this.api = new InferenceApi(this, 'Api', { function: this.images, authorization: ApiAuthorization.iam() });
    // The shared API: its POST /jobs and GET /jobs/{id} reach the Iris model, not the API's own.
    this.jobs = new AsyncInference(this, 'IrisJobs', { function: this.iris, api: this.api });
    this.url = new InferenceFunctionUrl(this, 'TensorsUrl', { function: this.tensors });

    this.monitoring = new InferenceMonitoring(this, 'Monitoring');
    this.api.monitor(this.monitoring);
    this.jobs.monitor(this.monitoring);
    this.monitoring.addFunction(this.tensors);
    this.monitoring.addFunctionUrl('TensorsUrl', this.url);
  }
}
