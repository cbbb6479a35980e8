// One snapshot per example stack (examples/, also what `npx cdk synth` builds, both
// environment-agnostic), and
// cdk-nag's AwsSolutions pack with zero unacknowledged findings. Asset hashes change with
// every runtime build, so they are masked in the snapshots.
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { masked, nagReport } from './support';
import { ApiClassifierStack } from '../examples/api-classifier';
import { AsyncClassifierStack } from '../examples/async-classifier';
import { BatchClassifierStack } from '../examples/batch-classifier';
import { TabularBatchStack } from '../examples/batch-tabular';
import { ContainerClassifierStack } from '../examples/container-classifier';
import { GpuClassifierStack } from '../examples/gpu-classifier';
import { MonitoredClassifierStack } from '../examples/monitored-classifier';
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
