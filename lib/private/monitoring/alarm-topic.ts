// The alarm topic created when none is given: encrypted (cdk-nag SNS2), TLS-only (SNS3),
// and open to CloudWatch alarms of this account.
//
// Not the AWS managed key alias/aws/sns: its key policy cannot be changed and does not let
// CloudWatch use it, so alarms could not publish. A customer managed key with rotation,
// whose policy lets CloudWatch encrypt, is created unless one is given.
import { Annotations, ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

export function createAlarmTopic(scope: Construct, encryptionKey?: kms.IKey): sns.Topic {
  const key = encryptionKey ?? new kms.Key(scope, 'AlarmTopicKey', {
    description: `Encrypts the inference alarm topic of ${scope.node.path}`,
    enableKeyRotation: true,
  });
  const stack = Stack.of(scope);
  const fromAlarmsOfThisAccount = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
  };
  const granted = key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: fromAlarmsOfThisAccount,
  }), true);
  if (!granted.statementAdded) {
    Annotations.of(scope).addWarningV2('cdk-serverless-tensorflow:AlarmTopicKeyPolicy',
      'The alarm topic key is imported: make sure its key policy allows cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, or alarms cannot publish to the topic.');
  }
  const topic = new sns.Topic(scope, 'AlarmTopic', {
    displayName: 'TensorFlow inference alarms',
    masterKey: key,
    enforceSSL: true,
  });
  topic.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: fromAlarmsOfThisAccount,
  }));
  return topic;
}
