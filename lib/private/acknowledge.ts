// cdk-nag (3.x, through aws-cdk-lib's Validations) matches acknowledgements by exact
// finding id, e.g. `AwsSolutions-IAM5[Resource::<LogGroup.Arn>:*]`. These helpers build
// those ids the way cdk-nag flattens CloudFormation references, so each acknowledgement
// covers one known finding and nothing else. The library does not depend on cdk-nag.
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** cdk-nag's flattening of a resolved reference: Ref -> <X>, GetAtt -> <X.Y>, Join joined. */
function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const o = node as Record<string, unknown>;
  if (o['Fn::Join']) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if (o['Fn::Sub']) return flatten(o['Fn::Sub']);
  if (o['Fn::GetAtt']) {
    const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (o['Fn::ImportValue']) return flatten(o['Fn::ImportValue']);
  if (o.Ref) return `<${flatten(o.Ref)}>`;
  return JSON.stringify(node);
}

/** Acknowledges the IAM5 finding of one wildcard resource granted to `principal`. */
export function acknowledgeWildcardResource(principal: IConstruct, resource: string, reason: string): void {
  const flat = flatten(Stack.of(principal).resolve(resource));
  Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
}

/**
 * Acknowledges the IAM5 findings of wildcard actions (e.g. `kms:GenerateDataKey*`) granted to
 * `principal`. cdk-nag names such a finding by the action alone, so the acknowledgement covers
 * that action in every statement of the principal's policies: use it only for a grant that
 * needs the wildcard, and say why in `reason`.
 */
export function acknowledgeWildcardActions(principal: IConstruct, actions: string[], reason: string): void {
  Validations.of(principal).acknowledge(...actions.map((action) => ({ id: `AwsSolutions-IAM5[Action::${action}]`, reason })));
}

/** Acknowledges the IAM4 finding of one AWS managed policy attached to a role under `scope`. */
export function acknowledgeManagedPolicy(scope: IConstruct, policyName: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policyName}]`, reason });
}
