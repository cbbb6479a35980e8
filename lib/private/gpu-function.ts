// GPU compute: an x86_64 image function on a Lambda Managed Instances capacity provider
// with GPU instance types, and AcceleratorConfig set through the one escape hatch below.
import { Annotations, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { Compute } from '../compute';
import type { ModelConfig } from '../model';
import { acknowledgeManagedPolicy } from './acknowledge';
import { stageDockerContext } from './runtime-package';
import { TensorFlowValidationError } from './validation-error';

/** Default GPU instance types: NVIDIA L4 and A10G, 24 GB each, the smallest sizes. */
export const DEFAULT_GPU_INSTANCE_TYPES = ['g6.xlarge', 'g5.xlarge'];

/**
 * vCPUs a capacity provider created here may run at once unless told otherwise: 12
 * g6.xlarge or g5.xlarge instances (4 vCPUs each), a cost ceiling for a first deployment.
 */
export const DEFAULT_MAX_VCPU = 48;

/** Lambda's bounds for a capacity provider's maxVCpuCount. */
export const MIN_VCPU = 12;
export const MAX_VCPU = 15000;

/**
 * Lambda's bound for PerExecutionEnvironmentMaxConcurrency.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_LambdaManagedInstancesCapacityProviderConfig.html
 */
export const MAX_PER_ENVIRONMENT_CONCURRENCY = 1600;

/**
 * Lambda's bound for a version's min and max execution environments (FunctionScalingConfig).
 *
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_FunctionScalingConfig.html
 */
export const MAX_EXECUTION_ENVIRONMENTS = 15000;

export interface GpuFunction {
  readonly function: lambda.Function;
  readonly capacityProvider: lambda.ICapacityProvider;
  /** The capacity provider's VPC, given or created; undefined with a capacity provider given. */
  readonly vpc?: ec2.IVpc;
  /** The capacity provider's security groups, given or created; undefined with a capacity provider given. */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** Call validateGpuCompute first: buildGpuFunction does not check its props again. */
export function buildGpuFunction(scope: Construct, functionProps: lambda.FunctionOptions, compute: Compute, model: ModelConfig): GpuFunction {
  const props = compute.gpuProps ?? {};
  const fn = new lambda.DockerImageFunction(scope, 'Function', {
    ...functionProps,
    architecture: lambda.Architecture.X86_64,
    code: lambda.DockerImageCode.fromImageAsset(stageDockerContext(scope, model.localPath), {
      file: 'docker/Dockerfile.gpu',
      buildArgs: { MODEL_DIR: 'model' },
      platform: ecr_assets.Platform.LINUX_AMD64,
    }),
  });
  // aws-cdk-lib 2.276 has no L2 acceleratorConfig (2.278 adds it): set the CloudFormation
  // property here, and only here. Switch to `acceleratorConfig` when upgrading.
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  cfn.addPropertyOverride('AcceleratorConfig', { AcceleratorMemorySize: compute.acceleratorMemoryGiB });
  Validations.of(cfn).acknowledge({ id: 'CloudFormation-Validate::F3002', reason: 'AcceleratorConfig is in the CloudFormation reference for AWS::Lambda::Function, but not yet in the schema bundled with aws-cdk-lib 2.276.' });

  const created = props.capacityProvider ? undefined : createCapacityProvider(scope, props);
  const capacityProvider = props.capacityProvider ?? created!.capacityProvider;
  const provider = capacityProvider as lambda.CapacityProvider;
  // Traffic goes to the `live` alias, which points at the numbered version CDK publishes
  // (currentVersion): the scaling goes there. Lambda also creates $LATEST.PUBLISHED for a
  // function deployed with CloudFormation, which keeps its own environments (3 by default,
  // whole GPU instances); nothing here invokes it (only an unqualified ARN would), so it
  // keeps none.
  provider.addFunction(fn, {
    perExecutionEnvironmentMaxConcurrency: props.perExecutionEnvironmentMaxConcurrency,
    latestPublishedScalingConfig: { minExecutionEnvironments: 0, maxExecutionEnvironments: props.maxExecutionEnvironments },
  });
  if (props.minExecutionEnvironments !== undefined || props.maxExecutionEnvironments !== undefined) {
    (fn.currentVersion.node.defaultChild as lambda.CfnVersion).functionScalingConfig = {
      minExecutionEnvironments: props.minExecutionEnvironments,
      maxExecutionEnvironments: props.maxExecutionEnvironments,
    };
  }
  return { function: fn, capacityProvider, vpc: created?.vpc, securityGroups: created?.securityGroups };
}

/**
 * Checks Compute.gpu's props against Lambda's limits, skipping tokens. Call it before any
 * resource of the function is created: an error then leaves no half-built function behind.
 */
export function validateGpuCompute(scope: Construct, compute: Compute): void {
  const fail = (message: string): never => {
    throw new TensorFlowValidationError(scope, message);
  };
  const known = (value: number | undefined): value is number => value !== undefined && !Token.isUnresolved(value);
  const gib = compute.acceleratorMemoryGiB;
  if (known(gib) && !Compute.ACCELERATOR_MEMORY_GIB.includes(gib)) {
    fail(`Compute.gpu acceleratorMemory must be one of ${Compute.ACCELERATOR_MEMORY_GIB.join(', ')} GiB; got ${gib} GiB.`);
  }
  const props = compute.gpuProps ?? {};
  if (props.capacityProvider) {
    const owned = (['instanceTypes', 'vpc', 'vpcSubnets', 'securityGroups', 'maxVCpuCount', 'scalingOptions'] as const).filter((k) => props[k] !== undefined);
    if (owned.length) fail(`Compute.gpu: give capacityProvider or ${owned.join(', ')}, not both: those belong to the capacity provider.`);
    if (typeof (props.capacityProvider as lambda.CapacityProvider).addFunction !== 'function') {
      fail('Compute.gpu capacityProvider must be a lambda.CapacityProvider defined in this app (an imported one cannot attach functions in aws-cdk-lib 2.276): define it with new lambda.CapacityProvider(...), or leave capacityProvider unset to have one created.');
    }
  }
  const vcpus = props.maxVCpuCount;
  if (known(vcpus) && (!Number.isInteger(vcpus) || vcpus < MIN_VCPU || vcpus > MAX_VCPU)) {
    fail(`Compute.gpu maxVCpuCount must be a whole number from ${MIN_VCPU} to ${MAX_VCPU}; got ${vcpus}.`);
  }
  if (props.securityGroups && (props.securityGroups.length < 1 || props.securityGroups.length > 5)) {
    fail(`Compute.gpu securityGroups must hold 1 to 5 security groups; got ${props.securityGroups.length}.`);
  }
  const c = props.perExecutionEnvironmentMaxConcurrency;
  if (known(c) && (!Number.isInteger(c) || c < 1 || c > MAX_PER_ENVIRONMENT_CONCURRENCY)) {
    fail(`Compute.gpu perExecutionEnvironmentMaxConcurrency must be a whole number from 1 to ${MAX_PER_ENVIRONMENT_CONCURRENCY}; got ${c}.`);
  }
  const min = props.minExecutionEnvironments;
  const max = props.maxExecutionEnvironments;
  if (known(min) && (!Number.isInteger(min) || min < 0 || min > MAX_EXECUTION_ENVIRONMENTS)) {
    fail(`Compute.gpu minExecutionEnvironments must be a whole number from 0 to ${MAX_EXECUTION_ENVIRONMENTS} (Lambda's range); got ${min}. Use 0 to keep no environment ready between requests.`);
  }
  if (known(max) && (!Number.isInteger(max) || max < 0 || max > MAX_EXECUTION_ENVIRONMENTS)) {
    fail(`Compute.gpu maxExecutionEnvironments must be a whole number from 0 to ${MAX_EXECUTION_ENVIRONMENTS} (Lambda's range); got ${max}. Leave it unset for no limit beyond the capacity provider's.`);
  }
  if (known(min) && known(max) && max < min) fail(`Compute.gpu maxExecutionEnvironments (${max}) must be at least minExecutionEnvironments (${min}).`);
  checkInstanceTypes(scope, (props.instanceTypes ?? []).map((t) => t.toString()), fail);
}

/**
 * EC2 instance families with NVIDIA GPUs on x86_64: what the CUDA image (runtime/docker/
 * Dockerfile.gpu, linux/amd64) runs on.
 *
 * @see https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html
 */
export const NVIDIA_X86_FAMILIES = ['g4dn', 'g5', 'g6', 'g6e', 'g6f', 'gr6', 'gr6f', 'p3', 'p3dn', 'p4d', 'p4de', 'p5', 'p5e', 'p5en', 'p6-b200'];

/** GPU families the CUDA image cannot run on, and why. */
const INCOMPATIBLE_GPU_FAMILIES: Record<string, string> = {
  g4ad: 'AMD Radeon GPUs, not NVIDIA: CUDA does not run on them',
  g5g: 'Graviton (arm64) with NVIDIA T4G: the CUDA image is x86_64',
};

/** Refuses instance types that cannot run the CUDA image; warns about GPU families this list does not know. */
function checkInstanceTypes(scope: Construct, types: readonly string[], fail: (message: string) => never): void {
  const family = (t: string) => t.split('.')[0];
  const nonGpu = types.filter((t) => !/^(g|gr|p)\d/.test(family(t)));
  if (nonGpu.length) fail(`Compute.gpu instanceTypes must be NVIDIA GPU instances on x86_64 (${NVIDIA_X86_FAMILIES.join(', ')}); ${nonGpu.join(', ')} ${nonGpu.length > 1 ? 'are' : 'is'} not.`);
  for (const t of types) {
    const why = INCOMPATIBLE_GPU_FAMILIES[family(t)];
    if (why) fail(`Compute.gpu instanceTypes: ${t} has ${why}. Use NVIDIA x86_64 families (${NVIDIA_X86_FAMILIES.join(', ')}), e.g. g6.xlarge or g5.xlarge.`);
  }
  const unknown = types.filter((t) => !NVIDIA_X86_FAMILIES.includes(family(t)));
  if (unknown.length) {
    Annotations.of(scope).addWarningV2('cdk-serverless-tensorflow:GpuFamilyUnknown', `Compute.gpu instanceTypes ${unknown.join(', ')}: not a family known here to have NVIDIA GPUs on x86_64 (${NVIDIA_X86_FAMILIES.join(', ')}). The CUDA image needs both; check the family, or ignore this warning for a family newer than this library.`);
  }
}

interface CreatedCapacityProvider {
  readonly capacityProvider: lambda.CapacityProvider;
  readonly vpc: ec2.IVpc;
  readonly securityGroups: ec2.ISecurityGroup[];
}

function createCapacityProvider(scope: Construct, props: NonNullable<Compute['gpuProps']>): CreatedCapacityProvider {
  const vpc = props.vpc ?? createVpc(scope);
  const subnets = vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;
  if (subnets.length < 1 || subnets.length > 16) {
    throw new TensorFlowValidationError(scope, `Compute.gpu needs 1 to 16 subnets for the capacity provider; the selection gave ${subnets.length}. Set vpcSubnets.`);
  }
  const securityGroups = props.securityGroups ?? [new ec2.SecurityGroup(scope, 'InstanceSecurityGroup', {
    vpc,
    description: 'GPU instances of the TensorFlow function: outbound only (image pulls, S3 model reads, Lambda service)',
    allowAllOutbound: true,
  })];
  const provider = new lambda.CapacityProvider(scope, 'CapacityProvider', {
    subnets,
    securityGroups,
    architectures: [lambda.Architecture.X86_64],
    instanceTypeFilter: lambda.InstanceTypeFilter.allow(props.instanceTypes ?? DEFAULT_GPU_INSTANCE_TYPES.map((t) => new ec2.InstanceType(t))),
    maxVCpuCount: props.maxVCpuCount ?? DEFAULT_MAX_VCPU,
    scalingOptions: props.scalingOptions,
  });
  acknowledgeManagedPolicy(provider, 'AWSLambdaManagedEC2ResourceOperator', 'The AWS managed operator policy for Lambda Managed Instances, which lets Lambda launch and manage the capacity provider\'s EC2 instances.');
  return { capacityProvider: provider, vpc, securityGroups };
}

function createVpc(scope: Construct): ec2.Vpc {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      // The public subnets hold the NAT gateway only (it has its own Elastic IP): nothing
      // launched there gets a public address by default.
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      { name: 'instances', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
    ],
    // The default security group is not used: no rules, so nothing that falls back to it is reachable.
    restrictDefaultSecurityGroup: true,
  });
  vpc.addFlowLog('FlowLog');
  // Model downloads and image layers from S3 stay off the NAT gateway (billed per GB).
  vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
  Validations.of(vpc).acknowledge({ id: 'AwsSolutions-EC23', reason: 'No inbound rules are added; the default security group is not used by the instances.' });
  return vpc;
}
