// The examples as one CDK app: `npx cdk synth` at the repository root synthesizes them
// with no AWS account, no Docker and no network, checked by cdk-nag's AwsSolutions pack.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiClassifierStack } from './api-classifier';
import { AsyncClassifierStack } from './async-classifier';
import { BatchClassifierStack } from './batch-classifier';
import { TabularBatchStack } from './batch-tabular';
import { ContainerClassifierStack } from './container-classifier';
import { GpuClassifierStack } from './gpu-classifier';
import { MonitoredClassifierStack } from './monitored-classifier';
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
app.synth();
