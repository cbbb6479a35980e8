// Example: one customer managed KMS key for everything the constructs can encrypt with one.
// Asynchronous jobs (REST API with API keys, SNS notifications) keep their table, bucket,
// topic and queues under it; batch inference reads a versioned input bucket of yours,
// encrypted with it and logged to an access log bucket, through queues under it; the alarm
// topic is under it too. (The key policy lets S3 send to the queues by account, not by
// bucket: naming the bucket that the key encrypts would be a cycle CloudFormation refuses.)
import { Annotations, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ApiAuthorization, AsyncInference, BatchInference, Compute, InferenceApi, InferenceMonitoring, JobNotification, TensorFlowFunction } from '../lib';
import { demoClassifier } from './container-classifier';

export class OneKeyStack extends Stack {
  public readonly key: kms.Key;
  public readonly classifier: TensorFlowFunction;
  public readonly api: InferenceApi;
  public readonly jobs: AsyncInference;
  public readonly batchClassifier: TensorFlowFunction;
  public readonly inputs: s3.Bucket;
  public readonly batch: BatchInference;
  public readonly monitoring: InferenceMonitoring;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // Access logs delivered through a bucket policy (ACLs off), as BatchInference's own buckets
    // are. Set before any bucket is made; an app can set it in cdk.json instead.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    this.key = new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'Inference data: jobs, batch inputs, queues and alarms' });

    this.classifier = demoClassifier(this, { compute: Compute.container(), timeout: Duration.minutes(5) });
    this.api = new InferenceApi(this, 'Api', { function: this.classifier, authorization: ApiAuthorization.apiKey() });
    Annotations.of(this.api).acknowledgeWarning('cdk-serverless-tensorflow:ApiTimeout', 'Long requests go through POST /jobs; the longer timeout is for them.');
    this.jobs = new AsyncInference(this, 'Jobs', {
      function: this.classifier,
      api: this.api,
      encryptionKey: this.key,
      queueEncryptionKey: this.key,
      notification: JobNotification.sns(),
    });

    this.batchClassifier = demoClassifier(this, { compute: Compute.container(), timeout: Duration.minutes(5) }, 'BatchClassifier');
    // Server access logs must be SSE-S3: log delivery writes with nothing else.
    const logs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    });
    this.inputs = new s3.Bucket(this, 'Inputs', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'inputs/',
      versioned: true,
    });
    this.batch = new BatchInference(this, 'Batch', { function: this.batchClassifier, inputBucket: this.inputs, queueEncryptionKey: this.key });

    this.monitoring = new InferenceMonitoring(this, 'Monitoring', { alarmTopicEncryptionKey: this.key });
    this.batch.monitor(this.monitoring);
  }
}
