// Example: tabular batch inference, CSV files in S3 to predictions in S3 and DynamoDB.
// An Iris classifier (a TF.js layers model the deployer keeps in S3) runs in a zip function
// on the wasm backend. CSV files uploaded under daily/ in the created input bucket are read
// in 8 MiB chunks, each a queue message of its own; every row's prediction lands in the
// chunk outputs under predictions/ and as an item in the Predictions table (failed rows in
// *.errors.jsonl, with the reason). InferenceMonitoring alarms on the function, the queue,
// its dead letters and the share of rows that fail.
import { CfnParameter, Duration, RemovalPolicy, Size, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BatchInference, Compute, InferenceMonitoring, InferenceTask, Model, ModelFormat, TensorFlowFunction } from '../lib';

/** The Iris classifier's task: four measurements in, one of three species out. */
export const irisTask = () => InferenceTask.tabular({
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  labels: ['setosa', 'versicolor', 'virginica'],
});

/** The Iris classifier as the deployer keeps it: a TF.js layers model under models/iris/ in `bucket`. */
export const irisModel = (bucket: s3.IBucket) => Model.fromBucket(bucket, 'models/iris/', { format: ModelFormat.LAYERS, size: Size.kibibytes(64) });

export class TabularBatchStack extends Stack {
  public readonly classifier: TensorFlowFunction;
  public readonly batch: BatchInference;
  public readonly table: dynamodb.TableV2;
  public readonly monitoring: InferenceMonitoring;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // Where the model is kept: given at deploy time (`cdk deploy --parameters ModelBucket=...`).
    const modelBucket = new CfnParameter(this, 'ModelBucket', {
      description: 'The S3 bucket that holds the Iris model (model.json and its weights) under models/iris/',
      type: 'String',
    });
    this.classifier = new TensorFlowFunction(this, 'Iris', {
      model: irisModel(s3.Bucket.fromBucketName(this, 'Models', modelBucket.valueAsString)),
      modelName: 'iris',
      task: irisTask(),
      compute: Compute.zip(),
      // One 8 MiB chunk of CSV per invocation, with room to spare.
      timeout: Duration.minutes(5),
    });
    this.table = new dynamodb.TableV2(this, 'Predictions', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.batch = new BatchInference(this, 'Daily', {
      function: this.classifier,
      inputPrefix: 'daily/',
      outputPrefix: 'predictions/',
      outputTable: this.table,
      maxConcurrency: 10,
    });
    this.monitoring = new InferenceMonitoring(this, 'Ops');
    this.batch.monitor(this.monitoring);
  }
}
