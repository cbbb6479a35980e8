// One model behind one Lambda function, in one of three packagings, with what a
// production function needs: memory and timeout sized for the model, a least-privilege
// role, tracing, a log group with retention, a `live` alias with warm capacity, and an
// optional warm-up schedule.
import { Annotations, Duration, Names, Size, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { IConstruct } from 'constructs';
import { Compute, ComputeType } from './compute';
import type { InferenceMonitoring, MonitoringThresholds } from './inference-monitoring';
import { InferenceTask } from './inference-task';
import type { TaskType } from './inference-task';
import { Model, ModelFormat } from './model';
import type { ModelConfig } from './model';
import { acknowledgeManagedPolicy, acknowledgeWildcardResource } from './private/acknowledge';
import { buildGpuFunction, validateGpuCompute } from './private/gpu-function';
import { convertModel, pathSize } from './private/model-conversion';
import { readModelSignature, taskModelMismatches } from './private/model-signature';
import { stageDockerContext } from './private/runtime-package';
import {
  MAX_EPHEMERAL_MIB, MAX_MEMORY_MIB, MIN_EPHEMERAL_MIB, autoMemoryMiB, bytesOf, ephemeralForModelMiB, mib, minimumMemoryMiB,
} from './private/sizing';
import { TensorFlowValidationError } from './private/validation-error';
import { Warmer } from './private/warmer';
import { ZIP_ENVIRONMENT, buildZipFunction, validateZipCompute } from './private/zip-function';
import { RuntimeMetrics } from './runtime-contract';
import { RuntimeEnvironment } from './runtime-environment';

/** Lambda's synchronous invocation response limit, 6 MB: the largest maxResponseSize. */
const LAMBDA_SYNC_RESPONSE_BYTES = 6 * 1024 * 1024;

/**
 * Keep execution environments warm with a schedule that pings the function.
 */
export interface WarmUpOptions {
  /**
   * How many execution environments to keep warm: the warmer sends this many pings at
   * once, each holding its environment briefly so they land on different ones.
   *
   * @default 1
   */
  readonly concurrency?: number;

  /**
   * When to ping.
   *
   * @default events.Schedule.rate(Duration.minutes(5))
   */
  readonly schedule?: events.Schedule;
}

/**
 * Auto-scaling of provisioned concurrency on the `live` alias.
 */
export interface ProvisionedConcurrencyScaling {
  /**
   * The least provisioned concurrency.
   *
   * @default - the provisionedConcurrency prop
   */
  readonly minCapacity?: number;

  /** The most provisioned concurrency. */
  readonly maxCapacity: number;

  /**
   * Target utilisation of provisioned concurrency (0.1 to 0.9).
   *
   * @default 0.7
   */
  readonly utilizationTarget?: number;

  /**
   * Scheduled changes of the capacity range, e.g. more warm environments in business hours.
   *
   * @default - no schedules
   */
  readonly schedules?: ScheduledProvisionedConcurrency[];
}

/**
 * A scheduled change of the provisioned concurrency range.
 */
export interface ScheduledProvisionedConcurrency {
  /** A name for the scheduled action, unique within the function. */
  readonly name: string;
  /** When the range changes. */
  readonly schedule: appscaling.Schedule;
  /**
   * The least provisioned concurrency from then on.
   *
   * @default - unchanged
   */
  readonly minCapacity?: number;
  /**
   * The most provisioned concurrency from then on.
   *
   * @default - unchanged
   */
  readonly maxCapacity?: number;
}

/**
 * Properties of a TensorFlowFunction.
 *
 * Of the lambda.FunctionOptions, these have defaults of ours: memorySize (sized from the
 * model, at least 2048 MiB), timeout (30 seconds), tracing (ACTIVE), ephemeralStorageSize
 * (sized for a model in S3), logGroup (one of its own, kept a month), role (least
 * privilege), description, and environment (merged over the runtime's variables).
 */
export interface TensorFlowFunctionProps extends lambda.FunctionOptions {
  /** The model to serve. */
  readonly model: Model;

  /**
   * What the model's inputs and outputs mean.
   *
   * @default InferenceTask.tensor() - raw tensors (TF Serving REST and KServe V2)
   */
  readonly task?: InferenceTask;

  /**
   * Where the function runs.
   *
   * @default Compute.container()
   */
  readonly compute?: Compute;

  /**
   * The model's name in the HTTP routes (`/v1/models/{name}:predict`).
   *
   * @default 'model'
   */
  readonly modelName?: string;

  /**
   * Provisioned concurrency on the `live` alias: environments initialised (model loaded
   * and warmed) before requests arrive. Not for GPU compute, which keeps
   * minExecutionEnvironments instead.
   *
   * @default - none
   */
  readonly provisionedConcurrency?: number;

  /**
   * Auto-scale provisioned concurrency on utilisation.
   *
   * @default - fixed provisioned concurrency
   */
  readonly provisionedConcurrencyScaling?: ProvisionedConcurrencyScaling;

  /**
   * A schedule that keeps environments warm (a cheaper alternative to provisioned concurrency).
   *
   * @default - no warm-up schedule
   */
  readonly warmUp?: WarmUpOptions;

  /**
   * The largest request body the runtime accepts. A token must be given as `Size.bytes(...)`.
   *
   * @default Size.mebibytes(6) - Lambda's synchronous payload limit
   */
  readonly maxRequestSize?: Size;

  /**
   * The largest answer to a synchronous request, counted as Lambda counts it (the proxy
   * answer's JSON, a binary body in base64). A larger answer is a JSON 413 that points at
   * asynchronous jobs and binary outputs, instead of Lambda's own opaque failure. At most
   * Lambda's limit; a token must be given as `Size.bytes(...)`.
   *
   * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
   * @default Size.mebibytes(6) - Lambda's synchronous response limit
   */
  readonly maxResponseSize?: Size;

  /**
   * Log retention of the log group created for the function (ignored when logGroup is given).
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetentionPeriod?: logs.RetentionDays;
}

// Needed wherever AcceleratorConfig is set and a version is published: CDK 2.276's
// version hash does not know the property yet. Remove with the L2 acceleratorConfig.
lambda.Function.classifyVersionProperty('AcceleratorConfig', true);

/**
 * A TensorFlow model behind an AWS Lambda function.
 *
 * @example
 * new TensorFlowFunction(this, 'Classifier', {
 *   model: Model.fromAsset('models/mobilenet_v2'),
 *   task: InferenceTask.imageClassification({ inputSize: 224, labels: ['cat', 'dog'] }),
 *   provisionedConcurrency: 2,
 * });
 */
export class TensorFlowFunction extends Construct {
  /** The name of the alias that takes traffic. */
  public static readonly LIVE_ALIAS = 'live';

  /** The timeout when none is given: for synchronous APIs (API Gateway's REST integration stops at 29 s). */
  public static readonly DEFAULT_TIMEOUT = Duration.seconds(30);

  /** The Lambda function. */
  public readonly function: lambda.Function;
  /** The `live` alias: send traffic here. */
  public readonly alias: lambda.Alias;
  /** The execution role. */
  public readonly role: iam.IRole;
  /** The function's log group. */
  public readonly logGroup: logs.ILogGroupRef;
  /** The model as resolved at synth time. */
  public readonly model: ModelConfig;
  /** The packaging. */
  public readonly computeType: ComputeType;
  /** The model's name in the HTTP routes. */
  public readonly modelName: string;
  /**
   * The runtime's service name (POWERTOOLS_SERVICE_NAME): the `service` dimension of its
   * metrics and the `service` key of its logs, unique per function in the app, so that two
   * functions serving models of the same name never read each other's metrics.
   */
  public readonly serviceName: string;
  /** The kind of task the model does. */
  public readonly taskType: TaskType;
  /** Memory of the function, in MiB. */
  public readonly memorySize: number;
  /** The function's timeout. */
  public readonly timeout: Duration;
  /** Provisioned concurrency auto-scaling, when configured. */
  public readonly scalableTarget?: lambda.IScalableFunctionAttribute;
  /** The capacity provider, for GPU compute. */
  public readonly capacityProvider?: lambda.ICapacityProvider;
  /**
   * The VPC the GPU instances run in: Compute.gpu's vpc, or the one created for them.
   * Undefined for other compute, and with a capacity provider given to Compute.gpu.
   */
  public readonly vpc?: ec2.IVpc;
  /**
   * The security groups of the GPU instances: Compute.gpu's securityGroups, or the one created
   * (outbound only). Undefined for other compute, and with a capacity provider given to Compute.gpu.
   */
  public readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * The layer that holds the runtime, for zip compute: Compute.zip's runtimeLayer, or the
   * TensorFlowRuntimeLayer shared by the zip functions of the stack.
   */
  public readonly runtimeLayer?: lambda.ILayerVersion;
  /** The layer that holds the model at /opt/model, for zip compute with a model from a local folder. */
  public readonly modelLayer?: lambda.ILayerVersion;
  /** The warm-up function, when a warm-up schedule is configured. */
  public readonly warmUpFunction?: lambda.IFunction;
  /** The warm-up rule, when a warm-up schedule is configured. */
  public readonly warmUpRule?: events.IRule;

  /** Each runtime variable set so far, with the owners that set it to its value (undefined: the environment prop). */
  private readonly runtimeVariables = new Map<string, RuntimeVariable>();

  public constructor(scope: Construct, id: string, props: TensorFlowFunctionProps) {
    super(scope, id);
    const compute = props.compute ?? Compute.container();
    this.computeType = compute.type;
    this.model = forCompute(this, props.model.bind(this), compute.type);
    const task = (props.task ?? InferenceTask.tensor()).bind(this);
    this.taskType = task.type;
    // A model at hand says its input shape and output width in model.json: a task that
    // cannot match it fails here, not at init after a deploy (S3 models: checked at init).
    if (this.model.localPath) {
      const problems = taskModelMismatches(task.json, readModelSignature(this.model.localPath), this.model.localPath);
      if (problems.length > 0) throw new TensorFlowValidationError(this, problems.join(' '));
    }
    this.modelName = props.modelName ?? 'model';
    this.serviceName = Names.uniqueResourceName(this, { maxLength: 128 });
    this.timeout = props.timeout ?? TensorFlowFunction.DEFAULT_TIMEOUT;
    this.memorySize = props.memorySize ?? autoMemoryMiB(this.model.sizeBytes);
    this.validate(props, compute);

    this.logGroup = props.logGroup ?? new logs.LogGroup(this, 'LogGroup', { retention: props.logRetentionPeriod ?? logs.RetentionDays.ONE_MONTH });
    this.role = props.role ?? this.createRole(props.vpc !== undefined);

    const environment: Record<string, string> = {
      ...(compute.type === ComputeType.ZIP ? ZIP_ENVIRONMENT : {}),
      [RuntimeEnvironment.MODEL_URI]: this.model.bucket ? `s3://${this.model.bucket.bucketName}/${this.model.prefix}` : '/opt/model',
      [RuntimeEnvironment.MODEL_FORMAT]: this.model.format,
      [RuntimeEnvironment.MODEL_NAME]: this.modelName,
      [RuntimeEnvironment.TASK]: task.json,
      POWERTOOLS_SERVICE_NAME: this.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: RuntimeMetrics.NAMESPACE,
      ...(props.maxRequestSize ? { [RuntimeEnvironment.MAX_BODY_BYTES]: Tokenization.stringifyNumber(bytesOf(this, 'maxRequestSize', props.maxRequestSize)) } : {}),
      ...(props.maxResponseSize ? { [RuntimeEnvironment.MAX_RESPONSE_BYTES]: Tokenization.stringifyNumber(bytesOf(this, 'maxResponseSize', props.maxResponseSize)) } : {}),
      ...props.environment,
    };
    for (const [name, value] of Object.entries(environment)) {
      const given = props.environment !== undefined && Object.prototype.hasOwnProperty.call(props.environment, name);
      this.runtimeVariables.set(name, { value, owners: [given ? undefined : this] });
    }
    const functionProps: lambda.FunctionOptions = {
      ...props,
      role: this.role,
      logGroup: this.logGroup,
      memorySize: this.memorySize,
      timeout: this.timeout,
      tracing: props.tracing ?? lambda.Tracing.ACTIVE,
      environment,
      // A model read from S3 is downloaded to /tmp once per environment.
      ephemeralStorageSize: props.ephemeralStorageSize
        ?? (this.model.bucket ? Size.mebibytes(Math.min(MAX_EPHEMERAL_MIB, ephemeralForModelMiB(this.model.sizeBytes))) : undefined),
      description: props.description ?? `TensorFlow inference: model ${this.modelName} (${this.model.format}, ${task.type}) on ${compute.type}`,
    };

    const arm = props.architecture?.name === lambda.Architecture.ARM_64.name;
    switch (compute.type) {
      case ComputeType.CONTAINER:
        this.function = new lambda.DockerImageFunction(this, 'Function', {
          ...functionProps,
          code: lambda.DockerImageCode.fromImageAsset(stageDockerContext(this, this.model.localPath), {
            file: 'docker/Dockerfile',
            buildArgs: { MODEL_DIR: 'model', ...compute.containerProps?.buildArgs },
            platform: arm ? ecr_assets.Platform.LINUX_ARM64 : ecr_assets.Platform.LINUX_AMD64,
          }),
        });
        break;
      case ComputeType.GPU: {
        const gpu = buildGpuFunction(this, functionProps, compute, this.model);
        this.function = gpu.function;
        this.capacityProvider = gpu.capacityProvider;
        this.vpc = gpu.vpc;
        this.securityGroups = gpu.securityGroups;
        break;
      }
      case ComputeType.ZIP: {
        const zip = buildZipFunction(this, functionProps, compute, this.model);
        this.function = zip.function;
        this.runtimeLayer = zip.runtimeLayer;
        this.modelLayer = zip.modelLayer;
        break;
      }
    }
    this.grantModelRead();

    this.alias = new lambda.Alias(this, 'LiveAlias', {
      aliasName: TensorFlowFunction.LIVE_ALIAS,
      version: this.function.currentVersion,
      provisionedConcurrentExecutions: props.provisionedConcurrency,
    });
    if (props.provisionedConcurrencyScaling) {
      const s = props.provisionedConcurrencyScaling;
      const target = this.alias.addAutoScaling({ minCapacity: s.minCapacity ?? props.provisionedConcurrency ?? 1, maxCapacity: s.maxCapacity });
      target.scaleOnUtilization({ utilizationTarget: s.utilizationTarget ?? 0.7 });
      for (const { name, schedule, minCapacity, maxCapacity } of s.schedules ?? []) {
        target.scaleOnSchedule(name, { schedule, minCapacity, maxCapacity });
      }
      this.scalableTarget = target;
    }
    if (props.warmUp) {
      const warmer = new Warmer(this, 'WarmUp', { target: this.alias, concurrency: props.warmUp.concurrency ?? 1, schedule: props.warmUp.schedule ?? events.Schedule.rate(Duration.minutes(5)) });
      this.warmUpFunction = warmer.function;
      this.warmUpRule = warmer.rule;
    }
  }

  /**
   * Alarms and a dashboard section for this function.
   *
   * @returns the alarms created for it
   */
  public monitor(monitoring: InferenceMonitoring, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    return monitoring.addFunction(this, thresholds);
  }

  /**
   * Sets runtime environment variables (RuntimeEnvironment) on the function for `owner`, refusing conflicts.
   *
   * `owner` is the construct that configures the function through the variables, as
   * BatchInference, AsyncInference and InferenceApi do. A function's environment holds one
   * value per variable, so a variable already set to a different value by another owner, by
   * this function's own props or by its `environment` prop is a synth error that names the
   * variable, both owners and what to change, and none of the variables is set. Any owner may
   * set the value a variable already has, and an owner may set its own variables again, also
   * to another value as long as no other owner relies on them. (Values that are tokens are
   * compared resolved. Variables set with `function.addEnvironment` are not checked.)
   *
   * @param owner the construct that needs the variables, named in error messages
   * @param variables the variables by name, e.g. `{ [RuntimeEnvironment.OUTPUT_PREFIX]: 'predictions/' }`
   */
  public addRuntimeEnvironment(owner: IConstruct, variables: { [name: string]: string }): void {
    const entries = Object.entries(variables);
    for (const [name, value] of entries) {
      const existing = this.runtimeVariables.get(name);
      // An owner may change what only it relies on, never what another owner (or the prop) set.
      const others = existing?.owners.filter((o) => o !== owner) ?? [];
      if (existing && others.length > 0 && !this.sameValue(existing.value, value)) {
        throw new TensorFlowValidationError(owner, this.conflictMessage(name, existing.value, others[0], owner, value));
      }
    }
    for (const [name, value] of entries) {
      const existing = this.runtimeVariables.get(name);
      if (existing && this.sameValue(existing.value, value)) {
        if (!existing.owners.includes(owner)) existing.owners.push(owner);
      } else {
        this.runtimeVariables.set(name, { value, owners: [owner] });
      }
      this.function.addEnvironment(name, value);
    }
  }

  /**
   * Provisioned environments are initialized before traffic and kept so: pings that land on
   * them keep nothing warm. Only pings beyond the provisioned minimum reach on-demand
   * environments, and raising provisioned concurrency does that without a schedule.
   */
  private warnWarmUpWithProvisionedConcurrency(props: TensorFlowFunctionProps): void {
    const provisioned = props.provisionedConcurrencyScaling?.minCapacity ?? props.provisionedConcurrency;
    if (!props.warmUp || provisioned === undefined || Token.isUnresolved(provisioned)) return;
    const pings = props.warmUp.concurrency ?? 1;
    const beyond = Token.isUnresolved(pings) ? undefined : pings - provisioned;
    const what = beyond === undefined || beyond <= 0
      ? `its ${Token.isUnresolved(pings) ? '' : `${pings} `}ping(s) land on the ${provisioned} provisioned environment(s), which are always initialized: the schedule keeps nothing warm. Remove warmUp`
      : `only ${beyond} of its ${pings} pings reach on-demand environments beyond the ${provisioned} provisioned ones. Raise provisionedConcurrency to ${pings} and remove warmUp, or keep both if on-demand environments should stay warm too`;
    Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:WarmUpWithProvisionedConcurrency', `warmUp together with provisioned concurrency: ${what}.`);
  }

  /** Lets `grantee` invoke the `live` alias. */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.alias.grantInvoke(grantee);
  }

  /** Any metric of the `live` alias. */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metric(metricName, props);
  }

  /** Invocations of the `live` alias. @default - sum over 5 minutes */
  public metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricInvocations({ statistic: 'Sum', ...props });
  }

  /** Errors of the `live` alias. @default - sum over 5 minutes */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricErrors({ statistic: 'Sum', ...props });
  }

  /** Duration of the `live` alias. @default - p99 over 5 minutes */
  public metricDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricDuration({ statistic: 'p99', ...props });
  }

  /** Throttles of the `live` alias. @default - sum over 5 minutes */
  public metricThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricThrottles({ statistic: 'Sum', ...props });
  }

  /** Concurrent executions of the function. @default - max over 5 minutes */
  public metricConcurrentExecutions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('ConcurrentExecutions', { statistic: 'Maximum', ...props });
  }

  /** Provisioned concurrency spillover invocations of the `live` alias. @default - sum over 5 minutes */
  public metricProvisionedConcurrencySpilloverInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metric('ProvisionedConcurrencySpilloverInvocations', { statistic: 'Sum', ...props });
  }

  private validate(props: TensorFlowFunctionProps, compute: Compute): void {
    const fail = (message: string) => {
      throw new TensorFlowValidationError(this, message);
    };
    const arm = props.architecture?.name === lambda.Architecture.ARM_64.name;
    if (compute.type === ComputeType.GPU && arm) fail('GPU compute runs on x86_64 only (Lambda accelerators need x86_64): remove architecture ARM_64, or use Compute.container() on arm64.');
    if (compute.type === ComputeType.ZIP && this.model.format === ModelFormat.SAVED_MODEL) {
      // Model.fromAsset SavedModels are converted (forCompute): this one is read from S3 at init.
      fail('A SavedModel needs the native TensorFlow backend, which the zip packaging (wasm backend) does not have: use Compute.container() or Compute.gpu(), give the SavedModel folder to Model.fromAsset (synth converts it to a TF.js graph model), or convert it with tensorflowjs_converter and upload the output.');
    }
    if (compute.type === ComputeType.GPU && (props.provisionedConcurrency !== undefined || props.provisionedConcurrencyScaling)) {
      fail('Provisioned concurrency does not apply to GPU compute (Lambda Managed Instances): keep environments ready with Compute.gpu({ minExecutionEnvironments }).');
    }
    const timeout = this.timeout.toSeconds();
    if (!Token.isUnresolved(timeout) && timeout > 900) fail(`timeout must be at most 15 minutes (Lambda's limit); got ${this.timeout.toHumanString()}. Split long work into shorter tasks or run it asynchronously.`);
    if (this.model.bucket && this.model.sizeBytes !== undefined && ephemeralForModelMiB(this.model.sizeBytes) > MAX_EPHEMERAL_MIB) {
      fail(`The model (${mib(this.model.sizeBytes)}) does not fit Lambda's largest /tmp (${MAX_EPHEMERAL_MIB} MiB): use Model.fromAsset with Compute.container() to bake it into the image.`);
    }
    if (this.model.sizeBytes !== undefined && minimumMemoryMiB(this.model.sizeBytes) > MAX_MEMORY_MIB) {
      fail(`The model (${mib(this.model.sizeBytes)}) needs at least ${minimumMemoryMiB(this.model.sizeBytes)} MiB of memory to load, more than Lambda's ${MAX_MEMORY_MIB} MiB: shrink it (quantise the weights with tensorflowjs_converter --quantize_uint8 or --quantize_float16) or serve it outside Lambda.`);
    }
    const memory = this.memorySize;
    if (!Token.isUnresolved(memory)) {
      if (memory < 128 || memory > MAX_MEMORY_MIB) fail(`memorySize must be 128 to ${MAX_MEMORY_MIB} MiB; got ${memory}.`);
      if (this.model.sizeBytes !== undefined && memory < minimumMemoryMiB(this.model.sizeBytes)) {
        fail(`memorySize ${memory} MiB is too small for a ${mib(this.model.sizeBytes)} model: it needs at least ${minimumMemoryMiB(this.model.sizeBytes)} MiB (the runtime plus twice the weights). Raise memorySize or leave it unset to size it automatically (${autoMemoryMiB(this.model.sizeBytes)} MiB).`);
      }
      // On GPU compute the weights and activations live in the accelerator's memory, which
      // acceleratorMemory sizes: the function's memory cap says nothing about the fit there.
      const size = this.model.sizeBytes;
      if (compute.type !== ComputeType.GPU && size !== undefined && props.memorySize === undefined && autoMemoryMiB(size) === MAX_MEMORY_MIB) {
        Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:LargeModel', `The model is ${mib(size)}: memory is capped at ${MAX_MEMORY_MIB} MiB, which may not hold it while it runs. Consider Compute.gpu().`);
      }
    }
    const eph = props.ephemeralStorageSize?.toMebibytes();
    const modelBytes = this.model.sizeBytes;
    if (eph !== undefined && !Token.isUnresolved(eph) && this.model.bucket && modelBytes !== undefined && eph < ephemeralForModelMiB(modelBytes)) {
      fail(`ephemeralStorageSize ${eph} MiB cannot hold the ${mib(modelBytes)} model downloaded to /tmp; use at least ${ephemeralForModelMiB(modelBytes)} MiB (${MIN_EPHEMERAL_MIB} to ${MAX_EPHEMERAL_MIB}).`);
    }
    const pc = props.provisionedConcurrency;
    if (pc !== undefined && !Token.isUnresolved(pc) && (!Number.isInteger(pc) || pc < 1)) {
      fail(`provisionedConcurrency must be a whole number of at least 1; got ${props.provisionedConcurrency}. Leave it unset for none.`);
    }
    const scaling = props.provisionedConcurrencyScaling;
    if (scaling) {
      const min = scaling.minCapacity ?? props.provisionedConcurrency ?? 1;
      const max = scaling.maxCapacity;
      if (!Token.isUnresolved(min) && !Token.isUnresolved(max) && max < min) fail(`provisionedConcurrencyScaling.maxCapacity (${max}) must be at least minCapacity (${min}).`);
      const target = scaling.utilizationTarget ?? 0.7;
      if (!Token.isUnresolved(target) && !(target >= 0.1 && target <= 0.9)) fail(`provisionedConcurrencyScaling.utilizationTarget must be 0.1 to 0.9; got ${target}.`);
      for (const scheduled of scaling.schedules ?? []) {
        if (scheduled.minCapacity === undefined && scheduled.maxCapacity === undefined) {
          fail(`provisionedConcurrencyScaling.schedules "${scheduled.name}" changes nothing: give minCapacity, maxCapacity or both.`);
        }
      }
    }
    const warm = props.warmUp?.concurrency;
    if (warm !== undefined && !Token.isUnresolved(warm) && (!Number.isInteger(warm) || warm < 1 || warm > 100)) {
      fail(`warmUp.concurrency must be a whole number from 1 to 100; got ${warm}.`);
    }
    this.warnWarmUpWithProvisionedConcurrency(props);
    if (props.maxRequestSize) bytesOf(this, 'maxRequestSize', props.maxRequestSize);
    if (props.maxResponseSize) {
      const bytes = bytesOf(this, 'maxResponseSize', props.maxResponseSize);
      if (!Token.isUnresolved(bytes) && (bytes < 1 || bytes > LAMBDA_SYNC_RESPONSE_BYTES)) {
        fail(`maxResponseSize must be from 1 byte to ${LAMBDA_SYNC_RESPONSE_BYTES} bytes (Size.mebibytes(6), Lambda's synchronous response limit: a larger answer fails in Lambda whatever the runtime allows); got ${bytes} bytes.`);
      }
    }
    // Last, so that every prop of the function is checked before the packaging's own.
    if (compute.type === ComputeType.GPU) validateGpuCompute(this, compute);
    if (compute.type === ComputeType.ZIP) validateZipCompute(this, props, compute, this.model);
    if (props.modelName !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(props.modelName)) {
      fail(`modelName must be 1-128 letters, digits, '.', '_' or '-' (it appears in URLs); got "${props.modelName}".`);
    }
  }

  /** Two values of a variable are the same when they are, or resolve to, the same thing. */
  private sameValue(a: string, b: string): boolean {
    if (a === b) return true;
    if (!Token.isUnresolved(a) && !Token.isUnresolved(b)) return false;
    const stack = Stack.of(this);
    return JSON.stringify(stack.resolve(a)) === JSON.stringify(stack.resolve(b));
  }

  /** `setBy` is undefined for the environment prop. */
  private conflictMessage(name: string, existingValue: string, setBy: IConstruct | undefined, owner: IConstruct, value: string): string {
    const shown = (v: string) => Token.isUnresolved(v) ? undefined : JSON.stringify(v);
    const describe = (o: IConstruct) => `${o.node.path} (${o.constructor.name})`;
    const by = setBy === undefined ? 'its environment prop' : setBy === this ? 'its own props' : describe(setBy);
    const old = shown(existingValue);
    const wanted = shown(value);
    const problem = `${this.node.path} already has ${name} set to another value${old ? ` (${old})` : ''} by ${by}; ${describe(owner)} needs ${wanted ?? 'its own'}: a function's environment holds one value per variable.`;
    const ownFunction = `give ${owner.node.path} a TensorFlowFunction of its own`;
    if (setBy === undefined) {
      return `${problem} Remove ${name} from the environment prop of ${this.node.path}${wanted ? ` or set it there to ${wanted}` : ''}, or ${ownFunction}.`;
    }
    return `${problem} ${ownFunction.charAt(0).toUpperCase()}${ownFunction.slice(1)}.`;
  }

  /** Least privilege: write to its own log group, traces, and (with a VPC) its network interfaces. */
  private createRole(vpc: boolean): iam.Role {
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the TensorFlow function ${this.node.path}`,
    });
    const streams = `${this.logGroup.logGroupRef.logGroupArn}:*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupRef.logGroupArn, streams],
    }));
    acknowledgeWildcardResource(role, streams, 'Log streams are created at run time with generated names, inside the function\'s own log group only.');
    acknowledgeWildcardResource(role, '*', 'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions.');
    if (vpc) {
      // aws-cdk-lib adds this only to roles it creates itself.
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      acknowledgeManagedPolicy(role, 'service-role/AWSLambdaVPCAccessExecutionRole', 'Lambda needs it to create and delete the function\'s network interfaces in the VPC (EC2 ENI actions with no resource-level scoping).');
    }
    return role;
  }

  /** The function may read the model's prefix and nothing else in the bucket. */
  private grantModelRead(): void {
    const { bucket, prefix } = this.model;
    if (!bucket) return;
    const objects = bucket.arnForObjects(`${prefix}*`);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects] }));
    acknowledgeWildcardResource(this.role, objects, 'The model is every object under its prefix (model.json and its shards, or a SavedModel); nothing else in the bucket is readable.');
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    }));
    bucket.encryptionKey?.grantDecrypt(this.role);
  }
}

/** A runtime variable's value, and the owners that set it to that value (undefined: the environment prop). */
interface RuntimeVariable {
  readonly value: string;
  readonly owners: (IConstruct | undefined)[];
}

/**
 * The name of the alias that takes traffic (TypeScript only: jsii languages cannot see module constants).
 *
 * @deprecated use TensorFlowFunction.LIVE_ALIAS
 */
export const LIVE_ALIAS = TensorFlowFunction.LIVE_ALIAS;

/**
 * The timeout when none is given (TypeScript only: jsii languages cannot see module constants).
 *
 * @deprecated use TensorFlowFunction.DEFAULT_TIMEOUT
 */
export const DEFAULT_TIMEOUT = TensorFlowFunction.DEFAULT_TIMEOUT;

/**
 * The model as `computeType` loads it: a SavedModel in a local folder becomes a TF.js graph
 * model for zip compute (the wasm backend cannot load SavedModels); container and GPU
 * compute load it natively.
 */
function forCompute(scope: Construct, model: ModelConfig, computeType: ComputeType): ModelConfig {
  if (computeType !== ComputeType.ZIP || model.format !== ModelFormat.SAVED_MODEL || model.localPath === undefined) return model;
  const localPath = convertModel(scope, model.localPath, 'saved-model');
  return { ...model, format: ModelFormat.GRAPH, localPath, sizeBytes: pathSize(localPath) };
}
