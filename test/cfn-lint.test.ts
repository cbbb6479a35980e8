// cfn-lint over every template the checks build (test/support/stacks.ts: the examples and
// combinations they do not use), in one cfn-lint process: no errors, and no warning that is
// not accepted below with its reason. cfn-lint is a Python tool, set up by
// scripts/python-tools.mjs in a virtual environment outside the repository.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHECKED_STACKS, synthesizeCheckedStacks } from './support/stacks';

const SET_UP = path.join(__dirname, '..', 'scripts', 'python-tools.mjs');
const REGION = 'us-east-1';
/** A template with errors cfn-lint must find: proof that it ran over the files and reported them. */
const CANARY = 'Canary';

/** One cfn-lint finding, located in its stack's template. */
interface Finding {
  readonly stack: string;
  readonly level: string;
  readonly rule: string;
  /** The logical id, for findings under Resources. */
  readonly resource?: string;
  readonly resourceType?: string;
  /** The path below the resource (`Properties/Role`, `DependsOn/1`), or the whole path. */
  readonly path: string;
  readonly message: string;
  /** For a redundant DependsOn (W3005): the type of the resource depended on. */
  readonly dependsOnType?: string;
}

/** Findings that are known and accepted, each with its reason. Anything else fails. */
interface AcceptedFinding {
  readonly rule: string;
  readonly resourceType: string;
  readonly path: RegExp;
  readonly message: RegExp;
  readonly dependsOnType?: string;
  /** Only in these stacks (all stacks when absent). */
  readonly stacks?: string[];
  readonly reason: string;
}

/** Warnings of aws-cdk-lib's own making, in every stack that has such resources. */
const ACCEPTED_WARNINGS: AcceptedFinding[] = [
  {
    rule: 'W3005',
    resourceType: 'AWS::Lambda::Function',
    dependsOnType: 'AWS::IAM::Role',
    path: /^DependsOn\/\d+$/,
    message: /dependency already enforced by a 'GetAtt' at 'Resources\/\w+\/Properties\/Role'$/,
    reason: 'aws-cdk-lib\'s lambda.Function (and its custom resource providers: S3 notifications, auto-delete objects) '
      + 'adds DependsOn on the role it also reads with Fn::GetAtt; the same order twice, harmless.',
  },
  {
    rule: 'W3005',
    resourceType: 'Custom::S3BucketNotifications',
    dependsOnType: 'AWS::SQS::Queue',
    path: /^DependsOn\/\d+$/,
    message: /dependency already enforced by a 'GetAtt' at 'Resources\/\w+\/Properties\/NotificationConfiguration\/QueueConfigurations\/\d+\/QueueArn'$/,
    reason: 'aws-cdk-lib\'s bucket notifications depend on the queue and its queue policy (S3 test-sends to the queue '
      + 'when the configuration is set); the queue half of that is also a GetAtt, harmless.',
  },
];

/**
 * Properties that CloudFormation documents and this cfn-lint's bundled resource schemas do
 * not have yet, added to a copy of the schema given to cfn-lint as a registry schema, so
 * that the property is checked against its documented shape instead of being reported as
 * unexpected (E3002). Compute.gpu sets AcceleratorConfig (aws-cdk-lib 2.278 adds it to
 * lambda.Function; 2.276 has only the CloudFormation property, set by an override). A patch
 * is applied only while the bundled schema lacks the property.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-acceleratorconfig.html
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_AcceleratorConfig.html
 */
const SCHEMA_PATCHES: Record<string, { readonly properties: Record<string, unknown>; readonly definitions: Record<string, unknown> }> = {
  'AWS::Lambda::Function': {
    properties: { AcceleratorConfig: { $ref: '#/definitions/AcceleratorConfig' } },
    definitions: {
      AcceleratorConfig: {
        type: 'object',
        additionalProperties: false,
        properties: { AcceleratorMemorySize: { type: 'integer', enum: [3, 6, 12, 16, 24, 48] } },
        required: ['AcceleratorMemorySize'],
      },
    },
  },
};

/** Writes the patched schemas (see SCHEMA_PATCHES) into `dir`; the types it patched. */
function writePatchedSchemas(executable: string, dir: string): string[] {
  const python = path.join(path.dirname(executable), process.platform === 'win32' ? 'python.exe' : 'python');
  const located = spawnSync(python, ['-c', 'import cfnlint, os; print(os.path.dirname(cfnlint.__file__))'], { encoding: 'utf8' });
  if (located.status !== 0) throw new Error(`cannot locate cfn-lint's package with ${python}: ${located.stderr}`);
  const schemas = path.join(located.stdout.trim(), 'data', 'schemas');
  const hashes = JSON.parse(fs.readFileSync(path.join(schemas, 'providers', `${REGION}.json`), 'utf8')) as Record<string, string>;
  const patched: string[] = [];
  for (const [type, patch] of Object.entries(SCHEMA_PATCHES)) {
    const schema = JSON.parse(fs.readFileSync(path.join(schemas, 'resources', `${hashes[type]}.json`), 'utf8'));
    const missing = Object.keys(patch.properties).filter((p) => !(p in schema.properties));
    if (!missing.length) continue;
    for (const p of missing) schema.properties[p] = patch.properties[p];
    Object.assign(schema.definitions ??= {}, patch.definitions);
    fs.writeFileSync(path.join(dir, `${type.replace(/::/g, '-')}.json`), JSON.stringify(schema));
    patched.push(type);
  }
  return patched;
}

const accepts = (entry: AcceptedFinding, f: Finding) => entry.rule === f.rule
  && entry.resourceType === f.resourceType
  && entry.path.test(f.path)
  && entry.message.test(f.message)
  && (entry.dependsOnType === undefined || entry.dependsOnType === f.dependsOnType)
  && (entry.stacks === undefined || entry.stacks.includes(f.stack));

const describe_ = (f: Finding) => `${f.level} ${f.rule} in ${f.stack} at ${f.resource ? `${f.resource} (${f.resourceType}) ${f.path}` : f.path}: ${f.message}`;

/** The cfn-lint executable, set up if need be; a clear failure if it cannot be. */
function cfnLint(): string {
  const result = spawnSync(process.execPath, [SET_UP], { encoding: 'utf8', timeout: 10 * 60 * 1000 });
  const executable = result.stdout?.trim();
  if (result.status !== 0 || !executable || !fs.existsSync(executable)) {
    throw new Error(`cfn-lint could not be set up: run \`node scripts/python-tools.mjs\` and fix what it reports.\n${result.stderr ?? ''}${result.error?.message ?? ''}`);
  }
  return executable;
}

interface RawFinding {
  readonly Filename: string;
  readonly Level: string;
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: (string | number)[] };
}

type Template = { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

function normalize(raw: RawFinding, templates: Map<string, Template>): Finding {
  const stack = path.basename(raw.Filename).replace(/\.template\.json$/, '');
  const [section, resource, ...rest] = raw.Location.Path.map(String);
  const resources = templates.get(stack)?.Resources ?? {};
  const inResource = section === 'Resources' && resource !== undefined;
  const dependsOn = /^'(\w+)' dependency already enforced/.exec(raw.Message)?.[1];
  return {
    stack,
    level: raw.Level,
    rule: raw.Rule.Id,
    resource: inResource ? resource : undefined,
    resourceType: inResource ? resources[resource]?.Type : undefined,
    path: inResource ? rest.join('/') : raw.Location.Path.join('/'),
    message: raw.Message,
    dependsOnType: dependsOn ? resources[dependsOn]?.Type : undefined,
  };
}

let findings: Finding[];

beforeAll(() => {
  const executable = cfnLint();
  const { templates } = synthesizeCheckedStacks();
  const canary: Template = {
    Resources: {
      Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { ZipFile: 'x' }, Role: 'not-an-arn', Runtime: 'nodejs4.0', Handler: 'index.handler', MemorySize: 1 } },
      Gpu: {
        Type: 'AWS::Lambda::Function',
        Properties: { Code: { ImageUri: 'x' }, PackageType: 'Image', Role: 'arn:aws:iam::123456789012:role/r', AcceleratorConfig: { AcceleratorMemorySize: 5 } },
      },
      // A length limit of the resource schemas (IAM role names: 64 characters) and a dependency
      // cycle. (Not every documented limit is in the schemas: SNS display names, 100 characters,
      // are not; aws-cdk-lib checks that one at synth, and test/async-inference.test.ts our names.)
      Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'r'.repeat(65), AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [] } } },
      CycleA: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::GetAtt': ['CycleB', 'QueueName'] } } },
      CycleB: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::GetAtt': ['CycleA', 'QueueName'] } } },
    },
  };
  const all = new Map<string, Template>([...templates as Map<string, Template>, [CANARY, canary]]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-'));
  const schemaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-schemas-'));
  writePatchedSchemas(executable, schemaDir);
  const files = [...all].map(([id, template]) => {
    const file = path.join(dir, `${id}.template.json`);
    fs.writeFileSync(file, JSON.stringify(template, undefined, 1));
    return file;
  });
  // One process for every template: cfn-lint takes seconds to start.
  const result = spawnSync(executable, ['--format', 'json', '--regions', REGION, '--non-zero-exit-code', 'none', '--registry-schemas', schemaDir, '--', ...files], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 5 * 60 * 1000,
  });
  if (result.status !== 0) throw new Error(`cfn-lint failed (exit ${result.status ?? result.signal}): ${result.stderr}${result.error?.message ?? ''}`);
  findings = (JSON.parse(result.stdout) as RawFinding[]).map((raw) => normalize(raw, all));
}, 10 * 60 * 1000);

test('cfn-lint finds the errors of a broken template (it ran over the files and reported them)', () => {
  const rules = findings.filter((f) => f.stack === CANARY && f.level === 'Error').map((f) => f.rule);
  expect(rules).toEqual(expect.arrayContaining(['E3030', 'E3031', 'E3034']));
});

test('cfn-lint checks documented length limits and dependency cycles (what CloudFormation refuses at deploy)', () => {
  const of = (resource: string) => findings.filter((f) => f.stack === CANARY && f.resource === resource && f.level === 'Error').map((f) => `${f.rule} ${f.path}`);
  expect(of('Role')).toContain('E3033 Properties/RoleName');
  expect(of('CycleA').some((f) => f.startsWith('E3004'))).toBe(true);
});

test('a patched property is checked against its documented shape: AcceleratorMemorySize 5 is refused', () => {
  // GIVEN the canary's GPU function with an accelerator memory Lambda does not offer
  const gpu = findings.filter((f) => f.stack === CANARY && f.resource === 'Gpu');
  // THEN cfn-lint reports the value, not the property as unexpected (when the bundled
  // schema has the property, the patch is skipped and cfn-lint's own check applies)
  expect(gpu.map((f) => `${f.rule} ${f.path}`)).toContain('E3030 Properties/AcceleratorConfig/AcceleratorMemorySize');
  expect(gpu.filter((f) => f.rule === 'E3002')).toEqual([]);
});

test.each(CHECKED_STACKS.map(({ id }) => id))('%s: no cfn-lint errors, and no warnings but the accepted ones', (stack) => {
  const own = findings.filter((f) => f.stack === stack);
  const errors = own.filter((f) => f.level === 'Error');
  const warnings = own.filter((f) => f.level !== 'Error' && !ACCEPTED_WARNINGS.some((w) => accepts(w, f)));
  expect([...errors, ...warnings].map(describe_)).toEqual([]);
});

test.each(ACCEPTED_WARNINGS.map((entry) => [`${entry.rule} on ${entry.resourceType}`, entry] as const))(
  'the accepted finding %s still occurs (remove it from the list when it does not)', (_name, entry) => {
    const matched = findings.filter((f) => accepts(entry, f));
    expect(matched.length).toBeGreaterThan(0);
    for (const stack of entry.stacks ?? []) expect(matched.map((f) => f.stack)).toContain(stack);
  });
