// The props of lambda.FunctionOptions whose defaults TensorFlowFunction changes. jsii cannot
// redeclare an inherited member to document it (JSII5015: invalid C#), so API.md would show
// Lambda's defaults (128 MiB, 3 s, tracing disabled); projenrc/api-md-defaults.ts writes
// these into API.md after jsii-docgen, and test/api-docs.test.ts checks that it did.
export const INHERITED_DEFAULTS: Readonly<Record<string, string>> = {
  memorySize: 'sized from the model: clamp(roundUp64(1536 + 14 x model MiB), 2048, 10240) MiB; 2048 for a model in S3 without a size. A value below 768 + 2 x model MiB is a synth error.',
  timeout: 'Duration.seconds(30), for synchronous APIs (API Gateway\'s REST integration stops at 29 s); at most 15 minutes.',
  tracing: 'lambda.Tracing.ACTIVE',
  ephemeralStorageSize: 'for a model in S3: 256 + 1.25 x model MiB of /tmp (2 GiB without a size); otherwise Lambda\'s 512 MiB.',
  logGroup: 'a log group of the function\'s own, kept for logRetentionPeriod (one month).',
  role: 'a least-privilege role of the function\'s own: its log group, X-Ray, read access to an S3 model\'s prefix, and its network interfaces in a VPC.',
  description: '"TensorFlow inference: model NAME (FORMAT, TASK) on COMPUTE"',
  environment: 'the runtime\'s variables (RuntimeEnvironment); variables given here are merged over them and win.',
};
