// TensorFlowFunction: what each prop changes in the template, and each synth-time error.
import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, Lazy, Size } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  ApiAuthorization, Compute, InferenceApi, InferenceTask, Model, ModelFormat, Normalization, ResizeMethod, RuntimeEnvironment, TaskType,
  TensorFlowFunction,
} from '../lib';
import { DEMO_MODEL_DIR, envOf, layersModelDir, newStack } from './support';

const MIB = 1024 * 1024;

describe('container compute (the default)', () => {
  test('an image function from the runtime Dockerfile with the model baked in, sized for the model', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Classifier', {
      model: Model.fromAsset(DEMO_MODEL_DIR),
      task: InferenceTask.imageClassification({ inputSize: 224, alignCorners: true, labels: ['a', 'b', 'c', 'd', 'e'] }),
      modelName: 'mobilenet',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      MemorySize: 2048,
      Timeout: 30,
      Architectures: Match.absent(), // x86_64
      TracingConfig: { Mode: 'Active' },
    });
    const env = envOf(template);
    expect(env[RuntimeEnvironment.MODEL_URI]).toBe('/opt/model');
    expect(env[RuntimeEnvironment.MODEL_FORMAT]).toBe('layers');
    expect(env[RuntimeEnvironment.MODEL_NAME]).toBe('mobilenet');
    expect(JSON.parse(env[RuntimeEnvironment.TASK])).toEqual({
      type: 'image-classification', inputSize: 224, channels: 3, resize: 'tf-bilinear', alignCorners: true, normalization: 'zero-one', labels: ['a', 'b', 'c', 'd', 'e'],
    });
    expect(fn.computeType).toBe('container');
    expect(fn.memorySize).toBe(2048);
    expect(fn.model.sizeBytes).toBeGreaterThan(2 * MIB);
  });

  test('a published version and a `live` alias; grantInvoke and metrics point at the alias', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Version', 1);
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live' });
    expect(fn.metricDuration().statistic).toBe('p99');
    expect(fn.metricInvocations().dimensions).toEqual(expect.objectContaining({ Resource: expect.anything() }));
  });

  test('arm64 builds the image for linux/arm64', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), architecture: lambda.Architecture.ARM_64 });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Architectures: ['arm64'] });
    const assembly = (stack.node.root as App).synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as { dockerImages: Record<string, { source: { platform?: string } }> };
    expect(Object.values(manifest.dockerImages).map((i) => i.source.platform)).toEqual(['linux/arm64']);
  });

  test('memorySize "auto" grows with the model: 1536 + 14 x MiB, rounded up to 64, at least 2048', () => {
    const stack = newStack();
    const big = new TensorFlowFunction(stack, 'Big', { model: Model.fromAsset(layersModelDir(440 * MIB, true)) });
    expect(big.memorySize).toBe(Math.ceil((1536 + 14 * 440) / 64) * 64);
    const set = new TensorFlowFunction(stack, 'Set', { model: Model.fromAsset(layersModelDir()), memorySize: 3008 });
    expect(set.memorySize).toBe(3008);
  });

  test('a least-privilege role: its own log group only, no managed policies; a log group with one month retention', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const roles = template.findResources('AWS::IAM::Role');
    for (const role of Object.values(roles)) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('FnLogGroup'), 'Arn'] }]) })]) },
    });
  });

  test('user options pass through: timeout, reserved concurrency, env encryption key, log retention, extra environment', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(layersModelDir()),
      timeout: Duration.minutes(2),
      reservedConcurrentExecutions: 5,
      environmentEncryption: key,
      logRetentionPeriod: logs.RetentionDays.ONE_YEAR,
      environment: { EXTRA: '1' },
      maxRequestSize: Size.mebibytes(1),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 120, ReservedConcurrentExecutions: 5, KmsKeyArn: Match.anyValue() });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    expect(envOf(template)).toMatchObject({ EXTRA: '1', [RuntimeEnvironment.MAX_BODY_BYTES]: String(MIB) });
  });
});

describe('models read from S3', () => {
  test('the function may read the prefix and nothing else; /tmp sized for the model', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Models');
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromBucket(bucket, 'models/resnet/v2', { size: Size.mebibytes(800) }) });
    const template = Template.fromStack(stack);
    const env = envOf(template);
    expect(JSON.stringify(env[RuntimeEnvironment.MODEL_URI])).toMatch(/^\{"Fn::Join":\["",\["s3:\/\/",\{"Ref":"Models[0-9A-F]+"\},"\/models\/resnet\/v2\/"\]\]\}$/);
    template.hasResourceProperties('AWS::Lambda::Function', { EphemeralStorage: { Size: Math.ceil((256 + 1.25 * 800) / 64) * 64 } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('Models'), 'Arn'] }, '/models/resnet/v2/*']] } }),
          Match.objectLike({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['models/resnet/v2/*'] } } }),
        ]),
      },
    });
  });

  test('a KMS-encrypted bucket grants decrypt on its key', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Models', { encryption: s3.BucketEncryption.KMS });
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromBucket(bucket, 'm/') });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt' })]) },
    });
  });
});

describe('GPU compute on Lambda Managed Instances', () => {
  test('an x86_64 image function on a GPU capacity provider with AcceleratorConfig, in a created VPC', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Gpu', {
      model: Model.fromAsset(layersModelDir()),
      compute: Compute.gpu({
        acceleratorMemory: Size.gibibytes(24), perExecutionEnvironmentMaxConcurrency: 8, minExecutionEnvironments: 1, maxExecutionEnvironments: 4,
      }),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Architectures: ['x86_64'],
      AcceleratorConfig: { AcceleratorMemorySize: 24 },
      CapacityProviderConfig: { LambdaManagedInstancesCapacityProviderConfig: { PerExecutionEnvironmentMaxConcurrency: 8 } },
    });
    template.hasResourceProperties('AWS::Lambda::CapacityProvider', {
      InstanceRequirements: Match.objectLike({ AllowedInstanceTypes: ['g6.xlarge', 'g5.xlarge'], Architectures: ['x86_64'] }),
    });
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    expect(fn.capacityProvider?.node.path).toBe('Test/Gpu/CapacityProvider');
  });

  test('bring your own capacity provider', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const provider = new lambda.CapacityProvider(stack, 'Provider', {
      subnets: vpc.privateSubnets,
      securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })],
      instanceTypeFilter: lambda.InstanceTypeFilter.allow([new ec2.InstanceType('g6.2xlarge')]),
    });
    new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu({ capacityProvider: provider }) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::CapacityProvider', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { AcceleratorConfig: { AcceleratorMemorySize: 16 } });
  });

  test('min/max execution environments go on the version the live alias points at; $LATEST.PUBLISHED keeps none', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu({ minExecutionEnvironments: 1, maxExecutionEnvironments: 4 }) });
    const template = Template.fromStack(stack);
    const versions = template.findResources('AWS::Lambda::Version');
    expect(Object.keys(versions)).toHaveLength(1);
    const [versionId, version] = Object.entries(versions)[0] as [string, { Properties: Record<string, unknown> }];
    expect(version.Properties.FunctionScalingConfig).toEqual({ MinExecutionEnvironments: 1, MaxExecutionEnvironments: 4 });
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', FunctionVersion: { 'Fn::GetAtt': [versionId, 'Version'] } });
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionScalingConfig: { MinExecutionEnvironments: 0, MaxExecutionEnvironments: 4 } });
  });

  test('without min/max, the alias\'s version takes Lambda\'s default and $LATEST.PUBLISHED still keeps none', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu() });
    const template = Template.fromStack(stack);
    const version = Object.values(template.findResources('AWS::Lambda::Version'))[0] as { Properties: Record<string, unknown> };
    expect(version.Properties.FunctionScalingConfig).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionScalingConfig: { MinExecutionEnvironments: 0 } });
  });

  test('cost-aware defaults of a created capacity provider: a 48 vCPU ceiling, and an S3 gateway endpoint so model downloads skip the NAT', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu() });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::CapacityProvider', { CapacityProviderScalingConfig: Match.objectLike({ MaxVCpuCount: 48 }) });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
    const custom = newStack();
    new TensorFlowFunction(custom, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu({ maxVCpuCount: 400 }) });
    Template.fromStack(custom).hasResourceProperties('AWS::Lambda::CapacityProvider', { CapacityProviderScalingConfig: Match.objectLike({ MaxVCpuCount: 400 }) });
  });

  const gpuOn = (...types: string[]) => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu({ instanceTypes: types.map((t) => new ec2.InstanceType(t)) }) });
    return stack;
  };

  test.each([
    ['g5g.xlarge', /g5g\.xlarge has Graviton \(arm64\) with NVIDIA T4G: the CUDA image is x86_64\. Use NVIDIA x86_64 families/],
    ['g4ad.xlarge', /g4ad\.xlarge has AMD Radeon GPUs, not NVIDIA/],
    ['inf2.xlarge', /must be NVIDIA GPU instances on x86_64 .*; inf2\.xlarge is not/],
  ])('instance type %s cannot run the CUDA image: a synth error', (type, message) => {
    expect(() => gpuOn('g6.xlarge', type)).toThrow(message);
  });

  test('NVIDIA x86_64 families are accepted without a warning (gr6 and p5 included); a family unknown here is a warning, not an error', () => {
    expect(Annotations.fromStack(gpuOn('gr6.4xlarge', 'p5.48xlarge', 'g4dn.xlarge', 'g6e.xlarge')).findWarning('*', Match.stringLikeRegexp('GpuFamilyUnknown'))).toHaveLength(0);
    Annotations.fromStack(gpuOn('g6.xlarge', 'g9.xlarge')).hasWarning('/Test/Gpu', Match.stringLikeRegexp('instanceTypes g9\\.xlarge: not a family known here to have NVIDIA GPUs on x86_64'));
  });
});

describe('capacity and cold starts', () => {
  test.each([
    [{ provisionedConcurrency: 2, warmUp: { concurrency: 2 } }, /its 2 ping\(s\) land on the 2 provisioned environment\(s\).*Remove warmUp/],
    [{ provisionedConcurrency: 1, provisionedConcurrencyScaling: { minCapacity: 3, maxCapacity: 6 }, warmUp: {} }, /its 1 ping\(s\) land on the 3 provisioned/],
    [{ provisionedConcurrency: 1, warmUp: { concurrency: 4 } }, /only 3 of its 4 pings reach on-demand environments beyond the 1 provisioned ones\. Raise provisionedConcurrency to 4/],
  ])('warm-up together with provisioned concurrency is a warning that says what the pings do: %j', (props, message) => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), ...props });
    Annotations.fromStack(stack).hasWarning('/Test/Fn', Match.stringLikeRegexp(message.source));
  });

  test('warm-up alone, or provisioned concurrency alone, is no warning', () => {
    for (const props of [{ warmUp: { concurrency: 2 } }, { provisionedConcurrency: 2 }]) {
      const stack = newStack();
      new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), ...props });
      expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('WarmUpWithProvisionedConcurrency'))).toHaveLength(0);
    }
  });

  test('provisioned concurrency on the alias, auto-scaled on utilisation', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(layersModelDir()),
      provisionedConcurrency: 2,
      provisionedConcurrencyScaling: { maxCapacity: 10, utilizationTarget: 0.6 },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 } });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 10, ScalableDimension: 'lambda:function:ProvisionedConcurrency' });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 0.6 }),
    });
  });

  test('scheduled provisioned concurrency: a wider range in business hours', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(layersModelDir()),
      provisionedConcurrency: 1,
      provisionedConcurrencyScaling: {
        maxCapacity: 4,
        schedules: [{ name: 'BusinessHours', schedule: appscaling.Schedule.cron({ hour: '8', minute: '0', weekDay: 'MON-FRI' }), minCapacity: 3, maxCapacity: 20 }],
      },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ScheduledActions: [Match.objectLike({ ScheduledActionName: 'BusinessHours', Schedule: 'cron(0 8 ? * MON-FRI *)', ScalableTargetAction: { MinCapacity: 3, MaxCapacity: 20 } })],
    });
  });

  test('in a VPC: the function gets its subnets and security group, and its role the network interface permissions', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), vpc });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() } });
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole']] }],
    });
    const outside = newStack();
    new TensorFlowFunction(outside, 'Fn', { model: Model.fromAsset(layersModelDir()) });
    Template.fromStack(outside).hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  test('a warm-up schedule: a rule runs the warmer, which may invoke only the live alias', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(layersModelDir()),
      warmUp: { concurrency: 3, schedule: events.Schedule.rate(Duration.minutes(4)) },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(4 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: { Variables: { WARM_CONCURRENCY: '3', WARM_HOLD_MS: '250', WARM_TARGET: { Ref: Match.stringLikeRegexp('FnLiveAlias') } } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction', Resource: { Ref: Match.stringLikeRegexp('FnLiveAlias') } })]) },
    });
  });
});

describe('tasks', () => {
  test('image task options render into the runtime config', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(layersModelDir()),
      task: InferenceTask.imageClassification({
        inputHeight: 240,
        inputWidth: 320,
        channels: 1,
        resize: ResizeMethod.SHARP_LINEAR,
        normalization: Normalization.meanStd([0.5], [0.25]),
        topK: 1,
        softmax: true,
        halfPixelCenters: true,
      }),
    });
    expect(JSON.parse(envOf(Template.fromStack(stack))[RuntimeEnvironment.TASK])).toEqual({
      type: 'image-classification',
      inputSize: [240, 320],
      channels: 1,
      resize: 'sharp-linear',
      halfPixelCenters: true,
      normalization: { mean: [0.5], std: [0.25] },
      topK: 1,
      softmax: true,
    });
  });

  test('tabular and tensor tasks', () => {
    const stack = newStack();
    new TensorFlowFunction(stack, 'Tab', { model: Model.fromAsset(layersModelDir()), modelName: 'iris', task: InferenceTask.tabular({ features: ['a', 'b'], labels: ['x', 'y'] }) });
    new TensorFlowFunction(stack, 'Raw', { model: Model.fromAsset(layersModelDir()), modelName: 'raw' });
    const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).map((f) => f.Properties.Environment.Variables as Record<string, string>);
    expect(JSON.parse(fns.find((e) => e[RuntimeEnvironment.MODEL_NAME] === 'iris')![RuntimeEnvironment.TASK])).toEqual({ type: 'tabular', features: ['a', 'b'], labels: ['x', 'y'] });
    expect(JSON.parse(fns.find((e) => e[RuntimeEnvironment.MODEL_NAME] === 'raw')![RuntimeEnvironment.TASK])).toEqual({ type: 'tensor' });
  });
});

describe('synth-time errors say what to change', () => {
  const model = () => Model.fromAsset(layersModelDir());
  test.each([
    ['GPU on arm64', () => ({ model: model(), compute: Compute.gpu(), architecture: lambda.Architecture.ARM_64 }), /GPU compute runs on x86_64 only/],
    ['a SavedModel from S3 on zip', () => ({ model: Model.fromBucket(new s3.Bucket(newStack(), 'B'), 'm/', { format: ModelFormat.SAVED_MODEL }), compute: Compute.zip() }), /SavedModel needs the native TensorFlow backend/],
    ['accelerator memory not allowed', () => ({ model: model(), compute: Compute.gpu({ acceleratorMemory: Size.gibibytes(8) }) }), /acceleratorMemory must be one of 3, 6, 12, 16, 24, 48 GiB; got 8 GiB/],
    ['provisioned concurrency on GPU', () => ({ model: model(), compute: Compute.gpu(), provisionedConcurrency: 1 }), /minExecutionEnvironments/],
    ['memory too small for the model', () => ({ model: Model.fromAsset(layersModelDir(500 * MIB, true)), memorySize: 512 }), /memorySize 512 MiB is too small for a 500\.0 MiB model: it needs at least 1769 MiB/],
    ['timeout over 15 minutes', () => ({ model: model(), timeout: Duration.minutes(20) }), /timeout must be at most 15 minutes.*got 20 minutes/],
    ['a model that does not fit /tmp', () => ({ model: Model.fromBucket(new s3.Bucket(newStack(), 'B'), 'm/', { size: Size.gibibytes(9) }) }), /does not fit Lambda's largest \/tmp/],
    ['a model too large for Lambda memory', () => ({ model: Model.fromAsset(layersModelDir(6 * 1024 * MIB, true)) }), /needs at least 13057 MiB of memory to load, more than Lambda's 10240 MiB/],
    ['/tmp too small for the model', () => ({ model: Model.fromBucket(new s3.Bucket(newStack(), 'B'), 'm/', { size: Size.mebibytes(900) }), ephemeralStorageSize: Size.mebibytes(512) }), /ephemeralStorageSize 512 MiB cannot hold/],
    ['zero provisioned concurrency', () => ({ model: model(), provisionedConcurrency: 0 }), /provisionedConcurrency must be a whole number of at least 1; got 0/],
    ['scaling max below min', () => ({ model: model(), provisionedConcurrency: 5, provisionedConcurrencyScaling: { maxCapacity: 2 } }), /maxCapacity \(2\) must be at least minCapacity \(5\)/],
    ['a scheduled action that changes nothing', () => ({ model: model(), provisionedConcurrency: 1, provisionedConcurrencyScaling: { maxCapacity: 2, schedules: [{ name: 'Noop', schedule: appscaling.Schedule.rate(Duration.hours(1)) }] } }), /"Noop" changes nothing/],
    ['warm-up concurrency over 100', () => ({ model: model(), warmUp: { concurrency: 101 } }), /warmUp.concurrency must be a whole number from 1 to 100; got 101/],
    ['a model name with spaces', () => ({ model: model(), modelName: 'my model' }), /modelName must be 1-128 letters/],
    ['a capacity provider and a VPC', () => ({ model: model(), compute: Compute.gpu({ capacityProvider: {} as lambda.ICapacityProvider, maxVCpuCount: 20 }) }), /give capacityProvider or maxVCpuCount, not both/],
    ['maxVCpuCount out of range', () => ({ model: model(), compute: Compute.gpu({ maxVCpuCount: 4 }) }), /maxVCpuCount must be a whole number from 12 to 15000; got 4/],
    ['CPU instance types for GPU', () => ({ model: model(), compute: Compute.gpu({ instanceTypes: [new ec2.InstanceType('m7i.large')] }) }), /must be NVIDIA GPU instances on x86_64.*m7i.large is not/],
    ['a model folder without model files', () => ({ model: Model.fromAsset(path.join(__dirname)) }), /neither model.json nor saved_model.pb/],
    ['a format that does not match the files', () => ({ model: Model.fromAsset(layersModelDir(), { format: ModelFormat.GRAPH }) }), /format graph was given, but .* holds a layers model/],
    ['an image task without a size', () => ({ model: model(), task: InferenceTask.imageClassification({}) }), /needs inputSize/],
    ['mean/std for the wrong channels', () => ({ model: model(), task: InferenceTask.imageClassification({ inputSize: 224, normalization: Normalization.meanStd([0.5], [0.5]) }) }), /needs 3 values each/],
    ['tabular labels and outputNames', () => ({ model: model(), task: InferenceTask.tabular({ features: ['a'], labels: ['x'], outputNames: ['y'] }) }), /not both/],
  ])('%s', (_what, props, message) => {
    const stack = newStack();
    expect(() => new TensorFlowFunction(stack, 'Fn', props())).toThrow(message);
  });

  test('errors name the construct path', () => {
    const stack = newStack('MyStack');
    expect(() => new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), timeout: Duration.hours(1) })).toThrow(/^MyStack\/Fn: /);
  });
});

describe('addRuntimeEnvironment: one value per variable', () => {
  /** A function with its own variables and `environment`, and two constructs that configure it. */
  function withOwners(environment?: Record<string, string>) {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), environment });
    return { stack, fn, first: new Construct(stack, 'First'), second: new Construct(stack, 'Second') };
  }

  test('sets the variables on the function', () => {
    const { stack, fn, first } = withOwners();
    fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/', [RuntimeEnvironment.BATCH_ROWS]: '64' });
    expect(envOf(Template.fromStack(stack))).toMatchObject({ [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/', [RuntimeEnvironment.BATCH_ROWS]: '64' });
  });

  test('another owner\'s different value: an error naming the variable, both owners and what to change; nothing is set', () => {
    const { stack, fn, first, second } = withOwners();
    fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/' });
    expect(() => fn.addRuntimeEnvironment(second, { EXTRA: 'x', [RuntimeEnvironment.OUTPUT_PREFIX]: 'other/' })).toThrow(
      /^Test\/Second: Test\/Fn already has SERVERLESS_TF_OUTPUT_PREFIX set to another value \("out\/"\) by Test\/First \(Construct\); Test\/Second \(Construct\) needs "other\/": a function's environment holds one value per variable\. Give Test\/Second a TensorFlowFunction of its own\.$/);
    const env = envOf(Template.fromStack(stack));
    expect(env[RuntimeEnvironment.OUTPUT_PREFIX]).toBe('out/');
    expect(env).not.toHaveProperty('EXTRA');
  });

  test('a different value than the environment prop\'s: an error that says to change the prop', () => {
    const { fn, first } = withOwners({ [RuntimeEnvironment.BATCH_ROWS]: '64' });
    expect(() => fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.BATCH_ROWS]: '1024' })).toThrow(
      /^Test\/First: Test\/Fn already has SERVERLESS_TF_BATCH_ROWS set to another value \("64"\) by its environment prop; .*Remove SERVERLESS_TF_BATCH_ROWS from the environment prop of Test\/Fn or set it there to "1024", or give Test\/First a TensorFlowFunction of its own\.$/);
  });

  test('a different value than the function\'s own: an error', () => {
    const { fn, first } = withOwners();
    expect(() => fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.MODEL_NAME]: 'other' })).toThrow(/Test\/Fn already has SERVERLESS_TF_MODEL_NAME set to another value \("model"\) by its own props/);
  });

  test('the same value again, from another owner or the environment prop, is fine', () => {
    const { stack, fn, first, second } = withOwners({ [RuntimeEnvironment.BATCH_ROWS]: '64' });
    fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.BATCH_ROWS]: '64', [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/' });
    fn.addRuntimeEnvironment(second, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/', [RuntimeEnvironment.MODEL_NAME]: 'model' });
    expect(envOf(Template.fromStack(stack))).toMatchObject({ [RuntimeEnvironment.BATCH_ROWS]: '64', [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/' });
  });

  test('an owner may change its own variables, until another owner relies on them', () => {
    const { stack, fn, first, second } = withOwners();
    fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/' });
    fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'again/' });
    expect(envOf(Template.fromStack(stack))[RuntimeEnvironment.OUTPUT_PREFIX]).toBe('again/');
    fn.addRuntimeEnvironment(second, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'again/' });
    expect(() => fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.OUTPUT_PREFIX]: 'third/' }))
      .toThrow(/^Test\/First: Test\/Fn already has SERVERLESS_TF_OUTPUT_PREFIX set to another value \("again\/"\) by Test\/Second \(Construct\)/);
  });

  test('tokens are compared resolved', () => {
    const { fn, first, second, stack } = withOwners();
    const bucket = new s3.Bucket(stack, 'Out');
    fn.addRuntimeEnvironment(first, { [RuntimeEnvironment.OUTPUT_BUCKET]: bucket.bucketName, [RuntimeEnvironment.OUTPUT_PREFIX]: 'out/' });
    expect(() => fn.addRuntimeEnvironment(second, { [RuntimeEnvironment.OUTPUT_BUCKET]: bucket.bucketName, [RuntimeEnvironment.OUTPUT_PREFIX]: Lazy.string({ produce: () => 'out/' }) })).not.toThrow();
    expect(() => fn.addRuntimeEnvironment(second, { [RuntimeEnvironment.OUTPUT_BUCKET]: new s3.Bucket(stack, 'Other').bucketName }))
      .toThrow(/already has SERVERLESS_TF_OUTPUT_BUCKET set to another value by Test\/First \(Construct\); Test\/Second \(Construct\) needs its own/);
  });

  test('two InferenceApis with different CORS origins on one function', () => {
    const { stack, fn } = withOwners();
    new InferenceApi(stack, 'Api', { function: fn, authorization: ApiAuthorization.iam(), cors: { allowOrigins: ['https://a.example.com'] } });
    expect(() => new InferenceApi(stack, 'OtherApi', { function: fn, authorization: ApiAuthorization.iam(), cors: { allowOrigins: ['https://b.example.com'] } }))
      .toThrow(/^Test\/OtherApi: Test\/Fn already has SERVERLESS_TF_CORS_ALLOW_ORIGINS set to another value \("https:\/\/a\.example\.com"\) by Test\/Api \(InferenceApi\)/);
  });
});

describe('handles and constants for every jsii language', () => {
  test('the live alias, the default timeout and the accelerator memory sizes are static members', () => {
    expect(TensorFlowFunction.LIVE_ALIAS).toBe('live');
    expect(TensorFlowFunction.DEFAULT_TIMEOUT.toSeconds()).toBe(30);
    expect(Compute.ACCELERATOR_MEMORY_GIB).toEqual([3, 6, 12, 16, 24, 48]);
  });

  test('taskType is a TaskType, with the string the runtime reads', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), task: InferenceTask.tabular({ features: ['a'] }) });
    expect(fn.taskType).toBe(TaskType.TABULAR);
    expect(JSON.parse(envOf(Template.fromStack(stack))[RuntimeEnvironment.TASK]).type).toBe('tabular');
    expect([TaskType.IMAGE_CLASSIFICATION, TaskType.TABULAR, TaskType.TENSOR]).toEqual(['image-classification', 'tabular', 'tensor']);
  });

  test('GPU compute: the VPC and security group created for the instances', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu() });
    expect(fn.vpc?.node.path).toBe('Test/Gpu/Vpc');
    expect(fn.securityGroups?.map((g) => g.node.path)).toEqual(['Test/Gpu/InstanceSecurityGroup']);
    expect(fn.runtimeLayer).toBeUndefined();
    expect(fn.modelLayer).toBeUndefined();
  });

  test('GPU compute: the VPC and security groups given', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    const fn = new TensorFlowFunction(stack, 'Gpu', { model: Model.fromAsset(layersModelDir()), compute: Compute.gpu({ vpc, securityGroups: [sg] }) });
    expect(fn.vpc).toBe(vpc);
    expect(fn.securityGroups).toEqual([sg]);
  });

  test('zip compute: the runtime layer and the model layer', () => {
    const stack = newStack();
    const fn = new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(layersModelDir()), compute: Compute.zip() });
    expect(fn.runtimeLayer?.node.path).toBe('Test/ServerlessTensorFlowRuntime-x86_64/Layer');
    expect(fn.modelLayer?.node.path).toBe('Test/Fn/ModelLayer');
    expect(fn.vpc).toBeUndefined();
    expect(fn.securityGroups).toBeUndefined();
  });

  test('container compute has none of them', () => {
    const fn = new TensorFlowFunction(newStack(), 'Fn', { model: Model.fromAsset(layersModelDir()) });
    expect([fn.vpc, fn.securityGroups, fn.runtimeLayer, fn.modelLayer]).toEqual([undefined, undefined, undefined, undefined]);
  });
});
