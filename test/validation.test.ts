// Synth-time validation that the construct suites leave out: for each branch, the props
// that trip it and the error (the prop, its allowed range, the value given, what to
// change) or warning they get, and the boundary values that still synthesize.
import * as path from 'path';
import { CfnParameter, Duration, Lazy, Size } from 'aws-cdk-lib';
import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  ApiAuthorization, BatchInference, Compute, InferenceApi, InferenceMonitoring, InferenceTask, Model, Normalization, RuntimeEnvironment,
  TensorFlowRuntimeLayer,
} from '../lib';
import type { GpuComputeProps } from '../lib';
import { classifier, envOf, layersModelDir, newStack } from './support';
import type { FunctionProps } from './support';

/** A model in S3 whose size is known (`mib`) or not: no folder to stage, so any size is cheap. */
function bucketModel(stack: Stack, mib?: number): Model {
  return Model.fromBucket(new s3.Bucket(stack, 'Models'), 'models/m/', mib === undefined ? {} : { size: Size.mebibytes(mib) });
}

/** GPU compute in a VPC of the stack's own, with `props` (given the VPC) on top. */
function gpu(stack: Stack, props: (vpc: ec2.IVpc) => GpuComputeProps = () => ({})): Compute {
  const vpc = new ec2.Vpc(stack, 'Vpc');
  return Compute.gpu({ vpc, ...props(vpc) });
}

/** `count` security groups in `vpc`. */
function securityGroups(stack: Stack, vpc: ec2.IVpc, count: number): ec2.ISecurityGroup[] {
  return Array.from({ length: count }, (_, i) => new ec2.SecurityGroup(stack, `Sg${i}`, { vpc }));
}

/** `count` imported subnets, as a vpcSubnets selection may name them. */
function subnets(stack: Stack, count: number): ec2.ISubnet[] {
  return Array.from({ length: count }, (_, i) => ec2.Subnet.fromSubnetAttributes(stack, `Subnet${i}`, { subnetId: `subnet-${i}`, availabilityZone: 'us-east-1a' }));
}

const LARGE_MODEL = 'cdk-serverless-tensorflow:LargeModel';

describe('TensorFlowFunction memorySize: 128 to 10240 MiB', () => {
  test.each([127, 10241])('%d MiB is refused, with the range and the value', (memorySize) => {
    const stack = newStack();
    expect(() => classifier(stack, { model: bucketModel(stack), memorySize }))
      .toThrow(new RegExp(`^Test/Fn: memorySize must be 128 to 10240 MiB; got ${memorySize}\\.$`));
  });

  test('128 MiB is accepted for a model of unknown size', () => {
    const stack = newStack();
    classifier(stack, { model: bucketModel(stack), memorySize: 128 });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { MemorySize: 128 });
  });

  test('with a model at hand, the floor is what the model needs to load, not 128 MiB', () => {
    const stack = newStack();
    expect(() => classifier(stack, { memorySize: 128 })).toThrow(/memorySize 128 MiB is too small for a 0\.0 MiB model: it needs at least 769 MiB/);
  });

  test('10240 MiB is accepted', () => {
    const stack = newStack();
    classifier(stack, { memorySize: 10240 });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { MemorySize: 10240 });
  });

  test('a memorySize from a parameter is left to deploy time', () => {
    const stack = newStack();
    const memorySize = new CfnParameter(stack, 'Memory', { type: 'Number' }).valueAsNumber;
    classifier(stack, { memorySize });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { MemorySize: { Ref: 'Memory' } });
  });
});

describe('provisionedConcurrencyScaling.utilizationTarget: 0.1 to 0.9', () => {
  const scaled = (utilizationTarget: number): FunctionProps => ({
    provisionedConcurrency: 1,
    provisionedConcurrencyScaling: { maxCapacity: 4, utilizationTarget },
  });

  test.each([0.05, 0.95])('%s is refused, with the range and the value', (target) => {
    expect(() => classifier(newStack(), scaled(target)))
      .toThrow(new RegExp(`provisionedConcurrencyScaling\\.utilizationTarget must be 0\\.1 to 0\\.9; got ${target}\\.`));
  });

  test.each([0.1, 0.9])('%s is the target of the scaling policy', (target) => {
    const stack = newStack();
    classifier(stack, scaled(target));
    Template.fromStack(stack).hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: target }),
    });
  });
});

describe('the LargeModel warning: automatic memory capped at 10240 MiB', () => {
  test('a 700 MiB model gets 10240 MiB and a warning that points at Compute.gpu()', () => {
    const stack = newStack();
    classifier(stack, { model: bucketModel(stack, 700) });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { MemorySize: 10240 });
    Annotations.fromStack(stack).hasWarning('/Test/Fn', Match.stringLikeRegexp('^The model is 700\\.0 MiB: memory is capped at 10240 MiB.*Consider Compute\\.gpu\\(\\)'));
  });

  test('a 600 MiB model fits below the cap: no warning', () => {
    const stack = newStack();
    classifier(stack, { model: bucketModel(stack, 600) });
    const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(fn.Properties.MemorySize).toBeLessThan(10240);
    Annotations.fromStack(stack).hasNoWarning('/Test/Fn', Match.stringLikeRegexp(LARGE_MODEL));
  });

  test('a memorySize given for a 700 MiB model is the user\'s choice: no warning', () => {
    const stack = newStack();
    classifier(stack, { model: bucketModel(stack, 700), memorySize: 10240 });
    Annotations.fromStack(stack).hasNoWarning('/Test/Fn', Match.stringLikeRegexp(LARGE_MODEL));
  });

  test('on GPU compute the model runs in the accelerator\'s memory: no warning (that would point at Compute.gpu())', () => {
    const stack = newStack();
    classifier(stack, { model: bucketModel(stack, 700), compute: gpu(stack) });
    Annotations.fromStack(stack).hasNoWarning('/Test/Fn', Match.stringLikeRegexp(LARGE_MODEL));
  });
});

describe('Compute.gpu security groups, subnets and scaling', () => {
  test('scaling alone (no provisionedConcurrency) is refused on GPU compute, which keeps minExecutionEnvironments', () => {
    const stack = newStack();
    expect(() => classifier(stack, { compute: gpu(stack), provisionedConcurrencyScaling: { maxCapacity: 4 } }))
      .toThrow(/Provisioned concurrency does not apply to GPU compute.*Compute\.gpu\(\{ minExecutionEnvironments \}\)/);
  });

  test.each([0, 6])('%d security groups are refused: 1 to 5', (count) => {
    const stack = newStack();
    expect(() => classifier(stack, { compute: gpu(stack, (vpc) => ({ securityGroups: securityGroups(stack, vpc, count) })) }))
      .toThrow(new RegExp(`^Test/Fn: Compute\\.gpu securityGroups must hold 1 to 5 security groups; got ${count}\\.$`));
  });

  test('5 security groups all reach the capacity provider', () => {
    const stack = newStack();
    classifier(stack, { compute: gpu(stack, (vpc) => ({ securityGroups: securityGroups(stack, vpc, 5) })) });
    const [provider] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::CapacityProvider'));
    expect(provider.Properties.VpcConfig.SecurityGroupIds).toHaveLength(5);
  });

  test.each<[string, (stack: Stack) => ec2.SubnetSelection, number]>([
    ['a selection that matches no subnet', () => ({ subnetFilters: [ec2.SubnetFilter.availabilityZones(['us-east-1z'])] }), 0],
    ['17 subnets', (stack) => ({ subnets: subnets(stack, 17) }), 17],
  ])('%s is refused: 1 to 16, set vpcSubnets', (_what, vpcSubnets, count) => {
    const stack = newStack();
    expect(() => classifier(stack, { compute: gpu(stack, () => ({ vpcSubnets: vpcSubnets(stack) })) }))
      .toThrow(new RegExp(`^Test/Fn: Compute\\.gpu needs 1 to 16 subnets for the capacity provider; the selection gave ${count}\\. Set vpcSubnets\\.$`));
  });

  test('16 subnets all reach the capacity provider', () => {
    const stack = newStack();
    classifier(stack, { compute: gpu(stack, () => ({ vpcSubnets: { subnets: subnets(stack, 16) } })) });
    const [provider] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::CapacityProvider'));
    expect(provider.Properties.VpcConfig.SubnetIds).toEqual(Array.from({ length: 16 }, (_, i) => `subnet-${i}`));
  });

  test.each([0, 2.5, 1601])('perExecutionEnvironmentMaxConcurrency %s is refused: a whole number from 1 to 1600', (concurrency) => {
    const stack = newStack();
    expect(() => classifier(stack, { compute: gpu(stack, () => ({ perExecutionEnvironmentMaxConcurrency: concurrency })) }))
      .toThrow(new RegExp(`Compute\\.gpu perExecutionEnvironmentMaxConcurrency must be a whole number from 1 to 1600; got ${concurrency}\\.`));
  });

  test('perExecutionEnvironmentMaxConcurrency 1 reaches the function', () => {
    const stack = newStack();
    classifier(stack, { compute: gpu(stack, () => ({ perExecutionEnvironmentMaxConcurrency: 1 })) });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      CapacityProviderConfig: { LambdaManagedInstancesCapacityProviderConfig: Match.objectLike({ PerExecutionEnvironmentMaxConcurrency: 1 }) },
    });
  });

  test.each<[keyof GpuComputeProps, number, RegExp]>([
    ['minExecutionEnvironments', -1, /Use 0 to keep no environment ready between requests\./],
    ['minExecutionEnvironments', 2.5, /Use 0 to keep no environment ready between requests\./],
    ['minExecutionEnvironments', 15001, /Use 0 to keep no environment ready between requests\./],
    ['maxExecutionEnvironments', -1, /Leave it unset for no limit beyond the capacity provider's\./],
    ['maxExecutionEnvironments', 15001, /Leave it unset for no limit beyond the capacity provider's\./],
  ])('%s %s is refused by this construct, with Lambda\'s range and what to change', (prop, value, advice) => {
    const stack = newStack();
    expect(() => classifier(stack, { compute: gpu(stack, () => ({ [prop]: value })) }))
      .toThrow(new RegExp(`^Test/Fn: Compute\\.gpu ${prop} must be a whole number from 0 to 15000 \\(Lambda's range\\); got ${value}\\. ${advice.source}$`));
  });

  test('0 execution environments at least is accepted: none kept ready', () => {
    const stack = newStack();
    classifier(stack, { compute: gpu(stack, () => ({ minExecutionEnvironments: 0 })) });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Version', { FunctionScalingConfig: { MinExecutionEnvironments: 0 } });
  });

  test('maxExecutionEnvironments below minExecutionEnvironments is refused, with both values', () => {
    const stack = newStack();
    expect(() => classifier(stack, { compute: gpu(stack, () => ({ minExecutionEnvironments: 4, maxExecutionEnvironments: 2 })) }))
      .toThrow(/Compute\.gpu maxExecutionEnvironments \(2\) must be at least minExecutionEnvironments \(4\)\./);
  });

  test('maxExecutionEnvironments equal to minExecutionEnvironments pins the scaling of the version the live alias serves', () => {
    const stack = newStack();
    classifier(stack, { compute: gpu(stack, () => ({ minExecutionEnvironments: 3, maxExecutionEnvironments: 3 })) });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Version', { FunctionScalingConfig: { MinExecutionEnvironments: 3, MaxExecutionEnvironments: 3 } });
  });
});

describe('Compute.gpu capacityProvider: one defined in the app', () => {
  test('an imported capacity provider is refused: it cannot attach functions', () => {
    const stack = newStack();
    const imported = lambda.CapacityProvider.fromCapacityProviderName(stack, 'Pool', 'gpu-pool');
    expect(() => classifier(stack, { compute: Compute.gpu({ capacityProvider: imported }) }))
      .toThrow(/^Test\/Fn: Compute\.gpu capacityProvider must be a lambda\.CapacityProvider defined in this app \(an imported one cannot attach functions/);
  });

  test('the imported capacity provider is refused before any resource of the function exists: no half-built function is left', () => {
    const stack = newStack();
    const imported = lambda.CapacityProvider.fromCapacityProviderName(stack, 'Pool', 'gpu-pool');
    expect(() => classifier(stack, { compute: Compute.gpu({ capacityProvider: imported }) })).toThrow(/capacityProvider must be a lambda\.CapacityProvider/);
    expect(stack.node.findChild('Fn').node.children.map((c) => c.node.id)).toEqual([]);
  });

  test('a capacity provider defined in the app runs the function, and none is created', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const pool = new lambda.CapacityProvider(stack, 'Pool', { subnets: vpc.privateSubnets, securityGroups: securityGroups(stack, vpc, 1) });
    const fn = classifier(stack, { compute: Compute.gpu({ capacityProvider: pool }) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::CapacityProvider', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      CapacityProviderConfig: { LambdaManagedInstancesCapacityProviderConfig: Match.objectLike({ CapacityProviderArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Pool'), 'Arn'] } }) },
    });
    expect([fn.capacityProvider, fn.vpc, fn.securityGroups]).toEqual([pool, undefined, undefined]);
  });
});

describe('InferenceTask and Normalization', () => {
  test.each([
    ['a std of 0', () => InferenceTask.imageClassification({ inputSize: 224, normalization: Normalization.meanStd([0.485, 0.456, 0.406], [0.229, 0, 0.225]) }),
      /Normalization\.meanStd: every std must be > 0; got \[0\.229, 0, 0\.225\]\./],
    ['2 channels', () => InferenceTask.imageClassification({ inputSize: 224, channels: 2 }), /InferenceTask\.imageClassification channels must be 1 or 3; got 2\./],
    ['no labels', () => InferenceTask.imageClassification({ inputSize: 224, labels: [] }), /InferenceTask\.imageClassification labels must not be empty; omit it to answer class indices\./],
    ['an input height of 0', () => InferenceTask.imageClassification({ inputHeight: 0, inputWidth: 224 }), /InferenceTask\.imageClassification inputHeight must be a whole number from 1 to 8192; got 0\./],
    ['an input width over 8192', () => InferenceTask.imageClassification({ inputHeight: 224, inputWidth: 8193 }), /InferenceTask\.imageClassification inputWidth must be a whole number from 1 to 8192; got 8193\./],
    ['a fractional input size, named as given', () => InferenceTask.imageClassification({ inputSize: 22.5 }), /InferenceTask\.imageClassification inputSize must be a whole number from 1 to 8192; got 22\.5\./],
    ['an input size that inputHeight overrides: the width still comes from it', () => InferenceTask.imageClassification({ inputSize: 0, inputHeight: 224 }), /InferenceTask\.imageClassification inputSize must be a whole number from 1 to 8192; got 0\./],
    ['an image topK of 0', () => InferenceTask.imageClassification({ inputSize: 224, topK: 0 }), /InferenceTask\.imageClassification topK must be a whole number from 1 to 10000; got 0\./],
    ['no features', () => InferenceTask.tabular({ features: [] }), /InferenceTask\.tabular features must list the feature names, in the order of the model's input vector\./],
    ['a feature twice', () => InferenceTask.tabular({ features: ['a', 'b', 'a', 'b', 'c'] }), /InferenceTask\.tabular features has duplicate names: a, b\./],
    ['a tabular topK over 10000', () => InferenceTask.tabular({ features: ['a'], labels: ['x', 'y'], topK: 10001 }), /InferenceTask\.tabular topK must be a whole number from 1 to 10000; got 10001\./],
  ])('%s is refused', (_what, task, message) => {
    expect(() => classifier(newStack(), { task: task() })).toThrow(message);
  });

  test('the bounds are accepted: 1 and 8192 pixels, topK 10000, greyscale mean/std', () => {
    const stack = newStack();
    classifier(stack, 'Small', { task: InferenceTask.imageClassification({ inputHeight: 1, inputWidth: 8192, topK: 10000, channels: 1, normalization: Normalization.meanStd([0.5], [0.25]) }) });
    expect(JSON.parse(envOf(Template.fromStack(stack))[RuntimeEnvironment.TASK])).toMatchObject({
      inputSize: [1, 8192], channels: 1, topK: 10000, normalization: { mean: [0.5], std: [0.25] },
    });
  });
});

describe('Model sources', () => {
  test.each([
    ['a file that is not a model file (.json)', () => path.join(layersModelDir(), 'group1-shard1of1.bin')],
    ['a path that does not exist', () => path.join(layersModelDir(), 'missing')],
  ])('Model.fromAsset of %s is refused: give the folder', (_what, modelPath) => {
    const given = modelPath();
    expect(() => classifier(newStack(), { model: Model.fromAsset(given) }))
      .toThrow(`Test/Fn: Model.fromAsset: ${given} is not a folder. Give the folder that holds model.json (TF.js) or saved_model.pb (SavedModel), or the path of a TF.js model file (.json).`);
  });

  test.each(['/models/m/', 'models/../secrets/', 'models/*'])('Model.fromBucket prefix %j is refused: a plain key prefix', (prefix) => {
    const stack = newStack();
    expect(() => classifier(stack, { model: Model.fromBucket(new s3.Bucket(stack, 'Models'), prefix) }))
      .toThrow(/Model\.fromBucket: prefix ".*" must be a plain key prefix such as "models\/resnet\/v2\/" \(no leading '\/', '\.\.' or '\*'\)\./);
  });

  test('a prefix without a trailing slash reads that folder only', () => {
    const stack = newStack();
    classifier(stack, { model: Model.fromBucket(new s3.Bucket(stack, 'Models'), 'models/m') });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['models/m/*'] } } })]) },
    });
  });
});

describe('TensorFlowRuntimeLayer architecture', () => {
  test('an architecture Lambda does not run is refused, with the two it does', () => {
    expect(() => new TensorFlowRuntimeLayer(newStack(), 'Runtime', { architecture: lambda.Architecture.custom('riscv64') }))
      .toThrow(/^Test\/Runtime: TensorFlowRuntimeLayer: architecture must be x86_64 or arm64 \(Lambda's\); got riscv64\.$/);
  });

  test.each([['x86_64', lambda.Architecture.X86_64], ['arm64', lambda.Architecture.ARM_64]])('%s is accepted', (_name, architecture) => {
    const stack = newStack();
    new TensorFlowRuntimeLayer(stack, 'Runtime', { architecture });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: [architecture.name] });
  });
});

describe('values from tokens (CfnParameter, Lazy) are left to deploy time, not validated at synth', () => {
  /** A Number parameter `id` of the stack: a number token that resolves to { Ref: id }. */
  const param = (stack: Stack, id = 'Value') => new CfnParameter(stack, id, { type: 'Number' }).valueAsNumber;

  test.each<[string, (stack: Stack) => FunctionProps, (template: Template) => void]>([
    ['Compute.gpu maxVCpuCount', (stack) => ({ compute: gpu(stack, () => ({ maxVCpuCount: param(stack) })) }),
      (t) => t.hasResourceProperties('AWS::Lambda::CapacityProvider', { CapacityProviderScalingConfig: Match.objectLike({ MaxVCpuCount: { Ref: 'Value' } }) })],
    ['Compute.gpu perExecutionEnvironmentMaxConcurrency', (stack) => ({ compute: gpu(stack, () => ({ perExecutionEnvironmentMaxConcurrency: param(stack) })) }),
      (t) => t.hasResourceProperties('AWS::Lambda::Function', {
        CapacityProviderConfig: { LambdaManagedInstancesCapacityProviderConfig: Match.objectLike({ PerExecutionEnvironmentMaxConcurrency: { Ref: 'Value' } }) },
      })],
    ['Compute.gpu min and maxExecutionEnvironments', (stack) => ({ compute: gpu(stack, () => ({ minExecutionEnvironments: param(stack, 'Min'), maxExecutionEnvironments: param(stack, 'Max') })) }),
      (t) => t.hasResourceProperties('AWS::Lambda::Version', { FunctionScalingConfig: { MinExecutionEnvironments: { Ref: 'Min' }, MaxExecutionEnvironments: { Ref: 'Max' } } })],
    ['Compute.gpu maxExecutionEnvironments against a literal minimum', (stack) => ({ compute: gpu(stack, () => ({ minExecutionEnvironments: 4, maxExecutionEnvironments: param(stack) })) }),
      (t) => t.hasResourceProperties('AWS::Lambda::Version', { FunctionScalingConfig: { MinExecutionEnvironments: 4, MaxExecutionEnvironments: { Ref: 'Value' } } })],
    ['Compute.gpu acceleratorMemory', (stack) => ({ compute: gpu(stack, () => ({ acceleratorMemory: Size.gibibytes(param(stack)) })) }),
      (t) => t.hasResourceProperties('AWS::Lambda::Function', { AcceleratorConfig: { AcceleratorMemorySize: { Ref: 'Value' } } })],
    ['provisionedConcurrencyScaling.utilizationTarget', (stack) => ({ provisionedConcurrency: 1, provisionedConcurrencyScaling: { maxCapacity: 4, utilizationTarget: param(stack) } }),
      (t) => t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: { Ref: 'Value' } }) })],
    ['provisionedConcurrencyScaling.maxCapacity', (stack) => ({ provisionedConcurrency: 2, provisionedConcurrencyScaling: { maxCapacity: param(stack) } }),
      (t) => t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: { Ref: 'Value' } })],
    ['provisionedConcurrencyScaling.minCapacity', (stack) => ({ provisionedConcurrencyScaling: { minCapacity: param(stack), maxCapacity: 4 } }),
      (t) => t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: { Ref: 'Value' }, MaxCapacity: 4 })],
    ['warmUp.concurrency, a string variable of the warmer', (stack) => ({ warmUp: { concurrency: param(stack) } }),
      (t) => t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ WARM_CONCURRENCY: { Ref: 'Value' } }) } })],
    ['maxRequestSize in bytes', (stack) => ({ maxRequestSize: Size.bytes(param(stack)) }),
      (t) => expect(envOf(t)[RuntimeEnvironment.MAX_BODY_BYTES]).toEqual({ Ref: 'Value' })],
    ['Model.fromBucket size: unknown at synth (700 MiB resolves only with the template), so sized as a model of unknown size',
      (stack) => ({ model: Model.fromBucket(new s3.Bucket(stack, 'Models'), 'm/', { size: Size.mebibytes(Lazy.number({ produce: () => 700 })) }) }),
      (t) => t.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2048, EphemeralStorage: { Size: 2048 } })],
    ['InferenceTask.imageClassification channels and inputSize', (stack) => ({ task: InferenceTask.imageClassification({ inputSize: param(stack, 'Size'), channels: param(stack, 'Channels') }) }),
      (t) => expect(JSON.stringify(envOf(t)[RuntimeEnvironment.TASK])).toMatch(/"inputSize\\":",\{"Ref":"Size"\},",\\"channels\\":",\{"Ref":"Channels"\}/)],
  ])('%s', (_what, props, expectInTemplate) => {
    const stack = newStack();
    classifier(stack, props(stack));
    expectInTemplate(Template.fromStack(stack));
  });

  test('a Lazy number is resolved with the template: its value reaches the capacity provider', () => {
    const stack = newStack();
    classifier(stack, 'Fine', { compute: gpu(stack, () => ({ maxVCpuCount: Lazy.number({ produce: () => 48 }) })) });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::CapacityProvider', { CapacityProviderScalingConfig: Match.objectLike({ MaxVCpuCount: 48 }) });
  });

  test.each<[string, (stack: Stack) => void, (template: Template) => void]>([
    ['BatchInference chunkSize in bytes', (stack) => new BatchInference(stack, 'Batch', { function: classifier(stack), chunkSize: Size.bytes(param(stack)) }),
      (t) => expect(envOf(t)[RuntimeEnvironment.BATCH_CHUNK_BYTES]).toEqual({ Ref: 'Value' })],
    ['an API key quota limit, against a literal offset', (stack) => new InferenceApi(stack, 'Api', {
      function: classifier(stack),
      authorization: ApiAuthorization.apiKey({ quota: { limit: param(stack), offset: 3, period: apigw.Period.DAY } }),
    }), (t) => t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Quota: { Limit: { Ref: 'Value' }, Offset: 3, Period: 'DAY' } })],
    ['monitoring thresholds, durations in their alarm\'s unit', (stack) => new InferenceMonitoring(stack, 'Ops', {
      thresholds: { errorRatePercent: param(stack, 'Percent'), modelLoadTime: Duration.millis(param(stack, 'Millis')) },
    }).addFunction(classifier(stack)),
    (t) => {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: { Ref: 'Percent' } });
      t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: { Ref: 'Millis' } });
    }],
  ])('%s', (_what, build, expectInTemplate) => {
    const stack = newStack();
    build(stack);
    expectInTemplate(Template.fromStack(stack));
  });

  test.each<[string, (stack: Stack) => void, RegExp]>([
    ['maxRequestSize', (stack) => classifier(stack, { maxRequestSize: Size.mebibytes(param(stack)) }),
      /^Test\/Fn: maxRequestSize from a token must be given in bytes, Size\.bytes\(value\).*got a token in MiB\.$/],
    ['BatchInference chunkSize', (stack) => new BatchInference(stack, 'Batch', { function: classifier(stack), chunkSize: Size.mebibytes(param(stack)) }),
      /^Test\/Batch: chunkSize from a token must be given in bytes, Size\.bytes\(value\).*got a token in MiB\.$/],
    ['a modelLoadTime threshold', (stack) => new InferenceMonitoring(stack, 'Ops', { thresholds: { modelLoadTime: Duration.seconds(param(stack)) } }),
      /^Test\/Ops: thresholds\.modelLoadTime from a token must be given as Duration\.millis\(value\), the unit of its alarm's threshold/],
  ])('a %s token in another unit than the one it is used in cannot be converted at synth: the error names the prop and the unit to use', (_what, build, message) => {
    const stack = newStack();
    expect(() => build(stack)).toThrow(message);
  });
});
