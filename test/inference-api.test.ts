// The HTTP front doors of a TensorFlowFunction: InferenceApi (REST API), InferenceHttpApi
// (HTTP API) and InferenceFunctionUrl. What each prop changes in the template, each
// synth-time error, cdk-nag AwsSolutions with every finding acknowledged for a reason,
// and the api example's snapshot.
import * as fs from 'fs';
import { App, CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  ApiAuthorization, ApiEndpoint, HttpApiAuthorization, InferenceApi, InferenceApiProps, InferenceFunctionUrl, InferenceHttpApi, InferenceHttpApiProps,
  InferenceMonitoring, Model, TensorFlowFunction,
} from '../lib';
import { layersModelDir, newStack } from './support';

const MODEL_DIR = layersModelDir();
const WEB_ACL_ARN = 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/inference/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab';
const POOL_ARN = 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example';
const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';

/** Interface VPC endpoints for execute-api, imported by id. */
function vpcEndpoints(stack: Stack, ...ids: string[]): ec2.IInterfaceVpcEndpoint[] {
  return ids.map((id) => ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, id, { vpcEndpointId: id, port: 443 }));
}

function newFunction(stack: Stack, timeout?: Duration): TensorFlowFunction {
  return new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(MODEL_DIR), modelName: 'demo', timeout });
}

/** A stack with a function and an InferenceApi made with `props` (the function filled in). */
function restApi(props: Omit<InferenceApiProps, 'function'>, timeout?: Duration): { stack: Stack; api: InferenceApi; template: Template } {
  const stack = newStack();
  const api = new InferenceApi(stack, 'Api', { function: newFunction(stack, timeout), ...props });
  return { stack, api, template: Template.fromStack(stack) };
}

function httpApi(props: Omit<InferenceHttpApiProps, 'function'>, timeout?: Duration): { stack: Stack; api: InferenceHttpApi; template: Template } {
  const stack = newStack();
  const api = new InferenceHttpApi(stack, 'Api', { function: newFunction(stack, timeout), ...props });
  return { stack, api, template: Template.fromStack(stack) };
}

/** The methods that reach the function (not the CORS preflights). */
function proxyMethods(template: Template): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources('AWS::ApiGateway::Method', { Properties: { Integration: { Type: 'AWS_PROXY' } } }) as Record<string, { Properties: Record<string, unknown> }>;
}

interface GatewayResponseProperties {
  readonly StatusCode?: string;
  readonly ResponseTemplates: Record<string, string>;
  readonly ResponseParameters?: Record<string, string>;
}

function gatewayResponse(template: Template, type: string): GatewayResponseProperties {
  const found = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } }));
  expect(found).toHaveLength(1);
  return found[0].Properties;
}

/** The cdk-nag report of an app, or '' when every finding is acknowledged. */
function nagReport(make: (app: App) => void): string {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  make(app);
  try {
    app.synth();
  } catch (err) {
    const file = /found in: (\S+)/.exec((err as Error).message)?.[1];
    return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : (err as Error).message;
  }
  return '';
}

function nagStack(app: App): Stack {
  return new Stack(app, 'Nag', { env: { account: '123456789012', region: 'us-east-1' } });
}

describe('InferenceApi', () => {
  test('serves the routes of the HTTP table as Lambda proxy integrations to the live alias, with one permission', () => {
    const { template } = restApi({ authorization: ApiAuthorization.iam() });

    const methods = Object.values(proxyMethods(template));
    expect(methods).toHaveLength(8);
    for (const method of methods) {
      expect(method.Properties.Integration).toEqual(expect.objectContaining({
        IntegrationHttpMethod: 'POST',
        TimeoutInMillis: 29000,
        Uri: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:us-east-1:lambda:path/2015-03-31/functions/', { Ref: expect.stringMatching(/^FnLiveAlias/) }, '/invocations']] },
      }));
    }
    const parts = Object.values(template.findResources('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart).sort();
    expect(parts).toEqual(['classify', 'health', 'health', 'live', 'models', 'models', 'ready', 'v1', 'v2', '{proxy+}', '{proxy+}'].sort());
    // No catch-all at the root: only /v1/models/* and /v2/models/* reach the runtime's 404.
    expect(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'ANY' } })).toEqual({});
    template.resourceCountIs('AWS::Lambda::Permission', 1);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { Ref: Match.stringLikeRegexp('^FnLiveAlias') },
      Principal: 'apigateway.amazonaws.com',
      SourceArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:us-east-1:123456789012:', { Ref: Match.stringLikeRegexp('^Api') }, '/*/*/*']] },
    });
  });

  test('the API is named uniquely from its path (alarms key API Gateway metrics by name), or as given', () => {
    const names = ['Inference', 'Other'].map((stackName) => {
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), stackName, { env: { account: '123456789012', region: 'us-east-1' } });
      const api = new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam() });
      const name = (Object.values(Template.fromStack(stack).findResources('AWS::ApiGateway::RestApi'))[0] as { Properties: { Name: string } }).Properties.Name;
      expect(api.restApi.restApiName).toBe(name);
      return name;
    });
    expect(names[0]).toMatch(/^InferenceApi[0-9A-F]{8}$/);
    expect(names[1]).toMatch(/^OtherApi[0-9A-F]{8}$/);
    const { template } = restApi({ authorization: ApiAuthorization.iam(), restApiName: 'moderation-prod' });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'moderation-prod' });
  });

  test('a regional endpoint whose binary media types carry raw images intact', () => {
    const { template } = restApi({ authorization: ApiAuthorization.iam() });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'multipart/form-data', 'application/octet-stream'],
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  test('the prod stage: throttled at 100 rps / 200 burst, traced, metrics and error logs on, request data never logged', () => {
    const { api, template } = restApi({ authorization: ApiAuthorization.iam() });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      MethodSettings: [{
        HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200, MetricsEnabled: true, LoggingLevel: 'ERROR', DataTraceEnabled: false,
      }],
    });
    // The account's API Gateway CloudWatch role is set once per account, not by every stack.
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(JSON.stringify(Stack.of(api).resolve(api.url))).toMatch(/"https:\/\/",\{"Ref":"Api[0-9A-F]{8}"\},"\.execute-api\.us-east-1\.".*"ApiDeploymentStageprod[0-9A-F]{8}"/);
  });

  test('throttle, stageName and cloudWatchRole change the stage', () => {
    const { template } = restApi({ authorization: ApiAuthorization.iam(), throttle: { rateLimit: 5, burstLimit: 10 }, stageName: 'live_v2', cloudWatchRole: true });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'live_v2',
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })],
    });
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
  });

  test('JSON access logs, one object per request with status, integration status and error, to a log group with retention', () => {
    const { template } = restApi({ authorization: ApiAuthorization.iam(), accessLogRetention: logs.RetentionDays.ONE_WEEK });
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0];
    const setting = stage.Properties.AccessLogSetting;
    expect(setting.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ApiAccessLogs/), 'Arn'] });
    // $context.error.messageString is quoted by API Gateway itself.
    const line = JSON.parse(setting.Format.replace('$context.error.messageString', '"Internal server error"'));
    expect(line).toEqual(expect.objectContaining({
      requestId: '$context.requestId',
      status: '$context.status',
      httpMethod: '$context.httpMethod',
      resourcePath: '$context.resourcePath',
      integrationStatus: '$context.integrationStatus',
      integrationError: '$context.integrationErrorMessage',
      responseLatency: '$context.responseLatency',
      errorMessage: 'Internal server error',
      // Who called, for auditors: IAM principal, API key, Cognito user.
      userArn: '$context.identity.userArn',
      accountId: '$context.identity.accountId',
      apiKeyId: '$context.identity.apiKeyId',
      cognitoSub: '$context.authorizer.claims.sub',
    }));
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test.each(['rest', 'http'] as const)('%s: access logs go to a log group you give (e.g. encrypted with your KMS key), and none is created', (kind) => {
    // GIVEN a log group encrypted with a customer-managed key
    const stack = newStack();
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    key.grantEncryptDecrypt(new iam.ServicePrincipal('logs.amazonaws.com'));
    const group = new logs.LogGroup(stack, 'AuditLogs', { encryptionKey: key, retention: logs.RetentionDays.ONE_YEAR });
    // WHEN the API is given it
    const api = kind === 'rest'
      ? new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam(), accessLogGroup: group })
      : new InferenceHttpApi(stack, 'Api', { function: newFunction(stack), authorization: HttpApiAuthorization.iam(), accessLogGroup: group });
    const template = Template.fromStack(stack);
    // THEN the stage logs there, and the only log groups are the function's and that one
    expect(api.accessLogGroup).toBe(group);
    const stage = Object.values(template.findResources(kind === 'rest' ? 'AWS::ApiGateway::Stage' : 'AWS::ApiGatewayV2::Stage'))[0];
    const destination = kind === 'rest' ? stage.Properties.AccessLogSetting.DestinationArn : stage.Properties.AccessLogSettings.DestinationArn;
    expect(destination).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^AuditLogs/), 'Arn'] });
    expect(Object.keys(template.findResources('AWS::Logs::LogGroup')).filter((id) => /AccessLogs/.test(id))).toEqual([]);
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogKey'), 'Arn'] }, RetentionInDays: 365 });
  });

  test.each(['rest', 'http'] as const)('%s: accessLogGroup and accessLogRetention together is a synth error that says which to keep', (kind) => {
    const stack = newStack();
    const group = new logs.LogGroup(stack, 'AuditLogs');
    const build = () => (kind === 'rest'
      ? new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam(), accessLogGroup: group, accessLogRetention: logs.RetentionDays.ONE_WEEK })
      : new InferenceHttpApi(stack, 'Api', { function: newFunction(stack), authorization: HttpApiAuthorization.iam(), accessLogGroup: group, accessLogRetention: logs.RetentionDays.ONE_WEEK }));
    expect(build).toThrow(/give accessLogGroup or accessLogRetention, not both/);
  });

  test('a 413 that states the 10 MB API Gateway and 6 MB Lambda limits and points at asynchronous jobs', () => {
    const { template } = restApi({ authorization: ApiAuthorization.iam() });
    const response = gatewayResponse(template, 'REQUEST_TOO_LARGE');
    expect(response.StatusCode).toBe('413');
    const body = JSON.parse(response.ResponseTemplates['application/json']);
    expect(body.error).toMatch(/6 MB.*10 MB/);
    expect(body.error).toMatch(/asynchronous jobs/);
    expect(body.requestId).toBe('$context.requestId');
  });

  test('every error the gateway answers itself is JSON {"error": ...}', () => {
    const { template } = restApi({ authorization: ApiAuthorization.none() });
    for (const [type, status] of [['INTEGRATION_TIMEOUT', '504'], ['THROTTLED', '429'], ['QUOTA_EXCEEDED', '429'], ['BAD_REQUEST_BODY', '400'], ['MISSING_AUTHENTICATION_TOKEN', '404']]) {
      const response = gatewayResponse(template, type);
      expect(response.StatusCode).toBe(status);
      expect(JSON.parse(response.ResponseTemplates['application/json']).error).toEqual(expect.any(String));
    }
    expect(gatewayResponse(template, 'THROTTLED').ResponseParameters).toEqual({ 'gatewayresponse.header.Retry-After': "'1'" });
    // Unknown routes list the real ones, with the model's name.
    expect(JSON.parse(gatewayResponse(template, 'MISSING_AUTHENTICATION_TOKEN').ResponseTemplates['application/json']).error).toContain('POST /v1/models/demo:predict');
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      const template4or5 = gatewayResponse(template, type).ResponseTemplates['application/json'];
      expect(JSON.parse(template4or5.replace('$context.error.messageString', '"Forbidden"')).error).toBe('Forbidden');
    }
  });

  test('request validation: predict and infer JSON bodies are checked against the runtime\'s shapes, images are not', () => {
    const { template } = restApi({ authorization: ApiAuthorization.iam() });
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      ContentType: 'application/json',
      Schema: Match.objectLike({ title: 'TFServingPredictRequest', oneOf: [{ required: ['instances'] }, { required: ['inputs'] }] }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      Schema: Match.objectLike({ title: 'KServeV2InferRequest', required: ['inputs'] }),
    });
    const posts = Object.values(proxyMethods(template)).filter((m) => m.Properties.HttpMethod === 'POST');
    const withModels = posts.filter((m) => m.Properties.RequestModels !== undefined);
    expect(posts).toHaveLength(3);
    expect(withModels).toHaveLength(2); // /classify takes image bytes
  });

  test('the integration timeout follows a shorter function timeout', () => {
    const { stack, template } = restApi({ authorization: ApiAuthorization.iam() }, Duration.seconds(10));
    for (const method of Object.values(proxyMethods(template))) {
      expect(method.Properties.Integration).toEqual(expect.objectContaining({ TimeoutInMillis: 10000 }));
    }
    expect(JSON.parse(gatewayResponse(template, 'INTEGRATION_TIMEOUT').ResponseTemplates['application/json']).error).toMatch(/10 s/);
    Annotations.fromStack(stack).hasNoWarning('/Test/Api', Match.anyValue());
  });

  test('a function timeout beyond the gateway\'s 29 s is capped, with a warning that points at AsyncInference', () => {
    const { stack, template } = restApi({ authorization: ApiAuthorization.iam() }, Duration.minutes(5));
    for (const method of Object.values(proxyMethods(template))) {
      expect(method.Properties.Integration).toEqual(expect.objectContaining({ TimeoutInMillis: 29000 }));
    }
    Annotations.fromStack(stack).hasWarning('/Test/Api', Match.stringLikeRegexp('5 minutes.*29 s.*AsyncInference'));
  });

  describe('authorization', () => {
    test('iam(): every method takes SigV4; grantInvoke allows execute-api:Invoke on the stage', () => {
      const stack = newStack();
      const api = new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam() });
      const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
      api.grantInvoke(caller);
      const template = Template.fromStack(stack);
      for (const method of Object.values(proxyMethods(template))) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [{
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:us-east-1:123456789012:', { Ref: Match.stringLikeRegexp('^Api') }, '/', { Ref: Match.stringLikeRegexp('^ApiDeploymentStage') }, '/*/*']] },
          }],
        },
      });
      // Unsigned requests and unknown routes share a response type: the message says both.
      expect(gatewayResponse(template, 'MISSING_AUTHENTICATION_TOKEN').StatusCode).toBe('403');
    });

    test('apiKey(): every method requires a key of a usage plan with throttle and quota on the stage', () => {
      const { api, template } = restApi({
        authorization: ApiAuthorization.apiKey({ throttle: { rateLimit: 20, burstLimit: 40 }, quota: { limit: 10000, period: apigw.Period.DAY } }),
      });
      for (const method of Object.values(proxyMethods(template))) expect(method.Properties.ApiKeyRequired).toBe(true);
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        Throttle: { RateLimit: 20, BurstLimit: 40 },
        Quota: { Limit: 10000, Period: 'DAY' },
        ApiStages: [Match.objectLike({ ApiId: { Ref: Match.stringLikeRegexp('^Api') }, Stage: { Ref: Match.stringLikeRegexp('^ApiDeploymentStage') } })],
      });
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
      template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
      expect(gatewayResponse(template, 'INVALID_API_KEY').StatusCode).toBe('403');
      expect(api.apiKey?.node.path).toMatch(/^Test\/Api\//);
      expect(api.usagePlan?.node.path).toMatch(/^Test\/Api\//);
    });

    test('apiKey() without options: the usage plan throttles at the stage\'s rate, with no quota', () => {
      const { template } = restApi({ authorization: ApiAuthorization.apiKey(), throttle: { rateLimit: 7, burstLimit: 9 } });
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 7, BurstLimit: 9 }, Quota: Match.absent() });
    });

    test('cognito(): a user pool authorizer on every method, with the given scopes', () => {
      const stack = newStack();
      const pool = cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN);
      const api = new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.cognito([pool], ['inference/predict']) });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS', ProviderARNs: [POOL_ARN], IdentitySource: 'method.request.header.Authorization' });
      for (const method of Object.values(proxyMethods(template))) {
        expect(method.Properties).toEqual(expect.objectContaining({ AuthorizationType: 'COGNITO_USER_POOLS', AuthorizationScopes: ['inference/predict'] }));
      }
      expect(api.authorizer?.node.path).toMatch(/^Test\/Api\//);
      expect(() => api.grantInvoke(new iam.AccountRootPrincipal())).toThrow(/grantInvoke applies to ApiAuthorization.iam\(\)/);
    });

    test('none(): an explicit opt-in to an open API, with a warning', () => {
      const { stack, template } = restApi({ authorization: ApiAuthorization.none() });
      for (const method of Object.values(proxyMethods(template))) {
        expect(method.Properties.AuthorizationType).toBe('NONE');
        expect(method.Properties.ApiKeyRequired).toBe(false);
      }
      Annotations.fromStack(stack).hasWarning('/Test/Api', Match.stringLikeRegexp('anyone with the URL'));
    });
  });

  test('cors: preflight on every resource without authorization, the origin on the gateway\'s own errors, and the runtime told to add it to its answers', () => {
    const { stack, template } = restApi({ authorization: ApiAuthorization.iam(), cors: { allowOrigins: ['https://app.example.com'] } });
    const preflights = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } }));
    expect(preflights.length).toBe(12); // the root and the 11 resources
    for (const p of preflights) expect(p.Properties.AuthorizationType).toBe('NONE');
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'OPTIONS',
      Integration: Match.objectLike({
        IntegrationResponses: [Match.objectLike({ ResponseParameters: Match.objectLike({ 'method.response.header.Access-Control-Allow-Origin': "'https://app.example.com'" }) })],
      }),
    });
    expect(gatewayResponse(template, 'REQUEST_TOO_LARGE').ResponseParameters).toEqual({ 'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'" });
    Annotations.fromStack(stack).hasNoWarning('/Test/Api', Match.stringLikeRegexp('CORS|cors'));
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ SERVERLESS_TF_CORS_ALLOW_ORIGINS: 'https://app.example.com' }) } });
  });

  test('domainName: a regional custom domain mapped at its root to the stage', () => {
    const stack = newStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/abc');
    new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam(), domainName: { domainName: 'ml.example.com', certificate } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::DomainName', { DomainName: 'ml.example.com', EndpointConfiguration: { Types: ['REGIONAL'] } });
    template.hasResourceProperties('AWS::ApiGateway::BasePathMapping', { BasePath: Match.absent(), Stage: { Ref: Match.stringLikeRegexp('^ApiDeploymentStage') } });
  });

  test('webAclArn: the web ACL is associated with the stage', () => {
    const { api, template } = restApi({ authorization: ApiAuthorization.iam(), webAclArn: WEB_ACL_ARN });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: WEB_ACL_ARN,
      ResourceArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:us-east-1::/restapis/', { Ref: Match.stringLikeRegexp('^Api') }, '/stages/', { Ref: Match.stringLikeRegexp('^ApiDeploymentStage') }]] },
    });
    expect(api.webAclAssociation?.node.path).toMatch(/^Test\/Api\//);
  });

  const fn = (stack: Stack) => newFunction(stack);
  test.each<[string, (stack: Stack) => InferenceApiProps, RegExp]>([
    ['no authorization', (s) => ({ function: fn(s) } as unknown as InferenceApiProps), /authorization is required: ApiAuthorization.iam\(\), .apiKey\(\), .cognito\(userPools\), or, to open the API to anyone, .none\(\)/],
    ['cognito with no user pools', (s) => ({ function: fn(s), authorization: ApiAuthorization.cognito([]) }), /ApiAuthorization.cognito needs at least one user pool/],
    ['cognito scopes with spaces', (s) => ({ function: fn(s), authorization: ApiAuthorization.cognito([cognito.UserPool.fromUserPoolArn(s, 'P', POOL_ARN)], ['a b']) }), /scopes must be non-empty and without spaces/],
    ['a rate of 0', (s) => ({ function: fn(s), authorization: ApiAuthorization.iam(), throttle: { rateLimit: 0 } }), /throttle.rateLimit must be a number of requests per second greater than 0; got 0/],
    ['a fractional burst', (s) => ({ function: fn(s), authorization: ApiAuthorization.iam(), throttle: { burstLimit: 1.5 } }), /throttle.burstLimit must be a whole number of requests of at least 1; got 1.5/],
    ['an invalid key throttle', (s) => ({ function: fn(s), authorization: ApiAuthorization.apiKey({ throttle: { rateLimit: -1 } }) }), /ApiAuthorization.apiKey throttle.rateLimit must be .* greater than 0; got -1/],
    ['a quota of 0', (s) => ({ function: fn(s), authorization: ApiAuthorization.apiKey({ quota: { limit: 0, period: apigw.Period.DAY } }) }), /quota.limit must be a whole number of requests of at least 1; got 0/],
    ['a quota without a period', (s) => ({ function: fn(s), authorization: ApiAuthorization.apiKey({ quota: { limit: 100 } }) }), /quota.period is required/],
    ['a quota offset at the limit', (s) => ({ function: fn(s), authorization: ApiAuthorization.apiKey({ quota: { limit: 100, offset: 100, period: apigw.Period.WEEK } }) }), /quota.offset must be a whole number from 0 to below the limit \(100\); got 100/],
    ['a stage name with a space', (s) => ({ function: fn(s), authorization: ApiAuthorization.iam(), stageName: 'my stage' }), /stageName must be 1-128 letters, digits, '-' or '_'; got "my stage"/],
    ['a custom domain with a base path', (s) => ({ function: fn(s), authorization: ApiAuthorization.iam(), domainName: { domainName: 'ml.example.com', certificate: acm.Certificate.fromCertificateArn(s, 'C', 'arn:aws:acm:us-east-1:123456789012:certificate/abc'), basePath: 'models' } }), /domainName.basePath is not supported \(got "models"\).*leave basePath unset/],
    ['a CloudFront-scoped web ACL', (s) => ({ function: fn(s), authorization: ApiAuthorization.iam(), webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/0a1b' }), /webAclArn must be the ARN of a WAFv2 web ACL with scope REGIONAL/],
    ['CORS with no origin', (s) => ({ function: fn(s), authorization: ApiAuthorization.iam(), cors: { allowOrigins: [] } }), /cors.allowOrigins must list at least one origin/],
  ])('refuses %s', (_name, props, message) => {
    const stack = newStack();
    expect(() => new InferenceApi(stack, 'Api', props(stack))).toThrow(message);
  });

  test('errors name the construct', () => {
    const stack = newStack();
    expect(() => new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam(), stageName: '' })).toThrow(/^Test\/Api: stageName/);
  });
});

describe('InferenceApi endpoint: regional, or private through VPC endpoints', () => {
  test('by default a regional endpoint with no resource policy, its execute-api endpoint on', () => {
    const { api, template } = restApi({ authorization: ApiAuthorization.iam() });
    const [rest] = Object.values(template.findResources('AWS::ApiGateway::RestApi'));
    expect(rest.Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
    expect(rest.Properties.Policy).toBeUndefined();
    expect(rest.Properties.DisableExecuteApiEndpoint).toBeUndefined();
    expect([api.endpointType, api.executeApiEndpointDisabled]).toEqual([apigw.EndpointType.REGIONAL, false]);
  });

  test('ApiEndpoint.privateEndpoint: a PRIVATE API associated with the VPC endpoints, Invoke denied unless through one of them, allowed to anyone else (the API key still applies)', () => {
    const stack = newStack();
    const api = new InferenceApi(stack, 'Api', {
      function: newFunction(stack),
      authorization: ApiAuthorization.apiKey(),
      endpoint: ApiEndpoint.privateEndpoint(vpcEndpoints(stack, 'vpce-1a2b3c4d', 'vpce-5e6f7a8b')),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: ['vpce-1a2b3c4d', 'vpce-5e6f7a8b'] },
      Policy: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*', Condition: { StringNotEquals: { 'aws:SourceVpce': ['vpce-1a2b3c4d', 'vpce-5e6f7a8b'] } } },
          { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*' },
        ],
      },
    });
    expect(api.endpointType).toBe(apigw.EndpointType.PRIVATE);
    expect(JSON.stringify(stack.resolve(api.url))).toMatch(/execute-api/);
  });

  test('a private API with IAM authorization allows this account only, so callers still need execute-api:Invoke of their own (grantInvoke)', () => {
    const stack = newStack();
    new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam(), endpoint: ApiEndpoint.privateEndpoint(vpcEndpoints(stack, 'vpce-1a2b3c4d')) });
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] } },
          Action: 'execute-api:Invoke',
          Resource: 'execute-api:/*',
        }]),
      },
    });
  });

  test('a custom domain turns the execute-api endpoint off: the domain (and its TLS policy or mutual TLS) is the only way in, and url is the domain\'s', () => {
    const stack = newStack();
    const api = new InferenceApi(stack, 'Api', {
      function: newFunction(stack),
      authorization: ApiAuthorization.iam(),
      domainName: { domainName: 'ml.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', CERTIFICATE_ARN) },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
    expect([api.executeApiEndpointDisabled, api.url]).toEqual([true, 'https://ml.example.com/']);
  });

  test('disableExecuteApiEndpoint false keeps the execute-api endpoint beside the domain', () => {
    const stack = newStack();
    const api = new InferenceApi(stack, 'Api', {
      function: newFunction(stack),
      authorization: ApiAuthorization.iam(),
      domainName: { domainName: 'ml.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', CERTIFICATE_ARN) },
      disableExecuteApiEndpoint: false,
    });
    const [rest] = Object.values(Template.fromStack(stack).findResources('AWS::ApiGateway::RestApi'));
    expect(rest.Properties.DisableExecuteApiEndpoint).toBeUndefined();
    expect(JSON.stringify(stack.resolve(api.url))).toMatch(/\.execute-api\.us-east-1\./);
  });

  test.each<[string, (stack: Stack) => Omit<InferenceApiProps, 'function'>, RegExp]>([
    ['a private endpoint without VPC endpoints', () => ({ authorization: ApiAuthorization.iam(), endpoint: ApiEndpoint.privateEndpoint([]) }),
      /^Test\/Api: ApiEndpoint\.privateEndpoint needs at least one interface VPC endpoint for API Gateway \(ec2\.InterfaceVpcEndpointAwsService\.APIGATEWAY\).*got none\.$/],
    ['a custom domain on a private API', (stack) => ({
      authorization: ApiAuthorization.iam(),
      endpoint: ApiEndpoint.privateEndpoint(vpcEndpoints(stack, 'vpce-1a2b3c4d')),
      domainName: { domainName: 'ml.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', CERTIFICATE_ARN) },
    }), /^Test\/Api: domainName is not supported on a private API \(ApiEndpoint\.privateEndpoint\).*or use ApiEndpoint\.regional\(\) for a custom domain\.$/],
    ['disableExecuteApiEndpoint without a domain', () => ({ authorization: ApiAuthorization.iam(), disableExecuteApiEndpoint: true }),
      /^Test\/Api: disableExecuteApiEndpoint without domainName leaves the API no endpoint to be called at: give domainName \(callers then use it\), or leave disableExecuteApiEndpoint unset\.$/],
  ])('%s is refused, before any resource', (_what, props, message) => {
    const stack = newStack();
    const fnOfApi = newFunction(stack);
    expect(() => new InferenceApi(stack, 'Api', { function: fnOfApi, ...props(stack) })).toThrow(message);
    expect(stack.node.findChild('Api').node.children).toEqual([]);
  });
});

describe('InferenceHttpApi', () => {
  test('the same routes on a $default stage, integrated with the live alias, throttled, with JSON access logs and one permission', () => {
    const { api, template } = httpApi({ authorization: HttpApiAuthorization.iam() });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties.RouteKey).sort();
    expect(routes).toEqual([
      'GET /health', 'GET /v1/models/{proxy+}', 'GET /v2/health/live', 'GET /v2/health/ready', 'GET /v2/models/{proxy+}',
      'POST /classify', 'POST /v1/models/{proxy+}', 'POST /v2/models/{proxy+}',
    ]);
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY', IntegrationUri: { Ref: Match.stringLikeRegexp('^FnLiveAlias') }, PayloadFormatVersion: '2.0', TimeoutInMillis: 29000,
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiAccessLogs'), 'Arn'] }, Format: Match.stringLikeRegexp('"integrationStatus":"\\$context.integrationStatus"') },
    });
    const format = (Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as { Properties: { AccessLogSettings: { Format: string } } }).Properties.AccessLogSettings.Format;
    expect(JSON.parse(format.replace('$context.error.messageString', '""'))).toEqual(expect.objectContaining({
      userArn: '$context.identity.userArn', accountId: '$context.identity.accountId', jwtSub: '$context.authorizer.claims.sub',
    }));
    template.resourceCountIs('AWS::Lambda::Permission', 1);
    expect(JSON.stringify(Stack.of(api).resolve(api.url))).toMatch(/"https:\/\/",\{"Ref":"Api[0-9A-F]{8}"\},"\.execute-api\.us-east-1\."/);
  });

  test('iam(): SigV4 on every route; grantInvoke allows execute-api:Invoke', () => {
    const stack = newStack();
    const api = new InferenceHttpApi(stack, 'Api', { function: newFunction(stack), authorization: HttpApiAuthorization.iam() });
    api.grantInvoke(new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() }));
    const template = Template.fromStack(stack);
    for (const route of Object.values(template.findResources('AWS::ApiGatewayV2::Route'))) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke' })] } });
  });

  test('cognito(): a JWT authorizer for the user pool\'s clients, with scopes', () => {
    const stack = newStack();
    const pool = cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN);
    const client = cognito.UserPoolClient.fromUserPoolClientId(stack, 'Client', 'client123');
    new InferenceHttpApi(stack, 'Api', { function: newFunction(stack), authorization: HttpApiAuthorization.cognito(pool, [client], ['inference/predict']) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Audience: ['client123'], Issuer: Match.anyValue() },
    });
    for (const route of Object.values(template.findResources('AWS::ApiGatewayV2::Route'))) {
      expect(route.Properties).toEqual(expect.objectContaining({ AuthorizationType: 'JWT', AuthorizationScopes: ['inference/predict'] }));
    }
  });

  test('jwt(): any OpenID Connect issuer', () => {
    const { template } = httpApi({ authorization: HttpApiAuthorization.jwt('https://issuer.example.com', ['api://inference']) });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { JwtConfiguration: { Audience: ['api://inference'], Issuer: 'https://issuer.example.com' } });
  });

  test('none(): open routes, with a warning; throttle and cors change the stage and the API', () => {
    const { stack, template } = httpApi({
      authorization: HttpApiAuthorization.none(),
      throttle: { rateLimit: 3, burstLimit: 6 },
      cors: { allowOrigins: ['https://app.example.com'], allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST] },
    });
    for (const route of Object.values(template.findResources('AWS::ApiGatewayV2::Route'))) expect(route.Properties.AuthorizationType).toBe('NONE');
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 3, ThrottlingBurstLimit: 6 } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: { AllowOrigins: ['https://app.example.com'], AllowMethods: ['GET', 'POST'] } });
    Annotations.fromStack(stack).hasWarning('/Test/Api', Match.stringLikeRegexp('anyone with the URL'));
  });

  test('a function timeout beyond 29 s is capped, with a warning', () => {
    const { stack, template } = httpApi({ authorization: HttpApiAuthorization.iam() }, Duration.minutes(2));
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { TimeoutInMillis: 29000 });
    Annotations.fromStack(stack).hasWarning('/Test/Api', Match.stringLikeRegexp('AsyncInference'));
  });

  test.each<[string, (stack: Stack) => HttpApiAuthorization | undefined, RegExp]>([
    ['no authorization', () => undefined, /authorization is required: HttpApiAuthorization.iam\(\)/],
    ['cognito with no clients', (s) => HttpApiAuthorization.cognito(cognito.UserPool.fromUserPoolArn(s, 'P', POOL_ARN), []), /needs at least one user pool client/],
    ['jwt with no audience', () => HttpApiAuthorization.jwt('https://issuer.example.com', []), /HttpApiAuthorization.jwt needs at least one audience/],
    ['jwt with an http issuer', () => HttpApiAuthorization.jwt('http://issuer.example.com', ['a']), /issuer must be an https:\/\/ URL; got "http:\/\/issuer.example.com"/],
  ])('refuses %s', (_name, authorization, message) => {
    const stack = newStack();
    expect(() => new InferenceHttpApi(stack, 'Api', { function: newFunction(stack), authorization: authorization(stack)! })).toThrow(message);
  });

  test('refuses an invalid throttle', () => {
    const stack = newStack();
    expect(() => new InferenceHttpApi(stack, 'Api', { function: newFunction(stack), authorization: HttpApiAuthorization.iam(), throttle: { burstLimit: 0 } }))
      .toThrow(/throttle.burstLimit must be a whole number of requests of at least 1; got 0/);
  });
});

describe('InferenceFunctionUrl', () => {
  test('an IAM-authorized, buffered URL on the live alias by default; grantInvokeUrl allows it', () => {
    const stack = newStack();
    const url = new InferenceFunctionUrl(stack, 'Url', { function: newFunction(stack) });
    url.grantInvokeUrl(new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', InvokeMode: 'BUFFERED', Qualifier: 'live' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunctionUrl', Resource: { Ref: Match.stringLikeRegexp('^FnLiveAlias') } })]) },
    });
    // Nothing public.
    expect(template.findResources('AWS::Lambda::Permission', { Properties: { Principal: '*' } })).toEqual({});
    expect(stack.resolve(url.url)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Url/), 'FunctionUrl'] });
  });

  test('authType NONE only when asked, with a warning; cors goes on the URL', () => {
    const stack = newStack();
    new InferenceFunctionUrl(stack, 'Url', { function: newFunction(stack), authType: lambda.FunctionUrlAuthType.NONE, cors: { allowedOrigins: ['https://app.example.com'] } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', Cors: { AllowOrigins: ['https://app.example.com'] } });
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' });
    Annotations.fromStack(stack).hasWarning('/Test/Url', Match.stringLikeRegexp('anyone with the URL'));
  });
});

describe('cdk-nag AwsSolutions: zero unacknowledged findings, each acknowledgement with a reason', () => {
  test.each<[string, (stack: Stack) => void]>([
    ['REST API, IAM, with a web ACL and a custom domain', (s) => new InferenceApi(s, 'Api', {
      function: newFunction(s),
      authorization: ApiAuthorization.iam(),
      webAclArn: WEB_ACL_ARN,
      domainName: { domainName: 'ml.example.com', certificate: acm.Certificate.fromCertificateArn(s, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/abc') },
    })],
    ['REST API, Cognito, with CORS', (s) => new InferenceApi(s, 'Api', {
      function: newFunction(s), authorization: ApiAuthorization.cognito([cognito.UserPool.fromUserPoolArn(s, 'Pool', POOL_ARN)]), cors: { allowOrigins: apigw.Cors.ALL_ORIGINS },
    })],
    ['REST API, none', (s) => new InferenceApi(s, 'Api', { function: newFunction(s), authorization: ApiAuthorization.none() })],
    ['REST API, private, API key', (s) => new InferenceApi(s, 'Api', {
      function: newFunction(s), authorization: ApiAuthorization.apiKey(), endpoint: ApiEndpoint.privateEndpoint(vpcEndpoints(s, 'vpce-1a2b3c4d')),
    })],
    ['HTTP API, IAM', (s) => new InferenceHttpApi(s, 'Api', { function: newFunction(s), authorization: HttpApiAuthorization.iam() })],
    ['HTTP API, none', (s) => new InferenceHttpApi(s, 'Api', { function: newFunction(s), authorization: HttpApiAuthorization.none() })],
    ['function URL, IAM', (s) => new InferenceFunctionUrl(s, 'Url', { function: newFunction(s) })],
    ['HTTP API, IAM, monitored', (s) => new InferenceHttpApi(s, 'Api', { function: newFunction(s), authorization: HttpApiAuthorization.iam() }).monitor(new InferenceMonitoring(s, 'Ops'))],
    ['function URL, IAM, monitored', (s) => new InferenceFunctionUrl(s, 'Url', { function: newFunction(s) }).monitor(new InferenceMonitoring(s, 'Ops'))],
  ])('%s', (_name, make) => {
    expect(nagReport((app) => make(nagStack(app)))).toBe('');
  });
});

describe('monitor()', () => {
  test('one line monitors the function and the API (5xx and 4xx rates, p99 latency)', () => {
    const stack = newStack();
    const api = new InferenceApi(stack, 'Api', { function: newFunction(stack), authorization: ApiAuthorization.iam() });
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const alarms = api.monitor(monitoring);
    const functionAlarms = monitoring.addFunction(api.function);
    expect(alarms).toHaveLength(functionAlarms.length + 3);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', functionAlarms.length + 3);
    for (const metric of ['5XXError', '4XXError', 'Latency']) expect(JSON.stringify(template.toJSON())).toContain(`"MetricName":"${metric}"`);
  });

  type AlarmProperties = Record<string, unknown> & { Metrics: { MetricStat?: { Metric: Record<string, unknown>; Stat: string } }[] };

  /** The CloudFormation properties of the alarms under the target scope `Ops/<scope>`, by id. */
  function apiAlarms(stack: Stack, alarms: cloudwatch.Alarm[], scope: string): Record<string, AlarmProperties> {
    const resources = Template.fromStack(stack).toJSON().Resources;
    const propertiesOf = (a: cloudwatch.Alarm) => resources[stack.getLogicalId(a.node.defaultChild as CfnElement)].Properties;
    return Object.fromEntries(alarmsUnder(alarms, scope).map((a) => [a.node.id, propertiesOf(a)]));
  }

  /** The metrics an alarm reads (leaving out math expressions), with their statistic. */
  function metricsOf(p: AlarmProperties): Record<string, unknown>[] {
    return p.Metrics.filter((m) => m.MetricStat).map((m) => ({ ...m.MetricStat!.Metric, Stat: m.MetricStat!.Stat }));
  }

  /** The alarms of `alarms` under the target scope `Ops/<scope>`. */
  function alarmsUnder(alarms: cloudwatch.Alarm[], scope: string): cloudwatch.Alarm[] {
    return alarms.filter((a) => a.node.path.startsWith(`Test/Ops/${scope}/`));
  }

  test('InferenceHttpApi: one line monitors the function and the HTTP API (ApiId), named after the construct', () => {
    const stack = newStack();
    const api = new InferenceHttpApi(stack, 'PublicHttp', { function: newFunction(stack), authorization: HttpApiAuthorization.iam() });
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const alarms = api.monitor(monitoring);
    const functionAlarms = monitoring.addFunction(api.function);
    expect(alarms.slice(0, functionAlarms.length).map((a) => a.node.path)).toEqual(functionAlarms.map((a) => a.node.path));
    expect(alarmsUnder(alarms, 'HttpApi-PublicHttp').map((a) => a.node.id)).toEqual(['ServerErrorRate', 'ClientErrorRate', 'LatencyP99']);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', functionAlarms.length + 3);
    const apiId = { Ref: stack.getLogicalId(api.httpApi.node.defaultChild as CfnElement) };
    const byId = apiAlarms(stack, alarms, 'HttpApi-PublicHttp');
    expect(metricsOf(byId.LatencyP99)).toEqual([{ Namespace: 'AWS/ApiGateway', MetricName: 'Latency', Dimensions: [{ Name: 'ApiId', Value: apiId }], Stat: 'p99' }]);
    expect(metricsOf(byId.ServerErrorRate).map((m) => m.MetricName)).toEqual(['5xx', 'Count']);
    expect(metricsOf(byId.ClientErrorRate).map((m) => m.MetricName)).toEqual(['4xx', 'Count']);
    for (const m of [...metricsOf(byId.ServerErrorRate), ...metricsOf(byId.ClientErrorRate)]) expect(m.Dimensions).toEqual([{ Name: 'ApiId', Value: apiId }]);
    expect(byId.LatencyP99.AlarmDescription).toMatch(/^\[PublicHttp\] p99 latency of the HTTP API/);
  });

  test('InferenceFunctionUrl: one line monitors the function and its URL (Url* metrics of the live alias), named after the construct', () => {
    const stack = newStack();
    const url = new InferenceFunctionUrl(stack, 'PublicUrl', { function: newFunction(stack) });
    const monitoring = new InferenceMonitoring(stack, 'Ops');
    const alarms = url.monitor(monitoring, { apiLatencyP99: Duration.seconds(3) });
    const functionAlarms = monitoring.addFunction(url.function);
    expect(alarms.slice(0, functionAlarms.length).map((a) => a.node.path)).toEqual(functionAlarms.map((a) => a.node.path));
    expect(alarmsUnder(alarms, 'FunctionUrl-PublicUrl').map((a) => a.node.id)).toEqual(['ServerErrorRate', 'ClientErrorRate', 'LatencyP99']);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', functionAlarms.length + 3);
    const functionName = { Ref: stack.getLogicalId(url.function.function.node.defaultChild as CfnElement) };
    const dims = [{ Name: 'FunctionName', Value: functionName }, { Name: 'Resource', Value: { 'Fn::Join': ['', [functionName, ':live']] } }];
    const byId = apiAlarms(stack, alarms, 'FunctionUrl-PublicUrl');
    expect(metricsOf(byId.LatencyP99)).toEqual([{ Namespace: 'AWS/Lambda', MetricName: 'UrlRequestLatency', Dimensions: dims, Stat: 'p99' }]);
    expect(byId.LatencyP99.Threshold).toBe(3000);
    expect(metricsOf(byId.ServerErrorRate).map((m) => m.MetricName)).toEqual(['Url5xxCount', 'UrlRequestCount']);
    expect(metricsOf(byId.ClientErrorRate).map((m) => m.MetricName)).toEqual(['Url4xxCount', 'UrlRequestCount']);
    for (const m of [...metricsOf(byId.ServerErrorRate), ...metricsOf(byId.ClientErrorRate)]) expect(m.Dimensions).toEqual(dims);
    expect(byId.LatencyP99.AlarmDescription).toMatch(/^\[PublicUrl\] p99 latency of the function URL stayed above 3000 ms/);
  });
});
