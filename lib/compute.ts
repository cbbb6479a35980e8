// Where the function runs: a CPU container image, a GPU container on Lambda Managed
// Instances, or a Node.js zip with the runtime in layers. One runtime, three packagings.
import { Size, SizeRoundingBehavior } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The packaging of a TensorFlowFunction.
 */
export enum ComputeType {
  /** A container image on CPU: tfjs-node (libtensorflow). */
  CONTAINER = 'container',
  /** A container image on GPU instances (Lambda Managed Instances): tfjs-node-gpu. */
  GPU = 'gpu',
  /** A Node.js zip function with the runtime in layers: the wasm backend. */
  ZIP = 'zip',
}

/**
 * Options for a CPU container image.
 */
export interface ContainerComputeProps {
  /**
   * Extra Docker build arguments for the runtime's Dockerfile (e.g. BACKEND=wasm for a
   * smaller image).
   *
   * @default - none
   */
  readonly buildArgs?: Record<string, string>;
}

/**
 * Options for GPU compute on Lambda Managed Instances.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances.html
 */
export interface GpuComputeProps {
  /**
   * GPU memory for each execution environment: 3, 6, 12, 16, 24 or 48 GiB.
   *
   * @default Size.gibibytes(16)
   */
  readonly acceleratorMemory?: Size;

  /**
   * An existing capacity provider. When given, the VPC, instance type and scaling props
   * below must not be: they belong to the capacity provider.
   *
   * @default - a capacity provider is created
   */
  readonly capacityProvider?: lambda.ICapacityProvider;

  /**
   * GPU instance types the capacity provider may launch.
   *
   * @default - g6.xlarge (NVIDIA L4, 24 GB) and g5.xlarge (NVIDIA A10G, 24 GB)
   */
  readonly instanceTypes?: ec2.InstanceType[];

  /**
   * The VPC the instances run in.
   *
   * @default - a VPC in 2 AZs is created: private subnets for the instances, one NAT gateway
   * in public subnets that assign no public IPs, an S3 gateway endpoint (model and image
   * downloads do not pay NAT traffic), flow logs, and a default security group with no rules
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Which subnets of the VPC.
   *
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups for the instances (1 to 5).
   *
   * @default - one security group that allows outbound traffic only
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The most vCPUs the capacity provider may run at once (12 to 15000): a ceiling on the
   * instances (and so the cost) it can scale to.
   *
   * @default 48 - twelve 4-vCPU GPU instances (g6.xlarge, g5.xlarge)
   */
  readonly maxVCpuCount?: number;

  /**
   * How the capacity provider scales.
   *
   * With aws-cdk-lib 2.278 or later in your app, scale on GPU utilisation with
   * `lambda.ScalingOptions.manual([lambda.TargetTrackingScalingPolicy.gpuUtilization(60)])`
   * (2.276, this library's minimum, and the CloudFormation schemas it is checked against
   * know only the CPU metric).
   *
   * @default - lambda.ScalingOptions.auto(): Lambda scales the instances itself
   */
  readonly scalingOptions?: lambda.ScalingOptions;

  /**
   * Concurrent requests one execution environment serves (the runtime handles them
   * concurrently on one loaded model).
   *
   * @default 10
   */
  readonly perExecutionEnvironmentMaxConcurrency?: number;

  /**
   * Execution environments kept ready for the version the `live` alias points at: the GPU
   * counterpart of provisioned concurrency. ($LATEST.PUBLISHED, which Lambda creates for a
   * function deployed with CloudFormation and which only an unqualified invocation reaches,
   * keeps none.)
   *
   * @default - Lambda's default (3)
   */
  readonly minExecutionEnvironments?: number;

  /**
   * The most execution environments for the version the `live` alias points at.
   *
   * @default - no limit beyond the capacity provider's
   */
  readonly maxExecutionEnvironments?: number;
}

/**
 * Options for a zip function with the runtime in layers.
 */
export interface ZipComputeProps {
  /**
   * Extra layers for the function, after the runtime layer and the model layer (which
   * are added for you).
   *
   * @default - none
   */
  readonly layers?: lambda.ILayerVersion[];

  /**
   * The layer that holds the serverless-tf runtime, instead of the shared one.
   *
   * Give the `layerVersion` of a TensorFlowRuntimeLayer to share one layer between
   * functions and stacks (e.g. built once in a "layers" stack), or import one your
   * platform team published with `lambda.LayerVersion.fromLayerVersionArn`. The
   * function's code imports `/opt/nodejs/serverless-tf/handler.mjs`, so the layer must
   * have the TensorFlowRuntimeLayer layout and be built for the function's architecture.
   *
   * When it is a TensorFlowRuntimeLayer's, synth checks its architecture against the
   * function's and counts its size towards the 250 MB unzipped limit. Any other layer's
   * size is unknown at synth time: only the model's own size is checked against that
   * limit, and Lambda checks the sum at deploy time.
   *
   * @default - one TensorFlowRuntimeLayer per stack and architecture, created on first
   * use and shared by every zip function in the stack
   * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
   */
  readonly runtimeLayer?: lambda.ILayerVersion;
}

/**
 * The compute a TensorFlowFunction runs on.
 */
export class Compute {
  /**
   * The accelerator (GPU) memory sizes Lambda accepts for Compute.gpu's acceleratorMemory, in GiB.
   *
   * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances.html
   */
  public static readonly ACCELERATOR_MEMORY_GIB: number[] = [3, 6, 12, 16, 24, 48];

  /** A container image on CPU (the default): tfjs-node, models up to GBs (10 GB image). */
  public static container(props: ContainerComputeProps = {}): Compute {
    return new Compute(ComputeType.CONTAINER, props, undefined, undefined);
  }

  /** A container image on GPU instances through Lambda Managed Instances (x86_64 only). */
  public static gpu(props: GpuComputeProps = {}): Compute {
    return new Compute(ComputeType.GPU, undefined, props, undefined);
  }

  /** A Node.js zip function with the runtime in layers: small models, fastest deploys. */
  public static zip(props: ZipComputeProps = {}): Compute {
    return new Compute(ComputeType.ZIP, undefined, undefined, props);
  }

  private constructor(
    /** The packaging. */
    public readonly type: ComputeType,
    /** Container options, for ComputeType.CONTAINER. */
    public readonly containerProps?: ContainerComputeProps,
    /** GPU options, for ComputeType.GPU. */
    public readonly gpuProps?: GpuComputeProps,
    /** Zip options, for ComputeType.ZIP. */
    public readonly zipProps?: ZipComputeProps,
  ) {}

  /** GPU memory per execution environment, in GiB, for ComputeType.GPU (checked against ACCELERATOR_MEMORY_GIB when the function is built). */
  public get acceleratorMemoryGiB(): number | undefined {
    if (this.type !== ComputeType.GPU) return undefined;
    return (this.gpuProps?.acceleratorMemory ?? Size.gibibytes(16)).toGibibytes({ rounding: SizeRoundingBehavior.NONE });
  }
}

/**
 * The accelerator memory sizes Lambda accepts, in GiB (TypeScript only: jsii languages cannot see module constants).
 *
 * @deprecated use Compute.ACCELERATOR_MEMORY_GIB
 */
export const ACCELERATOR_MEMORY_GIB = Compute.ACCELERATOR_MEMORY_GIB;
