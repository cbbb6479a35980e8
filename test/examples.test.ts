// One snapshot per example stack (examples/, also what `npx cdk synth` builds, both
// environment-agnostic: those of one feature, then those that combine the constructs), and
// cdk-nag's AwsSolutions pack with zero unacknowledged findings. Asset hashes change with
// every runtime build, so they are masked in the snapshots.
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { masked, nagReport } from './support';
import { ApiClassifierStack } from '../examples/api-classifier';
import { AsyncClassifierStack } from '../examples/async-classifier';
import { BatchClassifierStack } from '../examples/batch-classifier';
import { BatchExistingStack } from '../examples/batch-existing';
import { TabularBatchStack } from '../examples/batch-tabular';
import { CognitoApiStack } from '../examples/cognito-api';
import { ContainerClassifierStack } from '../examples/container-classifier';
import { GpuClassifierStack } from '../examples/gpu-classifier';
import { GpuInVpcStack } from '../examples/gpu-in-vpc';
import { HttpJobsStack } from '../examples/http-jobs';
import { MonitoredClassifierStack } from '../examples/monitored-classifier';
import { MultiModelStack } from '../examples/multi-model';
import { OneKeyStack } from '../examples/one-key';
import { UserLayerStack } from '../examples/user-layer';
import { ZipClassifierStack } from '../examples/zip-classifier';

const EXAMPLES: [string, (app: App) => Stack][] = [
  ['container', (app) => new ContainerClassifierStack(app, 'ServerlessTfContainer')],
  ['gpu', (app) => new GpuClassifierStack(app, 'ServerlessTfGpu')],
  ['zip', (app) => new ZipClassifierStack(app, 'ServerlessTfZip')],
  ['monitored', (app) => new MonitoredClassifierStack(app, 'ServerlessTfMonitored')],
  ['api', (app) => new ApiClassifierStack(app, 'ServerlessTfApi')],
  ['async', (app) => new AsyncClassifierStack(app, 'ServerlessTfAsync')],
  ['batch', (app) => new BatchClassifierStack(app, 'ServerlessTfBatch')],
  ['tabular batch', (app) => new TabularBatchStack(app, 'ServerlessTfTabularBatch')],
  ['multi-model', (app) => new MultiModelStack(app, 'ServerlessTfMultiModel')],
  ['one key', (app) => new OneKeyStack(app, 'ServerlessTfOneKey')],
  ['GPU in a VPC', (app) => new GpuInVpcStack(app, 'ServerlessTfGpuInVpc')],
  ['Cognito', (app) => new CognitoApiStack(app, 'ServerlessTfCognito')],
  ['HTTP API with jobs', (app) => new HttpJobsStack(app, 'ServerlessTfHttpJobs')],
  ['batch on existing resources', (app) => new BatchExistingStack(app, 'ServerlessTfBatchExisting')],
  ['user layer', (app) => new UserLayerStack(app, 'ServerlessTfUserLayer')],
];

function newApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

describe.each(EXAMPLES)('the %s example', (_name, make) => {
  test('matches its snapshot', () => {
    const stack = make(newApp());
    expect(masked(Template.fromStack(stack).toJSON())).toMatchSnapshot();
  });

  test('passes cdk-nag AwsSolutions with every acknowledgement carrying a reason', () => {
    const app = newApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    make(app);
    expect(nagReport(app)).toBe('');
  });
});
