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
 * Errors reported (issue 14) and not fixed yet. Each entry must still occur: remove it with
 * the fix, and the check is back to no errors at all.
 */
const UNFIXED_ERRORS: AcceptedFinding[] = [
  {
    rule: 'E3002',
    resourceType: 'AWS::Lambda::Function',
    path: /^Properties\/AcceleratorConfig$/,
    message: /'AcceleratorConfig' was unexpected/,
    stacks: ['ServerlessTfGpu', 'CheckGpuInVpc'],
    reason: 'Compute.gpu sets AcceleratorConfig by a property override; no region\'s AWS::Lambda::Function schema in '
      + 'this cfn-lint has the property, so CloudFormation would refuse it as an unsupported property. Reported for lib/.',
  },
];

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
    },
  };
  const all = new Map<string, Template>([...templates as Map<string, Template>, [CANARY, canary]]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-'));
  const files = [...all].map(([id, template]) => {
    const file = path.join(dir, `${id}.template.json`);
    fs.writeFileSync(file, JSON.stringify(template, undefined, 1));
    return file;
  });
  // One process for every template: cfn-lint takes seconds to start.
  const result = spawnSync(executable, ['--format', 'json', '--regions', REGION, '--non-zero-exit-code', 'none', '--', ...files], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 5 * 60 * 1000,
  });
  if (result.status !== 0) throw new Error(`cfn-lint failed (exit ${result.status ?? result.signal}): ${result.stderr}${result.error?.message ?? ''}`);
  findings = (JSON.parse(result.stdout) as RawFinding[]).map((raw) => normalize(raw, all));
}, 10 * 60 * 1000);

test('cfn-lint finds the errors of a broken template (it ran over the files and reported them)', () => {
  const rules = findings.filter((f) => f.stack === CANARY && f.level === 'Error').map((f) => f.rule);
  expect(rules).toEqual(expect.arrayContaining(['E3030', 'E3031', 'E3034']));
});

test.each(CHECKED_STACKS.map(({ id }) => id))('%s: no cfn-lint errors, and no warnings but the accepted ones', (stack) => {
  const own = findings.filter((f) => f.stack === stack);
  const errors = own.filter((f) => f.level === 'Error' && !UNFIXED_ERRORS.some((e) => accepts(e, f)));
  const warnings = own.filter((f) => f.level !== 'Error' && !ACCEPTED_WARNINGS.some((w) => accepts(w, f)));
  expect([...errors, ...warnings].map(describe_)).toEqual([]);
});

test.each([...ACCEPTED_WARNINGS, ...UNFIXED_ERRORS].map((entry) => [`${entry.rule} on ${entry.resourceType}`, entry] as const))(
  'the accepted finding %s still occurs (remove it from the list when it does not)', (_name, entry) => {
    const matched = findings.filter((f) => accepts(entry, f));
    expect(matched.length).toBeGreaterThan(0);
    for (const stack of entry.stacks ?? []) expect(matched.map((f) => f.stack)).toContain(stack);
  });
