// AsyncInference: what each prop changes in the template, each synth-time error, and
// cdk-nag AwsSolutions on the /jobs routes of an HTTP API (the async example stack's
// snapshot and cdk-nag run are in examples.test.ts).
import { App, CfnElement, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  ApiAuthorization, AsyncInference, HttpApiAuthorization, InferenceApi, InferenceHttpApi, InferenceMonitoring, JobNotification, Model,
  RuntimeEnvironment, TensorFlowFunction,
} from '../lib';
import type { AsyncInferenceProps, TensorFlowFunctionProps } from '../lib';
import { classifierWith, envOf, layersModelDir, nagReport, newStack, statementsOf } from './support';
import { visibilityTimeoutFor } from '../lib/private/queue-feed';

const UPLOAD_EXPIRY_ENV = 'SERVERLESS_TF_JOBS_UPLOAD_EXPIRY_SECONDS';

/** A function with a timeout long enough for jobs; `props` override. */
const classifier = classifierWith({ timeout: Duration.minutes(5) });

/** A function with jobs; `props` are AsyncInference's, `fnProps` the function's. */
function withJobs(props: Partial<AsyncInferenceProps> = {}, fnProps: Partial<TensorFlowFunctionProps> = {}) {
  const stack = newStack();
  const fn = classifier(stack, fnProps);
  const jobs = new AsyncInference(stack, 'Jobs', { function: fn, ...props });
  return { stack, fn, jobs, template: Template.fromStack(stack) };
}

const ref = (prefix: string) => ({ Ref: Match.stringLikeRegexp(`^${prefix}`) });

/** A function with jobs on an InferenceHttpApi of the same function, authorized by `authorization(stack)`. */
function withHttpJobs(authorization: (stack: Stack) => HttpApiAuthorization, stack = newStack()) {
  const fn = classifier(stack);
  const httpApi = new InferenceHttpApi(stack, 'HttpApi', { function: fn, authorization: authorization(stack) });
  const jobs = new AsyncInference(stack, 'Jobs', { function: fn, httpApi });
  return { stack, fn, httpApi, jobs };
}

/** The properties of the HTTP API route with this key (e.g. `POST /jobs`); exactly one must exist. */
function httpRoute(template: Template, routeKey: string): Record<string, unknown> {
  const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  expect(routes).toHaveLength(1);
  return routes[0].Properties as Record<string, unknown>;
}

const arn = (prefix: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${prefix}`), 'Arn'] });

describe('defaults', () => {
  test('a jobs table: on demand, pk String, TTL on expiresAt, point-in-time recovery, AWS managed encryption, deleted with the stack', () => {
    const { template } = withJobs();
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: Match.absent(), KMSMasterKeyId: Match.absent() },
      },
      DeletionPolicy: 'Retain',
    });
  });

  test('a bucket: SSE-S3, TLS only, no public access, no CORS; uploads expire after a day and jobs after 7 days; kept when it leaves the stack (callers\' data)', () => {
    const { template } = withJobs();
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        CorsConfiguration: Match.absent(),
        LoggingConfiguration: Match.absent(),
        LifecycleConfiguration: {
          Rules: [
            { Id: 'ExpireUploads', Prefix: 'jobs/uploads/', ExpirationInDays: 1, Status: 'Enabled' },
            { Id: 'ExpireJobs', Prefix: 'jobs/', ExpirationInDays: 7, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
          ],
        },
      },
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('uploads (ObjectCreated under jobs/uploads/) notify the jobs queue, which lets only this bucket send', () => {
    const { template } = withJobs();
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: ref('JobsBucket'),
      NotificationConfiguration: {
        QueueConfigurations: [{
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'jobs/uploads/' }] } },
          QueueArn: arn('JobsQueue'),
        }],
      },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref('JobsQueue')],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow',
          Principal: { Service: 's3.amazonaws.com' },
          Action: Match.arrayWith(['sqs:SendMessage']),
          Condition: { ArnLike: { 'aws:SourceArn': arn('JobsBucket') } },
        })]),
      },
    });
  });

  test('an SSE-SQS queue and dead-letter queue, TLS only; jobs move to the DLQ after 3 receives; visibility is 6x the function timeout', () => {
    const { template, jobs } = withJobs();
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 1800,
      RedrivePolicy: { deadLetterTargetArn: arn('JobsDeadLetterQueue'), maxReceiveCount: 3 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600, RedrivePolicy: Match.absent() });
    for (const queue of ['JobsQueue', 'JobsDeadLetterQueue']) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queue)],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
    expect(jobs.visibilityTimeout.toSeconds()).toBe(1800);
  });

  test('the queue drives the `live` alias, one job per invocation, with partial batch failures, at most 10 at once (a bounded share of the function)', () => {
    const { template } = withJobs();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arn('JobsQueue'),
      FunctionName: { 'Fn::Join': ['', Match.arrayWith([':live'])] },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  test('the runtime learns the table, bucket, queue, retention and upload expiry from its environment', () => {
    const { template } = withJobs();
    const env = envOf(template);
    expect(env).toMatchObject({
      [RuntimeEnvironment.JOBS_TABLE]: { Ref: expect.stringMatching(/^JobsTable/) },
      [RuntimeEnvironment.JOBS_BUCKET]: { Ref: expect.stringMatching(/^JobsBucket/) },
      [RuntimeEnvironment.JOBS_QUEUE_URL]: { Ref: expect.stringMatching(/^JobsQueue/) },
      [RuntimeEnvironment.JOBS_TTL_DAYS]: '7',
      [UPLOAD_EXPIRY_ENV]: '900',
    });
    expect(env[RuntimeEnvironment.JOBS_TOPIC_ARN]).toBeUndefined();
    expect(env[RuntimeEnvironment.JOBS_EVENT_BUS]).toBeUndefined();
  });

  test('least privilege: items of the table, objects under jobs/ (delete under jobs/inputs/ only), send to and consume from the queue', () => {
    const { template } = withJobs();
    const statements = statementsOf(template);
    expect(statements).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Resource: [{ 'Fn::GetAtt': [expect.stringMatching(/^JobsTable/), 'Arn'] }] },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^JobsBucket/), 'Arn'] }, '/jobs/*']] } },
      { Effect: 'Allow', Action: 's3:DeleteObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^JobsBucket/), 'Arn'] }, '/jobs/inputs/*']] } },
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:SendMessage']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^JobsQueue/), 'Arn'] } }),
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^JobsQueue/), 'Arn'] } }),
    ]));
    const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => /^(kms|sns|events|dynamodb:(Scan|Query|BatchWriteItem))/.test(a))).toEqual([]);
    expect(actions).not.toContain('s3:*');
  });

  test('no API routes and no notification unless asked', () => {
    const { template, jobs } = withJobs();
    template.resourceCountIs('AWS::ApiGateway::Method', 0);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(jobs.topic).toBeUndefined();
    expect(jobs.eventBus).toBeUndefined();
  });

  test('exposes its resources', () => {
    const { jobs, template } = withJobs();
    const ids = (type: string) => Object.keys(template.findResources(type));
    const stack = Stack.of(jobs);
    expect(ids('AWS::DynamoDB::Table')).toEqual([stack.getLogicalId(jobs.table.node.defaultChild as CfnElement)]);
    expect(ids('AWS::S3::Bucket')).toContain(stack.getLogicalId(jobs.bucket.node.defaultChild as CfnElement));
    expect(ids('AWS::SQS::Queue').sort()).toEqual([jobs.queue, jobs.deadLetterQueue].map((q) => stack.getLogicalId(q.node.defaultChild as CfnElement)).sort());
    expect(ids('AWS::Lambda::EventSourceMapping')).toHaveLength(1);
    expect(jobs.resultRetentionDays).toBe(7);
  });
});

describe('the visibility timeout follows the function timeout', () => {
  test.each([
    [Duration.seconds(3), 30, 'at least 30 s'],
    [Duration.seconds(30), 180, '6x'],
    [Duration.minutes(5), 1800, '6x'],
    [Duration.minutes(15), 5400, '6x Lambda\'s longest timeout'],
  ])('a %s timeout gives %i s (%s)', (timeout, seconds) => {
    const { template } = withJobs({}, { timeout });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: seconds, RedrivePolicy: Match.anyValue() });
  });

  test('a token timeout is taken as 15 minutes (90 minutes visibility); the result never exceeds SQS\'s 12 hours', () => {
    expect(visibilityTimeoutFor(Duration.seconds(Token.asNumber({ Ref: 'Timeout' }))).toSeconds()).toBe(5400);
    expect(visibilityTimeoutFor(Duration.hours(3)).toSeconds()).toBe(12 * 3600);
  });
});

describe('warnings', () => {
  test('a function timeout under a minute is short for async work', () => {
    const { stack } = withJobs({}, { timeout: Duration.seconds(30) });
    Annotations.fromStack(stack).hasWarning('/Test/Jobs', Match.stringLikeRegexp('timeout is 30 seconds.*Raise the function\'s timeout'));
  });

  test('none with a timeout of a minute or more', () => {
    const { stack } = withJobs({}, { timeout: Duration.minutes(1) });
    Annotations.fromStack(stack).hasNoWarning('/Test/Jobs', Match.anyValue());
  });
});

describe('props', () => {
  test('resultRetention sets the TTL the runtime writes and the expiry of jobs/ objects', () => {
    const { template, jobs } = withJobs({ resultRetention: Duration.days(30) });
    expect(envOf(template)[RuntimeEnvironment.JOBS_TTL_DAYS]).toBe('30');
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'ExpireJobs', Prefix: 'jobs/', ExpirationInDays: 30 })]) },
    });
    expect(jobs.resultRetentionDays).toBe(30);
  });

  test('uploadExpiry sets the presigned upload URL lifetime', () => {
    const { template } = withJobs({ uploadExpiry: Duration.hours(1) });
    expect(envOf(template)[UPLOAD_EXPIRY_ENV]).toBe('3600');
  });

  test('uploadCorsOrigins lets browsers PUT uploads and GET results', () => {
    const { template } = withJobs({ uploadCorsOrigins: ['https://app.example.com', 'http://localhost:3000'] });
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [{
          AllowedOrigins: ['https://app.example.com', 'http://localhost:3000'],
          AllowedMethods: ['PUT', 'GET'],
          AllowedHeaders: ['*'],
          ExposedHeaders: ['ETag'],
          MaxAge: 3000,
        }],
      },
    });
  });

  test('encryptionKey encrypts the table, the bucket (with a bucket key) and a created topic; the function may use the key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const jobs = new AsyncInference(stack, 'Jobs', { function: classifier(stack), encryptionKey: key, notification: JobNotification.sns() });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: arn('Key') } });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arn('Key') }, BucketKeyEnabled: true }] },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: arn('Key') });
    expect(statementsOf(template)).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] } }),
    ]));
    expect(jobs.table.encryptionKey).toBe(key);
  });

  test('queueEncryptionKey encrypts both queues; S3 may use it to send upload notifications; the function may use it', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'QueueKey', { enableKeyRotation: true });
    new AsyncInference(stack, 'Jobs', { function: classifier(stack), queueEncryptionKey: key });
    const template = Template.fromStack(stack);
    const queues = template.findResources('AWS::SQS::Queue');
    expect(Object.values(queues).map((q) => q.Properties.KmsMasterKeyId)).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^QueueKey/), 'Arn'] },
      { 'Fn::GetAtt': [expect.stringMatching(/^QueueKey/), 'Arn'] },
    ]);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 's3.amazonaws.com' }, Action: Match.arrayWith(['kms:GenerateDataKey*', 'kms:Decrypt']) })]) },
    });
    // A producer's key actions (SQS documents GenerateDataKey and Decrypt), no wildcards.
    expect(statementsOf(template)).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^QueueKey/), 'Arn'] } },
    ]));
  });

  test('maxReceiveCount, batchSize and maxConcurrency shape the redrive policy and the event source', () => {
    const { template } = withJobs({ maxReceiveCount: 5, batchSize: 4, maxConcurrency: 20 });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 4, ScalingConfig: { MaximumConcurrency: 20 }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  test('removalPolicy DESTROY (opt-in) deletes the table and the bucket, emptied first', () => {
    const { template } = withJobs({ removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  test('serverAccessLogsBucket logs requests to the jobs bucket under a prefix of its own', () => {
    const stack = newStack();
    const logs = new s3.Bucket(stack, 'AccessLogs');
    new AsyncInference(stack, 'Jobs', { function: classifier(stack), serverAccessLogsBucket: logs });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: ref('AccessLogs'), LogFilePrefix: Match.stringLikeRegexp('Jobs[0-9A-F]{8}/$') },
    });
  });
});

describe('notifications', () => {
  test('JobNotification.sns() creates a TLS-only topic encrypted with the AWS managed key; the function may publish to it', () => {
    const { template, jobs } = withJobs({ notification: JobNotification.sns() });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: 'alias/aws/sns' });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
    expect(envOf(template)[RuntimeEnvironment.JOBS_TOPIC_ARN]).toEqual({ Ref: expect.stringMatching(/^JobsNotificationTopic/) });
    expect(statementsOf(template)).toEqual(expect.arrayContaining([{ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: expect.stringMatching(/^JobsNotificationTopic/) } }]));
    expect(statementsOf(template).flatMap((s) => [s.Action].flat())).not.toEqual(expect.arrayContaining([expect.stringMatching(/^kms:/)]));
    expect(jobs.topic?.node.path).toMatch(/\/Jobs\/NotificationTopic$/);
  });

  test('the topic display name stays within SNS\'s 100 characters under a long construct path, keeping the path\'s end', () => {
    const stack = newStack();
    let scope: Construct = stack;
    for (const id of ['ProductionInferencePlatform', 'ImageModerationService', 'EuropeanRegionDeployment', 'AsynchronousWorkloads']) scope = new Construct(scope, id);
    new AsyncInference(scope, 'ContentModerationJobs', { function: classifier(stack), notification: JobNotification.sns() });
    const topics = Template.fromStack(stack).findResources('AWS::SNS::Topic');
    const names = Object.values(topics).map((r) => (r as { Properties: { DisplayName: string } }).Properties.DisplayName);
    expect(names).toHaveLength(1);
    expect(names[0].length).toBeLessThanOrEqual(100);
    expect(names[0]).toMatch(/^Asynchronous inference jobs of \.\.\..*\/AsynchronousWorkloads\/ContentModerationJobs$/);
    const { template } = withJobs({ notification: JobNotification.sns() });
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'Asynchronous inference jobs of Test/Jobs' });
  });

  test('JobNotification.sns(topic) publishes to the given topic and creates none', () => {
    const stack = newStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:us-east-1:123456789012:jobs-done');
    const jobs = new AsyncInference(stack, 'Jobs', { function: classifier(stack), notification: JobNotification.sns(topic) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(envOf(template)[RuntimeEnvironment.JOBS_TOPIC_ARN]).toBe('arn:aws:sns:us-east-1:123456789012:jobs-done');
    expect(statementsOf(template)).toEqual(expect.arrayContaining([{ Effect: 'Allow', Action: 'sns:Publish', Resource: 'arn:aws:sns:us-east-1:123456789012:jobs-done' }]));
    expect(jobs.topic).toBe(topic);
  });

  test('JobNotification.eventBridge() puts events on the default bus', () => {
    const { template, jobs } = withJobs({ notification: JobNotification.eventBridge() });
    expect(envOf(template)[RuntimeEnvironment.JOBS_EVENT_BUS]).toBe('default');
    expect(envOf(template)[RuntimeEnvironment.JOBS_TOPIC_ARN]).toBeUndefined();
    expect(statementsOf(template)).toEqual(expect.arrayContaining([{
      Effect: 'Allow',
      Action: 'events:PutEvents',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:123456789012:event-bus/default']] },
    }]));
    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(jobs.eventBus?.eventBusName).toBe('default');
  });

  test('JobNotification.eventBridge(bus) puts events on the given bus', () => {
    const stack = newStack();
    const bus = new events.EventBus(stack, 'Bus');
    new AsyncInference(stack, 'Jobs', { function: classifier(stack), notification: JobNotification.eventBridge(bus) });
    const template = Template.fromStack(stack);
    expect(envOf(template)[RuntimeEnvironment.JOBS_EVENT_BUS]).toEqual({ Ref: expect.stringMatching(/^Bus/) });
    expect(statementsOf(template)).toEqual(expect.arrayContaining([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bus/), 'Arn'] } }]));
  });
});

describe('API routes', () => {
  const integration = {
    Type: 'AWS_PROXY',
    IntegrationHttpMethod: 'POST',
    Uri: { 'Fn::Join': ['', Match.arrayWith([ref('FnLiveAlias'), '/invocations'])] },
  };

  test('on an InferenceApi: POST /jobs and GET /jobs/{id} integrate the `live` alias (Lambda proxy) with the API\'s authorization and timeout', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const api = new InferenceApi(stack, 'Api', { function: fn, authorization: ApiAuthorization.iam() });
    new AsyncInference(stack, 'Jobs', { function: fn, api });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'jobs', ParentId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Api'), 'RootResourceId'] } });
    const jobs = template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: 'jobs' } });
    const [jobsId] = Object.keys(jobs);
    const [idId] = Object.keys(template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: '{id}', ParentId: { Ref: jobsId } } }));
    const timed = { ...integration, TimeoutInMillis: api.integrationTimeout.toMilliseconds() };
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: { Ref: jobsId }, AuthorizationType: 'AWS_IAM', Integration: timed });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      ResourceId: { Ref: idId },
      AuthorizationType: 'AWS_IAM',
      RequestParameters: { 'method.request.path.id': true },
      Integration: timed,
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: ref('FnLiveAlias'),
      Principal: 'apigateway.amazonaws.com',
      SourceArn: { 'Fn::Join': ['', Match.arrayWith(['/POST/jobs'])] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', { FunctionName: ref('FnLiveAlias'), SourceArn: { 'Fn::Join': ['', Match.arrayWith(['/GET/jobs/*'])] } });
  });

  test('on an InferenceApi with API keys, the job routes require the key too', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const api = new InferenceApi(stack, 'Api', { function: fn, authorization: ApiAuthorization.apiKey() });
    new AsyncInference(stack, 'Jobs', { function: fn, api });
    const template = Template.fromStack(stack);
    const [jobsId] = Object.keys(template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: 'jobs' } }));
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: { Ref: jobsId }, ApiKeyRequired: true, AuthorizationType: 'NONE' });
  });

  test('on a REST API of your own: the same routes, with its default method options', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const api = new apigw.RestApi(stack, 'Api', { defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM } });
    api.root.addMethod('ANY');
    new AsyncInference(stack, 'Jobs', { function: fn, restApi: api });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: ref('Apijobs'), AuthorizationType: 'AWS_IAM', Integration: integration });
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'GET', ResourceId: ref('Apijobsid'), AuthorizationType: 'AWS_IAM', Integration: integration });
  });

  describe('on an InferenceHttpApi', () => {
    const JOB_ROUTES = ['POST /jobs', 'GET /jobs/{id}'];

    test('POST /jobs and GET /jobs/{id} are routes of that HTTP API, signed with SigV4 like its inference routes, through its integration of the `live` alias', () => {
      const { stack } = withHttpJobs(() => HttpApiAuthorization.iam());
      const template = Template.fromStack(stack);
      // One integration (of the alias) serves the inference routes and the job routes alike.
      template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        ApiId: ref('HttpApi'), IntegrationType: 'AWS_PROXY', IntegrationUri: ref('FnLiveAlias'), PayloadFormatVersion: '2.0', TimeoutInMillis: 29000,
      });
      const [integrationId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Integration'));
      for (const key of JOB_ROUTES) {
        expect(httpRoute(template, key)).toEqual({
          ApiId: { Ref: expect.stringMatching(/^HttpApi/) },
          RouteKey: key,
          AuthorizationType: 'AWS_IAM',
          Target: { 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] },
        });
      }
      expect(Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties.AuthorizationType)).toEqual(Array(10).fill('AWS_IAM'));
      template.resourceCountIs('AWS::ApiGateway::Method', 0);
    });

    test('the HTTP API may invoke the `live` alias on every route, /jobs included, through one permission', () => {
      const { stack } = withHttpJobs(() => HttpApiAuthorization.iam());
      const template = Template.fromStack(stack);
      const permissions = template.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'apigateway.amazonaws.com' } });
      expect(Object.values(permissions).map((p) => p.Properties)).toEqual([{
        Action: 'lambda:InvokeFunction',
        FunctionName: { Ref: expect.stringMatching(/^FnLiveAlias/) },
        Principal: 'apigateway.amazonaws.com',
        SourceArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:us-east-1:123456789012:', { Ref: expect.stringMatching(/^HttpApi/) }, '/*/*/*']] },
      }]);
    });

    test('grantInvoke of an IAM-authorized HTTP API covers the job routes', () => {
      const { stack, httpApi } = withHttpJobs(() => HttpApiAuthorization.iam());
      const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
      httpApi.grantInvoke(caller);
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        Roles: [ref('Caller')],
        PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke', Resource: { 'Fn::Join': ['', Match.arrayWith([ref('HttpApi'), '/*/*/*'])] } })] },
      });
    });

    test('with Cognito (JWT) authorization, the job routes carry the same authorizer and scopes', () => {
      const { stack } = withHttpJobs((s) => HttpApiAuthorization.cognito(
        cognito.UserPool.fromUserPoolArn(s, 'Pool', 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example'),
        [cognito.UserPoolClient.fromUserPoolClientId(s, 'Client', 'client123')],
        ['inference/jobs'],
      ));
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      const [authorizerId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer', { Properties: { AuthorizerType: 'JWT', JwtConfiguration: { Audience: ['client123'] } } }));
      const inference = httpRoute(template, 'POST /classify');
      for (const key of JOB_ROUTES) {
        const route = httpRoute(template, key);
        expect(route).toEqual(expect.objectContaining({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId }, AuthorizationScopes: ['inference/jobs'] }));
        expect([route.AuthorizerId, route.AuthorizationScopes]).toEqual([inference.AuthorizerId, inference.AuthorizationScopes]);
      }
    });

    test('with no authorization, the job routes are open too', () => {
      const { stack } = withHttpJobs(() => HttpApiAuthorization.none());
      const template = Template.fromStack(stack);
      // No AuthorizerId and no scopes: exactly these properties.
      for (const key of JOB_ROUTES) {
        expect(httpRoute(template, key)).toEqual({ ApiId: { Ref: expect.stringMatching(/^HttpApi/) }, RouteKey: key, AuthorizationType: 'NONE', Target: expect.anything() });
      }
    });

    test('the job routes exist once: adding them again through addRoutes names the duplicate', () => {
      const { httpApi } = withHttpJobs(() => HttpApiAuthorization.iam());
      expect(() => httpApi.addRoutes({ path: '/jobs/{id}', methods: [apigwv2.HttpMethod.GET] }))
        .toThrow(/^Test\/HttpApi: the route GET \/jobs\/\{id\} already exists on this HTTP API: add each route once\./);
      expect(() => httpApi.addRoutes({ path: '/jobs', methods: [] })).toThrow(/addRoutes for \/jobs needs at least one method, e\.g\. \[HttpMethod\.POST\]; got none\./);
    });

    test.each<[string, () => HttpApiAuthorization]>([
      ['IAM', () => HttpApiAuthorization.iam()],
      ['none (APIG4 acknowledged: the user opted in)', () => HttpApiAuthorization.none()],
    ])('cdk-nag AwsSolutions: no unacknowledged findings, %s', (_name, authorization) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      withHttpJobs(authorization, new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } }));
      expect(nagReport(app)).toBe('');
    });
  });

  test('a /jobs resource that already exists is reused', () => {
    const stack = newStack();
    const api = new apigw.RestApi(stack, 'Api');
    api.root.addResource('jobs').addMethod('OPTIONS', new apigw.MockIntegration());
    new AsyncInference(stack, 'Jobs', { function: classifier(stack), restApi: api });
    const template = Template.fromStack(stack);
    expect(Object.keys(template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: 'jobs' } }))).toHaveLength(1);
    template.resourceCountIs('AWS::ApiGateway::Method', 3);
  });
});

describe('synth-time errors', () => {
  test.each<[string, () => Partial<AsyncInferenceProps>, RegExp]>([
    ['retention in hours', () => ({ resultRetention: Duration.hours(36) }), /resultRetention must be a whole number of days from 1 to 3650.*got 1 day 12 hours/],
    ['retention of zero days', () => ({ resultRetention: Duration.days(0) }), /resultRetention must be a whole number of days from 1 to 3650.*got 0 days/],
    ['retention over ten years', () => ({ resultRetention: Duration.days(4000) }), /resultRetention must be a whole number of days from 1 to 3650.*got 4000 days/],
    ['upload expiry over 12 hours', () => ({ uploadExpiry: Duration.hours(13) }), /uploadExpiry must be a whole number of seconds from 1 second to 12 hours.*got 13 hours/],
    ['upload expiry in fractions of a second', () => ({ uploadExpiry: Duration.millis(1500) }), /uploadExpiry must be a whole number of seconds/],
    ['zero receives', () => ({ maxReceiveCount: 0 }), /maxReceiveCount must be a whole number from 1 to 1000 \(SQS redrive policy\); got 0/],
    ['a batch of 11', () => ({ batchSize: 11 }), /batchSize must be a whole number from 1 to 10 .*; got 11/],
    ['a concurrency of 1', () => ({ maxConcurrency: 1 }), /maxConcurrency must be a whole number from 2 to 1000 .*; got 1/],
    ['no CORS origins', () => ({ uploadCorsOrigins: [] }), /uploadCorsOrigins must name at least one origin/],
    ['a CORS origin without scheme', () => ({ uploadCorsOrigins: ['app.example.com'] }), /uploadCorsOrigins: "app\.example\.com" is not an origin/],
    ['both api and restApi', () => ({ api: {} as InferenceApi, restApi: {} as apigw.IRestApi }), /give one of api \(an InferenceApi\), restApi \(a REST API of your own\) or httpApi \(an InferenceHttpApi\), not api and restApi: the \/jobs routes go on one API/],
    ['both api and httpApi', () => ({ api: {} as InferenceApi, httpApi: {} as InferenceHttpApi }), /give one of api .* or httpApi \(an InferenceHttpApi\), not api and httpApi/],
    ['both restApi and httpApi', () => ({ restApi: {} as apigw.IRestApi, httpApi: {} as InferenceHttpApi }), /give one of api .* or httpApi \(an InferenceHttpApi\), not restApi and httpApi/],
    ['a CORS origin with a path', () => ({ uploadCorsOrigins: ['https://app.example.com/upload'] }), /uploadCorsOrigins: "https:\/\/app\.example\.com\/upload" is not an origin/],
  ])('%s', (_what, props, message) => {
    const stack = newStack();
    const fn = classifier(stack);
    expect(() => new AsyncInference(stack, 'Jobs', { function: fn, ...props() })).toThrow(message);
  });

  test('an httpApi that fronts another function', () => {
    const stack = newStack();
    const fn = classifier(stack);
    const other = new TensorFlowFunction(stack, 'Other', { model: Model.fromAsset(layersModelDir()) });
    const httpApi = new InferenceHttpApi(stack, 'HttpApi', { function: other, authorization: HttpApiAuthorization.iam() });
    expect(() => new AsyncInference(stack, 'Jobs', { function: fn, httpApi }))
      .toThrow(/^Test\/Jobs: httpApi fronts Test\/Other, not Test\/Fn: its routes reach only the function it fronts.*Give an InferenceHttpApi of Test\/Fn, or an AsyncInference of Test\/Other\./);
  });

  test('a second AsyncInference on the same function', () => {
    const stack = newStack();
    const fn = classifier(stack);
    new AsyncInference(stack, 'Jobs', { function: fn });
    expect(() => new AsyncInference(stack, 'MoreJobs', { function: fn }))
      .toThrow(/^Test\/MoreJobs: Test\/Fn already has SERVERLESS_TF_JOBS_TABLE set to another value by Test\/Jobs \(AsyncInference\).*Give Test\/MoreJobs a TensorFlowFunction of its own\.$/);
  });

  test('a jobs variable already set, differently, through the function\'s environment prop', () => {
    const stack = newStack();
    const fn = classifier(stack, { environment: { [RuntimeEnvironment.JOBS_TTL_DAYS]: '3' } });
    expect(() => new AsyncInference(stack, 'Jobs', { function: fn })).toThrow(/already has SERVERLESS_TF_JOBS_TTL_DAYS set/);
  });

  test('the same value set through the environment prop is accepted', () => {
    const stack = newStack();
    const fn = classifier(stack, { environment: { [RuntimeEnvironment.JOBS_TTL_DAYS]: '7' } });
    expect(() => new AsyncInference(stack, 'Jobs', { function: fn })).not.toThrow();
  });
});

describe('monitor()', () => {
  test('one line monitors the function, the jobs queue and its dead letters', () => {
    const { stack, jobs } = withJobs();
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const alarms = jobs.monitor(monitoring);
    const functionAlarms = monitoring.addFunction(jobs.function);
    expect(alarms).toHaveLength(functionAlarms.length + 2);
  });
});
