// cdk-nag's compliance packs (HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1) over the
// stacks of the template checks (test/support/stacks.ts). These packs are not acknowledged in
// lib/: they ask for controls an operator chooses (KMS keys, VPCs, backups, WAF), so their
// findings are counted, rule by rule, and the counts are pinned below: a change of the
// constructs' defaults shows up here, and README.md's "Template checks" explains every rule.
import * as fs from 'fs';
import * as path from 'path';
import type { Stack } from 'aws-cdk-lib';
import { HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import type { NagPack } from 'cdk-nag';
import { EXAMPLE_STACKS, synthesizeCheckedStacks } from './support/stacks';

type Level = 'error' | 'warning';
/** A rule's level and its findings (resources, or resource and finding id) in the examples and in the combination stacks. */
type Count = readonly [level: Level, examples: number, combinations: number];

const PACKS = {
  HIPAASecurityChecks: () => new HIPAASecurityChecks(),
  NIST80053R5Checks: () => new NIST80053R5Checks(),
  PCIDSS321Checks: () => new PCIDSS321Checks(),
} as const;
type PackName = keyof typeof PACKS;

const EXPECTED: Record<PackName, Record<string, Count>> = {
  HIPAASecurityChecks: {
    'HIPAA.Security-APIGWCacheEnabledAndEncrypted': ['error', 2, 4],
    'HIPAA.Security-APIGWSSLEnabled': ['error', 2, 4],
    'HIPAA.Security-CloudWatchLogGroupEncrypted': ['error', 12, 20],
    'HIPAA.Security-DynamoDBInBackupPlan': ['error', 1, 4],
    'HIPAA.Security-IAMNoInlinePolicy': ['error', 13, 20],
    'HIPAA.Security-LambdaConcurrency': ['error', 9, 13],
    'HIPAA.Security-LambdaDLQ': ['error', 9, 13],
    'HIPAA.Security-LambdaInsideVPC': ['error', 9, 13],
    'HIPAA.Security-S3BucketLoggingEnabled': ['error', 1, 4],
    'HIPAA.Security-S3BucketReplicationEnabled': ['error', 5, 6],
    'HIPAA.Security-S3BucketVersioningEnabled': ['error', 5, 5],
    'HIPAA.Security-S3DefaultEncryptionKMS': ['error', 5, 4],
    'HIPAA.Security-VPCDefaultSecurityGroupClosed': ['warning', 0, 1],
    'HIPAA.Security-VPCNoUnrestrictedRouteToIGW': ['error', 2, 2],
    'HIPAA.Security-VPCSubnetAutoAssignPublicIpDisabled': ['error', 0, 2],
  },
  NIST80053R5Checks: {
    'NIST.800.53.R5-APIGWAssociatedWithWAF': ['error', 2, 4],
    'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted': ['error', 2, 4],
    'NIST.800.53.R5-APIGWSSLEnabled': ['error', 2, 4],
    'NIST.800.53.R5-CloudWatchLogGroupEncrypted': ['error', 12, 20],
    'NIST.800.53.R5-DynamoDBInBackupPlan': ['error', 1, 4],
    'NIST.800.53.R5-IAMNoInlinePolicy': ['error', 13, 20],
    'NIST.800.53.R5-LambdaConcurrency': ['error', 9, 13],
    'NIST.800.53.R5-LambdaDLQ': ['error', 9, 13],
    'NIST.800.53.R5-LambdaInsideVPC': ['error', 9, 13],
    'NIST.800.53.R5-S3BucketLoggingEnabled': ['error', 1, 4],
    'NIST.800.53.R5-S3BucketReplicationEnabled': ['error', 5, 6],
    'NIST.800.53.R5-S3BucketVersioningEnabled': ['error', 5, 5],
    'NIST.800.53.R5-S3DefaultEncryptionKMS': ['error', 5, 4],
    'NIST.800.53.R5-VPCDefaultSecurityGroupClosed': ['warning', 0, 1],
    'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW': ['error', 2, 2],
    'NIST.800.53.R5-VPCSubnetAutoAssignPublicIpDisabled': ['error', 0, 2],
  },
  PCIDSS321Checks: {
    'PCI.DSS.321-APIGWAssociatedWithWAF': ['error', 2, 4],
    'PCI.DSS.321-APIGWCacheEnabledAndEncrypted': ['error', 2, 4],
    'PCI.DSS.321-APIGWSSLEnabled': ['error', 2, 4],
    'PCI.DSS.321-CloudWatchLogGroupEncrypted': ['error', 12, 20],
    'PCI.DSS.321-IAMNoInlinePolicy': ['error', 13, 20],
    'PCI.DSS.321-LambdaInsideVPC': ['error', 9, 13],
    'PCI.DSS.321-S3BucketLoggingEnabled': ['error', 1, 4],
    'PCI.DSS.321-S3BucketReplicationEnabled': ['error', 5, 6],
    'PCI.DSS.321-S3BucketVersioningEnabled': ['error', 5, 5],
    'PCI.DSS.321-S3DefaultEncryptionKMS': ['error', 5, 4],
    'PCI.DSS.321-VPCDefaultSecurityGroupClosed': ['warning', 0, 1],
    'PCI.DSS.321-VPCNoUnrestrictedRouteToIGW': ['error', 2, 2],
    'PCI.DSS.321-VPCSubnetAutoAssignPublicIpDisabled': ['error', 0, 2],
  },
};

interface PackReport {
  readonly counts: Record<string, Count>;
  /** Findings of rules that threw instead of deciding (their counts would mean nothing). */
  readonly undecided: string[];
}

const EXAMPLES = new Set(EXAMPLE_STACKS.map(({ id }) => id));

/** Findings per rule id (a finding's `[detail]` dropped), split into examples and combinations. */
function report(pack: NagPack, stacks: Map<string, Stack>): PackReport {
  const counts: Record<string, [Level, number, number]> = {};
  const undecided: string[] = [];
  for (const [id, stack] of stacks) {
    for (const violation of pack.validateScope(stack).violations) {
      const rule = violation.ruleName.replace(/\[.*\]$/, '');
      const count = counts[rule] ??= [violation.severity as Level, 0, 0];
      count[EXAMPLES.has(id) ? 1 : 2] += violation.violatingResources.length;
      if (violation.description.startsWith('Rule threw an error')) {
        undecided.push(...violation.violatingResources.map((r) => `${violation.ruleName} on ${r.constructPath}`));
      }
    }
  }
  return { counts, undecided };
}

/** The README section that explains each rule. */
function readmeSection(): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Template checks');
  if (start < 0) return '';
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

let reports: Record<PackName, PackReport>;

beforeAll(() => {
  // Synthesized first: the packs then see the resources as aspects and synthesis left them.
  const { stacks } = synthesizeCheckedStacks();
  reports = Object.fromEntries(Object.entries(PACKS).map(([name, make]) => [name, report(make(), stacks)])) as Record<PackName, PackReport>;
}, 5 * 60 * 1000);

describe.each(Object.keys(PACKS) as PackName[])('%s', (pack) => {
  test('findings per rule are those of the table (update it, and README.md, with the change that moves them)', () => {
    expect(reports[pack].counts).toEqual(EXPECTED[pack]);
  });

  test('every rule decided (none threw on an unresolved value)', () => {
    expect(reports[pack].undecided).toEqual([]);
  });
});

test('README.md\'s "Template checks" says why each rule fires and what to do', () => {
  const section = readmeSection();
  const rules = new Set(Object.values(EXPECTED).flatMap((table) => Object.keys(table).map((rule) => rule.replace(/^.*-/, ''))));
  const missing = [...rules].filter((rule) => !section.includes(`| \`${rule}\``));
  expect(missing).toEqual([]);
});
