// The stacks the template checks run over (test/cfn-lint.test.ts, test/compliance-packs.test.ts):
// every example, and combinations of constructs and options the examples do not use
// (several models behind one API and one monitoring, customer managed keys, GPU in a VPC of
// the user's, Cognito, an HTTP API with jobs, batch on an existing bucket and table, zip
// functions on layers of the user's). All are synthesized in one App, without bundling
// (no Docker, no npm): the templates are what `cdk synth` writes.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Annotations, App, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ApiClassifierStack } from '../../examples/api-classifier';
import { AsyncClassifierStack } from '../../examples/async-classifier';
import { BatchClassifierStack } from '../../examples/batch-classifier';
import { TabularBatchStack } from '../../examples/batch-tabular';
import { ContainerClassifierStack } from '../../examples/container-classifier';
import { GpuClassifierStack } from '../../examples/gpu-classifier';
import { MonitoredClassifierStack } from '../../examples/monitored-classifier';
import { ZipClassifierStack } from '../../examples/zip-classifier';
import {
  ApiAuthorization, AsyncInference, BatchInference, Compute, HttpApiAuthorization, InferenceApi, InferenceFunctionUrl,
  InferenceHttpApi, InferenceMonitoring, InferenceTask, JobNotification, Model, ModelFormat, TensorFlowRuntimeLayer,
} from '../../lib';
import { classifierWith } from '../support';

/** A stack of the checks: its id (the template's name) and how it is built. */
export interface CheckedStack {
  readonly id: string;
  readonly build: (app: App, id: string) => Stack;
}

const IMAGES = () => InferenceTask.imageClassification({ inputSize: 224, labels: ['cat', 'dog'] });
const TABULAR = () => InferenceTask.tabular({ features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], labels: ['setosa', 'versicolor', 'virginica'] });
/** Functions of a 1 KiB layers model (one folder for the run), a minute's timeout for queue work. */
const model = classifierWith({ timeout: Duration.minutes(1) });

/** As examples/async-classifier.ts does: the long timeout is for the jobs, synchronous requests are still cut at the gateway's. */
const jobsTimeout = (api: InferenceApi | InferenceHttpApi) =>
  Annotations.of(api).acknowledgeWarning('cdk-serverless-tensorflow:ApiTimeout', 'Long requests go through POST /jobs; the longer timeout is for them.');

/** Several models in one stack: two zip functions sharing the runtime layer, a container one; one REST API whose /jobs go to a second model; one monitoring for all. */
class MultiModelStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    const images = model(this, 'Images', { task: IMAGES(), modelName: 'images', timeout: Duration.seconds(30) });
    const tabular = model(this, 'Tabular', { task: TABULAR(), modelName: 'iris', compute: Compute.zip(), timeout: Duration.minutes(5) });
    const embeddings = model(this, 'Embeddings', { modelName: 'embeddings', compute: Compute.zip(), timeout: Duration.seconds(30) });
    const api = new InferenceApi(this, 'Api', { function: images, authorization: ApiAuthorization.iam() });
    // The shared API: POST /jobs and GET /jobs/{id} on it reach the tabular model.
    const jobs = new AsyncInference(this, 'TabularJobs', { function: tabular, api });
    const url = new InferenceFunctionUrl(this, 'EmbeddingsUrl', { function: embeddings });
    const monitoring = new InferenceMonitoring(this, 'Monitoring');
    api.monitor(monitoring);
    jobs.monitor(monitoring);
    monitoring.addFunction(embeddings);
    monitoring.addFunctionUrl('EmbeddingsUrl', url);
  }
}

/** Customer managed keys everywhere they can go: jobs table, bucket, topic and queues; a batch input bucket under KMS; the alarm topic. */
class EncryptedStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    // Access log delivery through a bucket policy (ACLs off), as BatchInference's own buckets do.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const dataKey = new kms.Key(this, 'DataKey', { enableKeyRotation: true, description: 'Job data' });
    const queueKey = new kms.Key(this, 'QueueKey', { enableKeyRotation: true, description: 'Queues' });
    const fn = model(this, 'Classifier', { task: IMAGES(), timeout: Duration.minutes(5) });
    const api = new InferenceApi(this, 'Api', { function: fn, authorization: ApiAuthorization.apiKey() });
    jobsTimeout(api);
    new AsyncInference(this, 'Jobs', { function: fn, api, encryptionKey: dataKey, queueEncryptionKey: queueKey, notification: JobNotification.sns() });

    const batchFn = model(this, 'BatchClassifier', { task: IMAGES(), timeout: Duration.minutes(5) });
    const logs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    });
    const inputs = new s3.Bucket(this, 'Inputs', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: dataKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'inputs/',
      versioned: true,
    });
    const batch = new BatchInference(this, 'Batch', { function: batchFn, inputBucket: inputs, queueEncryptionKey: queueKey });
    const monitoring = new InferenceMonitoring(this, 'Monitoring', { alarmTopicEncryptionKey: dataKey });
    batch.monitor(monitoring);
  }
}

/** GPU instances in a VPC the user made (private subnets behind one NAT gateway, an S3 gateway endpoint, flow logs) with their own security group. */
class GpuInVpcStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    const vpc = new ec2.Vpc(this, 'Network', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'ingress', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'gpu', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL } },
    });
    vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const securityGroup = new ec2.SecurityGroup(this, 'GpuInstances', { vpc, description: 'GPU instances: outbound only', allowAllOutbound: true });
    const models = s3.Bucket.fromBucketName(this, 'Models', 'my-model-bucket');
    const fn = model(this, 'Classifier', {
      model: Model.fromBucket(models, 'resnet/', { format: ModelFormat.GRAPH, size: Size.gibibytes(1) }),
      task: IMAGES(),
      compute: Compute.gpu({
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [securityGroup],
        maxExecutionEnvironments: 4,
        minExecutionEnvironments: 1,
      }),
      timeout: Duration.seconds(30),
    });
    new InferenceApi(this, 'Api', { function: fn, authorization: ApiAuthorization.iam() });
  }
}

/** Callers from a Cognito user pool: a REST API with jobs, and an HTTP API for a second model. */
class CognitoStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    const pool = new cognito.UserPool(this, 'Users', {
      passwordPolicy: { minLength: 12, requireSymbols: true, requireDigits: true, requireLowercase: true, requireUppercase: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const client = pool.addClient('App');
    const fn = model(this, 'Classifier', { task: IMAGES(), timeout: Duration.minutes(5) });
    const api = new InferenceApi(this, 'Api', {
      function: fn,
      authorization: ApiAuthorization.cognito([pool]),
      cors: { allowOrigins: ['https://app.example.com'] },
    });
    jobsTimeout(api);
    new AsyncInference(this, 'Jobs', { function: fn, api, uploadCorsOrigins: ['https://app.example.com'] });
    const second = model(this, 'Tabular', { task: TABULAR(), compute: Compute.zip(), timeout: Duration.seconds(30) });
    new InferenceHttpApi(this, 'HttpApi', { function: second, authorization: HttpApiAuthorization.cognito(pool, [client]) });
  }
}

/** An HTTP API (JWT authorizer) with asynchronous jobs, EventBridge notifications, all monitored. */
class HttpJobsStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    const fn = model(this, 'Classifier', { task: IMAGES(), timeout: Duration.minutes(5) });
    const httpApi = new InferenceHttpApi(this, 'HttpApi', {
      function: fn,
      authorization: HttpApiAuthorization.jwt('https://issuer.example.com', ['inference-clients']),
      cors: { allowOrigins: ['https://app.example.com'] },
    });
    jobsTimeout(httpApi);
    const jobs = new AsyncInference(this, 'Jobs', { function: fn, httpApi, notification: JobNotification.eventBridge(), removalPolicy: RemovalPolicy.DESTROY });
    const monitoring = new InferenceMonitoring(this, 'Monitoring');
    httpApi.monitor(monitoring);
    jobs.monitor(monitoring);
  }
}

/** Batch inference on a bucket and a table that exist outside the stack, outputs to a second existing bucket. */
class BatchExistingStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    const fn = model(this, 'Scorer', { task: TABULAR(), compute: Compute.zip(), timeout: Duration.minutes(5) });
    const batch = new BatchInference(this, 'Batch', {
      function: fn,
      inputBucket: s3.Bucket.fromBucketName(this, 'Uploads', 'uploads-of-another-team'),
      inputPrefix: '',
      outputBucket: s3.Bucket.fromBucketName(this, 'Results', 'results-of-another-team'),
      outputTable: dynamodb.Table.fromTableName(this, 'Predictions', 'predictions'),
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(20),
    });
    batch.monitor(new InferenceMonitoring(this, 'Monitoring'));
  }
}

/** Zip functions on runtime layers of the user's (a TensorFlowRuntimeLayer for arm64 and an imported one) with an extra layer. */
class UserLayerStack extends Stack {
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    const runtime = new TensorFlowRuntimeLayer(this, 'Runtime', { architecture: lambda.Architecture.ARM_64 });
    const extras = new lambda.LayerVersion(this, 'Extras', {
      code: lambda.Code.fromAsset(extrasLayerDir()),
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X, lambda.Runtime.NODEJS_24_X],
      description: 'Extra files of the user',
    });
    model(this, 'Arm', {
      compute: Compute.zip({ runtimeLayer: runtime.layerVersion, layers: [extras] }),
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(30),
      warmUp: { concurrency: 2 },
    });
    const published = lambda.LayerVersion.fromLayerVersionArn(this, 'Published', 'arn:aws:lambda:us-east-1:123456789012:layer:serverless-tf-runtime:7');
    model(this, 'X86', { compute: Compute.zip({ runtimeLayer: published }), timeout: Duration.seconds(30), provisionedConcurrency: 1 });
  }
}

let extrasDir: string | undefined;
/** A layer folder of one small file. */
function extrasLayerDir(): string {
  if (!extrasDir) {
    extrasDir = fs.mkdtempSync(path.join(os.tmpdir(), 'extras-layer-'));
    fs.mkdirSync(path.join(extrasDir, 'nodejs'));
    fs.writeFileSync(path.join(extrasDir, 'nodejs', 'labels.json'), '["cat","dog"]');
  }
  return extrasDir;
}

const of = <T extends Stack>(Type: new (scope: Construct, id: string) => T) => (app: App, id: string): Stack => new Type(app, id);

/** The examples, under the stack ids of examples/app.ts. */
export const EXAMPLE_STACKS: CheckedStack[] = [
  { id: 'ServerlessTfContainer', build: of(ContainerClassifierStack) },
  { id: 'ServerlessTfGpu', build: of(GpuClassifierStack) },
  { id: 'ServerlessTfZip', build: of(ZipClassifierStack) },
  { id: 'ServerlessTfMonitored', build: of(MonitoredClassifierStack) },
  { id: 'ServerlessTfApi', build: of(ApiClassifierStack) },
  { id: 'ServerlessTfAsync', build: of(AsyncClassifierStack) },
  { id: 'ServerlessTfBatch', build: of(BatchClassifierStack) },
  { id: 'ServerlessTfTabularBatch', build: of(TabularBatchStack) },
];

/** Combinations the examples do not use. */
export const COMBINATION_STACKS: CheckedStack[] = [
  { id: 'CheckMultiModel', build: of(MultiModelStack) },
  { id: 'CheckEncrypted', build: of(EncryptedStack) },
  { id: 'CheckGpuInVpc', build: of(GpuInVpcStack) },
  { id: 'CheckCognito', build: of(CognitoStack) },
  { id: 'CheckHttpJobs', build: of(HttpJobsStack) },
  { id: 'CheckBatchExisting', build: of(BatchExistingStack) },
  { id: 'CheckUserLayer', build: of(UserLayerStack) },
];

export const CHECKED_STACKS: CheckedStack[] = [...EXAMPLE_STACKS, ...COMBINATION_STACKS];

/** The checked stacks, built in one App and synthesized once. */
export interface CheckedApp {
  readonly app: App;
  /** Each stack by its id. */
  readonly stacks: Map<string, Stack>;
  /** Each stack's synthesized template by its id. */
  readonly templates: Map<string, unknown>;
}

/** Every checked stack in one App (no bundling), synthesized once. */
export function synthesizeCheckedStacks(): CheckedApp {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = new Map(CHECKED_STACKS.map(({ id, build }) => [id, build(app, id)]));
  const assembly = app.synth();
  const templates = new Map(CHECKED_STACKS.map(({ id }) => [id, assembly.getStackByName(id).template as unknown]));
  return { app, stacks, templates };
}
