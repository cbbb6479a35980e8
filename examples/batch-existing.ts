// Example: tabular batch inference on resources that exist outside the stack. CSV files put
// anywhere in another team's upload bucket (under its KMS key) are scored by the Iris
// classifier, ten files or 20 seconds at a time; the predictions go to their results bucket
// and to their Predictions table. The stack creates the queue, the function and the alarms only.
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BatchInference, Compute, InferenceMonitoring, TensorFlowFunction } from '../lib';
import { irisModel, irisTask } from './batch-tabular';

export class BatchExistingStack extends Stack {
  public readonly scorer: TensorFlowFunction;
  public readonly batch: BatchInference;
  public readonly monitoring: InferenceMonitoring;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const models = s3.Bucket.fromBucketName(this, 'Models', 'my-model-bucket');
    this.scorer = new TensorFlowFunction(this, 'Scorer', {
      model: irisModel(models),
      modelName: 'iris',
      task: irisTask(),
      compute: Compute.zip(),
      timeout: Duration.minutes(5),
    });
    // The other team's bucket and key: the function is granted decryption with the key, whose
    // key policy must also let this account use it. The bucket's notifications to this stack's
    // queue are added by aws-cdk-lib's notifications custom resource, beside any it has.
    const uploads = s3.Bucket.fromBucketAttributes(this, 'Uploads', {
      bucketName: 'uploads-of-another-team',
      encryptionKey: kms.Key.fromKeyArn(this, 'UploadsKey', 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    });
    this.batch = new BatchInference(this, 'Batch', {
      function: this.scorer,
      inputBucket: uploads,
      inputPrefix: '',
      outputBucket: s3.Bucket.fromBucketName(this, 'Results', 'results-of-another-team'),
      outputTable: dynamodb.Table.fromTableName(this, 'Predictions', 'predictions'),
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(20),
    });
    this.monitoring = new InferenceMonitoring(this, 'Monitoring');
    this.batch.monitor(this.monitoring);
  }
}
