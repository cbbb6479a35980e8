// The stacks the template checks run over (test/cfn-lint.test.ts, test/compliance-packs.test.ts):
// every example of examples/, under its stack id in examples/app.ts, in two groups: the examples
// of one feature each, and those that combine the constructs (several models behind one API and
// one monitoring, one customer managed key for everything, GPU in a VPC of the user's, Cognito, an
// HTTP API with jobs, batch on an existing KMS bucket and table, zip functions on layers of the
// user's). All are synthesized in one App, without bundling (no Docker, no npm): the templates are
// what `cdk synth` writes.
import { App } from 'aws-cdk-lib';
import type { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ApiClassifierStack } from '../../examples/api-classifier';
import { AsyncClassifierStack } from '../../examples/async-classifier';
import { BatchClassifierStack } from '../../examples/batch-classifier';
import { BatchExistingStack } from '../../examples/batch-existing';
import { TabularBatchStack } from '../../examples/batch-tabular';
import { CognitoApiStack } from '../../examples/cognito-api';
import { ContainerClassifierStack } from '../../examples/container-classifier';
import { GpuClassifierStack } from '../../examples/gpu-classifier';
import { GpuInVpcStack } from '../../examples/gpu-in-vpc';
import { HttpJobsStack } from '../../examples/http-jobs';
import { MonitoredClassifierStack } from '../../examples/monitored-classifier';
import { MultiModelStack } from '../../examples/multi-model';
import { OneKeyStack } from '../../examples/one-key';
import { UserLayerStack } from '../../examples/user-layer';
import { ZipClassifierStack } from '../../examples/zip-classifier';

/** A stack of the checks: its id (the template's name) and how it is built. */
export interface CheckedStack {
  readonly id: string;
  readonly build: (app: App, id: string) => Stack;
}

const of = <T extends Stack>(Type: new (scope: Construct, id: string) => T) => (app: App, id: string): Stack => new Type(app, id);

/** The examples of one feature each. */
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

/** The examples that combine the constructs and their options. */
export const COMBINATION_STACKS: CheckedStack[] = [
  { id: 'ServerlessTfMultiModel', build: of(MultiModelStack) },
  { id: 'ServerlessTfOneKey', build: of(OneKeyStack) },
  { id: 'ServerlessTfGpuInVpc', build: of(GpuInVpcStack) },
  { id: 'ServerlessTfCognito', build: of(CognitoApiStack) },
  { id: 'ServerlessTfHttpJobs', build: of(HttpJobsStack) },
  { id: 'ServerlessTfBatchExisting', build: of(BatchExistingStack) },
  { id: 'ServerlessTfUserLayer', build: of(UserLayerStack) },
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
