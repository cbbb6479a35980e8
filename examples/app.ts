// The examples as one CDK app: `npx cdk synth` at the repository root synthesizes them
// with no AWS account, no Docker and no network, checked by cdk-nag's AwsSolutions pack.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiClassifierStack } from './api-classifier';
import { AsyncClassifierStack } from './async-classifier';
import { BatchClassifierStack } from './batch-classifier';
import { BatchExistingStack } from './batch-existing';
import { TabularBatchStack } from './batch-tabular';
import { CognitoApiStack } from './cognito-api';
import { ContainerClassifierStack } from './container-classifier';
import { GpuClassifierStack } from './gpu-classifier';
import { GpuInVpcStack } from './gpu-in-vpc';
import { HttpJobsStack } from './http-jobs';
import { MonitoredClassifierStack } from './monitored-classifier';
import { MultiModelStack } from './multi-model';
import { OneKeyStack } from './one-key';
import { UserLayerStack } from './user-layer';
import { ZipClassifierStack } from './zip-classifier';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
// Environment-agnostic unless the CLI knows an account: synth needs no AWS credentials.
const env = process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined;
new ContainerClassifierStack(app, 'ServerlessTfContainer', { env });
new GpuClassifierStack(app, 'ServerlessTfGpu', { env });
new ZipClassifierStack(app, 'ServerlessTfZip', { env });
new MonitoredClassifierStack(app, 'ServerlessTfMonitored', { env });
new ApiClassifierStack(app, 'ServerlessTfApi', { env });
new AsyncClassifierStack(app, 'ServerlessTfAsync', { env });
new BatchClassifierStack(app, 'ServerlessTfBatch', { env });
new TabularBatchStack(app, 'ServerlessTfTabularBatch', { env });
// The constructs combined: several models, one key, GPU in your VPC, Cognito, HTTP API with jobs,
// batch on existing resources, runtime layers of your own.
new MultiModelStack(app, 'ServerlessTfMultiModel', { env });
new OneKeyStack(app, 'ServerlessTfOneKey', { env });
new GpuInVpcStack(app, 'ServerlessTfGpuInVpc', { env });
new CognitoApiStack(app, 'ServerlessTfCognito', { env });
new HttpJobsStack(app, 'ServerlessTfHttpJobs', { env });
new BatchExistingStack(app, 'ServerlessTfBatchExisting', { env });
new UserLayerStack(app, 'ServerlessTfUserLayer', { env });
app.synth();
