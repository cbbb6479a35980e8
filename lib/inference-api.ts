// An API Gateway REST API in front of a TensorFlowFunction's `live` alias, serving the
// routes of DESIGN.md's HTTP table with what a public inference endpoint needs: a chosen
// authorization, stage throttling, binary images, JSON errors (413 stating the limits),
// request validation, JSON access logs, tracing, and optional CORS, custom domain (then
// the only way in) and WAF; or a private endpoint, reachable through VPC endpoints only.
import { Annotations, Duration, Names, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ApiEndpoint } from './api-endpoint';
import type { InferenceMonitoring, MonitoringThresholds } from './inference-monitoring';
import { acknowledgeManagedPolicy } from './private/acknowledge';
import {
  BINARY_MEDIA_TYPES, DEFAULT_THROTTLE, GATEWAY_ROUTES, MAX_INTEGRATION_TIMEOUT,
  accessLogGroupOf, integrationTimeout, outlivesGateway, restAccessLogFormat, validateThrottle,
} from './private/api-defaults';
import { addGatewayResponses } from './private/api-gateway-responses';
import { RequestModels } from './private/api-request-models';
import { TensorFlowValidationError } from './private/validation-error';
import { RuntimeEnvironment } from './runtime-environment';
import type { TensorFlowFunction } from './tensorflow-function';

/** How callers of an InferenceApi prove who they are. */
export enum ApiAuthorizationType {
  /** Requests signed with SigV4 by an IAM principal allowed execute-api:Invoke. */
  IAM = 'IAM',
  /** An API key in the x-api-key header, with a usage plan's throttle and quota. */
  API_KEY = 'API_KEY',
  /** A Cognito user pool token in the Authorization header. */
  COGNITO = 'COGNITO',
  /** No authorization: anyone who knows the URL. */
  NONE = 'NONE',
}

/**
 * The usage plan of API key authorization.
 */
export interface ApiKeyAuthorizationOptions {
  /**
   * Throttle of requests made with the key (per key, within the stage's limits).
   *
   * @default - the stage's throttle
   */
  readonly throttle?: apigw.ThrottleSettings;

  /**
   * How many requests the key may make per period.
   *
   * @default - no quota
   */
  readonly quota?: apigw.QuotaSettings;
}

/**
 * How callers of an InferenceApi are authorized. Required: an API open to anyone is
 * `ApiAuthorization.none()`, an explicit choice.
 */
export class ApiAuthorization {
  /**
   * IAM: callers sign requests with SigV4; grant them with `InferenceApi.grantInvoke`.
   */
  public static iam(): ApiAuthorization {
    return new ApiAuthorization(ApiAuthorizationType.IAM);
  }

  /**
   * An API key (x-api-key header) in a usage plan with throttle and quota. A key is
   * created; API Gateway generates its value (read it with
   * `aws apigateway get-api-key --api-key <id> --include-value`). Keys identify and
   * meter callers; AWS advises against them as the only protection of sensitive data.
   */
  public static apiKey(options: ApiKeyAuthorizationOptions = {}): ApiAuthorization {
    return new ApiAuthorization(ApiAuthorizationType.API_KEY, options);
  }

  /**
   * Cognito user pools: an ID or access token in the Authorization header.
   *
   * @param userPools the user pools whose tokens are accepted (at least one)
   * @param scopes OAuth scopes of which an access token must carry one; with scopes,
   *   only access tokens are accepted
   */
  public static cognito(userPools: cognito.IUserPool[], scopes?: string[]): ApiAuthorization {
    return new ApiAuthorization(ApiAuthorizationType.COGNITO, undefined, userPools, scopes);
  }

  /**
   * No authorization: anyone who has the URL can call the model, and each call is paid
   * for. Only the stage throttle (and a WAF web ACL, if given) limits them.
   */
  public static none(): ApiAuthorization {
    return new ApiAuthorization(ApiAuthorizationType.NONE);
  }

  private constructor(
    /** The kind of authorization. */
    public readonly type: ApiAuthorizationType,
    /** The usage plan, for API keys. */
    public readonly apiKeyOptions?: ApiKeyAuthorizationOptions,
    /** The user pools, for Cognito. */
    public readonly userPools?: cognito.IUserPool[],
    /** The OAuth scopes, for Cognito. */
    public readonly scopes?: string[],
  ) {}
}

/**
 * Properties of an InferenceApi.
 */
export interface InferenceApiProps {
  /** The function to serve; requests go to its `live` alias. */
  readonly function: TensorFlowFunction;

  /** Who may call the API. There is no default: `ApiAuthorization.none()` opens it to anyone. */
  readonly authorization: ApiAuthorization;

  /**
   * The stage's default throttle: steady requests per second and burst.
   *
   * @default { rateLimit: 100, burstLimit: 200 }
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
   */
  readonly throttle?: apigw.ThrottleSettings;

  /**
   * CORS for browser clients. API Gateway answers the preflight (OPTIONS) and adds the
   * origin to its own error responses; the runtime adds it to the function's answers
   * (SERVERLESS_TF_CORS_ALLOW_ORIGINS on the function).
   *
   * @default - no CORS
   */
  readonly cors?: apigw.CorsOptions;

  /**
   * Where the API can be called from: a regional endpoint on the internet, or a private one
   * reachable only through interface VPC endpoints (with a resource policy that enforces it).
   *
   * @default ApiEndpoint.regional()
   */
  readonly endpoint?: ApiEndpoint;

  /**
   * A custom domain, mapped at its root (the runtime routes on the full path, which
   * behind a base path mapping would carry the base path). Regional APIs only.
   *
   * @default - only the execute-api URL
   */
  readonly domainName?: apigw.DomainNameOptions;

  /**
   * Turn off the default execute-api endpoint, so that callers can reach the API through its
   * custom domain only: the domain's TLS security policy and mutual TLS, if configured, then
   * cannot be bypassed. Needs domainName (without it the API could not be called at all).
   *
   * @default - true when domainName is given, false otherwise
   */
  readonly disableExecuteApiEndpoint?: boolean;

  /**
   * The ARN of a WAFv2 web ACL (scope REGIONAL, in the API's region) to associate with the stage.
   *
   * @default - no web ACL
   */
  readonly webAclArn?: string;

  /**
   * The log group for access logs, e.g. one encrypted with your KMS key (its key policy
   * must let the CloudWatch Logs service use the key) or kept longer for audits.
   *
   * @default - a log group created here, kept for accessLogRetention, encrypted by CloudWatch Logs
   */
  readonly accessLogGroup?: logs.ILogGroup;

  /**
   * Retention of the access log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;

  /**
   * The stage name, the first segment of the URL's path (not part of the routes).
   *
   * @default 'prod'
   */
  readonly stageName?: string;

  /**
   * Create the role that lets API Gateway write execution and access logs to CloudWatch,
   * and set it in the account's API Gateway settings. That setting is one per account and
   * region, shared by every API there, and the role is retained when the stack is deleted:
   * set it once (true on one API, or your own `apigw.CfnAccount`), not per stack. An
   * account and region that has never had it refuses to deploy a logging stage ("CloudWatch
   * Logs role ARN must be set in account settings").
   *
   * @default false - the account's existing setting is used (as aws-cdk-lib's
   * `@aws-cdk/aws-apigateway:disableCloudWatchRole` flag does)
   */
  readonly cloudWatchRole?: boolean;

  /**
   * The REST API's name. API Gateway's CloudWatch metrics, and so this API's alarms and
   * dashboard, are keyed by it: keep it unique in the account and region.
   *
   * @default - a name unique in the app, from the construct path (e.g. `MyStackApi1A2B3C4D`)
   */
  readonly restApiName?: string;
}

/**
 * A REST API in front of a TensorFlowFunction.
 *
 * @example
 * new InferenceApi(this, 'Api', {
 *   function: fn,
 *   authorization: ApiAuthorization.apiKey({ quota: { limit: 10_000, period: apigw.Period.DAY } }),
 * });
 */
export class InferenceApi extends Construct {
  /** The REST API. */
  public readonly restApi: apigw.RestApi;
  /**
   * The URL callers use, ending in `/`: the custom domain's (`https://<domainName>/`) when the
   * execute-api endpoint is disabled, otherwise the stage's execute-api URL.
   */
  public readonly url: string;
  /** REGIONAL or PRIVATE. */
  public readonly endpointType: apigw.EndpointType;
  /** Whether the default execute-api endpoint is turned off (callers use the custom domain). */
  public readonly executeApiEndpointDisabled: boolean;
  /** The stage. */
  public readonly stage: apigw.Stage;
  /** The access log group, given or created. */
  public readonly accessLogGroup: logs.ILogGroup;
  /** How long API Gateway waits for the function. */
  public readonly integrationTimeout: Duration;
  /** The authorization type. */
  public readonly authorizationType: ApiAuthorizationType;
  /** The usage plan, with API key authorization. */
  public readonly usagePlan?: apigw.UsagePlan;
  /** The API key, with API key authorization. */
  public readonly apiKey?: apigw.IApiKey;
  /** The Cognito authorizer, with Cognito authorization. */
  public readonly authorizer?: apigw.CognitoUserPoolsAuthorizer;
  /** The web ACL association, when a web ACL is given. */
  public readonly webAclAssociation?: wafv2.CfnWebACLAssociation;
  /** The function behind the API. */
  public readonly function: TensorFlowFunction;

  public constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    this.function = props.function;
    this.validate(props);
    const fn = props.function;
    const auth = props.authorization;
    this.authorizationType = auth.type;
    const endpoint = props.endpoint ?? ApiEndpoint.regional();
    this.endpointType = endpoint.type;
    this.executeApiEndpointDisabled = props.disableExecuteApiEndpoint ?? props.domainName !== undefined;
    this.integrationTimeout = integrationTimeout(fn.timeout);
    if (outlivesGateway(fn.timeout)) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:ApiTimeout', `The function's timeout (${fn.timeout.toHumanString()}) is longer than API Gateway's ${MAX_INTEGRATION_TIMEOUT.toSeconds()} s integration timeout: synchronous requests are cut at ${MAX_INTEGRATION_TIMEOUT.toSeconds()} s (504) while the function runs on. Submit long requests as asynchronous jobs (AsyncInference), or lower the function's timeout.`);
    }
    if (props.cors) {
      // A proxy integration passes the function's headers through: the runtime adds
      // Access-Control-Allow-Origin to its own answers for these origins.
      fn.addRuntimeEnvironment(this, { [RuntimeEnvironment.CORS_ALLOW_ORIGINS]: props.cors.allowOrigins.join(',') });
    }
    if (auth.type === ApiAuthorizationType.NONE) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:OpenApi', 'ApiAuthorization.none(): anyone with the URL can call the model, and every call is paid for. Only the stage throttle (and a WAF web ACL, if given) limits them.');
    }

    this.accessLogGroup = accessLogGroupOf(this, props);
    const throttle = { ...DEFAULT_THROTTLE, ...props.throttle };
    this.authorizer = auth.type === ApiAuthorizationType.COGNITO
      ? new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: auth.userPools! })
      : undefined;

    this.restApi = new apigw.RestApi(this, 'Api', {
      // API Gateway's metrics are keyed by ApiName: a name unique in the account keeps two
      // stacks' APIs (CDK would name both "Api") from reading each other's traffic in alarms.
      restApiName: props.restApiName ?? Names.uniqueResourceName(this, { maxLength: 128 }),
      description: `TensorFlow inference: model ${fn.modelName} (${fn.taskType})`,
      endpointConfiguration: endpoint.type === apigw.EndpointType.PRIVATE
        ? { types: [apigw.EndpointType.PRIVATE], vpcEndpoints: endpoint.vpcEndpoints }
        : { types: [apigw.EndpointType.REGIONAL] },
      policy: endpoint.type === apigw.EndpointType.PRIVATE ? privateApiPolicy(endpoint, auth.type) : undefined,
      disableExecuteApiEndpoint: this.executeApiEndpointDisabled ? true : undefined,
      binaryMediaTypes: BINARY_MEDIA_TYPES,
      cloudWatchRole: props.cloudWatchRole ?? false,
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Request bodies are images and model inputs: never copied into execution logs.
        dataTraceEnabled: false,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: restAccessLogFormat(),
      },
      defaultMethodOptions: {
        authorizationType: {
          [ApiAuthorizationType.IAM]: apigw.AuthorizationType.IAM,
          [ApiAuthorizationType.API_KEY]: apigw.AuthorizationType.NONE,
          [ApiAuthorizationType.COGNITO]: apigw.AuthorizationType.COGNITO,
          [ApiAuthorizationType.NONE]: apigw.AuthorizationType.NONE,
        }[auth.type],
        authorizer: this.authorizer,
        authorizationScopes: auth.type === ApiAuthorizationType.COGNITO ? auth.scopes : undefined,
        apiKeyRequired: auth.type === ApiAuthorizationType.API_KEY,
      },
      defaultCorsPreflightOptions: props.cors,
      domainName: props.domainName,
    });
    this.stage = this.restApi.deploymentStage;
    // Mapped at the root, so the domain's URL has no stage segment.
    this.url = this.executeApiEndpointDisabled ? `https://${props.domainName!.domainName}/` : this.restApi.url;

    this.addRoutes(fn);
    const origins = props.cors?.allowOrigins;
    addGatewayResponses(this.restApi, {
      modelName: fn.modelName,
      iam: auth.type === ApiAuthorizationType.IAM,
      apiKey: auth.type === ApiAuthorizationType.API_KEY,
      timeout: this.integrationTimeout,
      allowOrigin: origins?.length === 1 ? origins[0] : undefined,
    });

    if (auth.type === ApiAuthorizationType.API_KEY) {
      const options = auth.apiKeyOptions ?? {};
      this.usagePlan = this.restApi.addUsagePlan('UsagePlan', {
        description: `Callers of the TensorFlow model ${fn.modelName}`,
        throttle: options.throttle ?? throttle,
        quota: options.quota,
        apiStages: [{ api: this.restApi, stage: this.stage }],
      });
      this.apiKey = this.restApi.addApiKey('ApiKey', { description: `Key for the TensorFlow model ${fn.modelName} (${this.node.path})` });
      this.usagePlan.addApiKey(this.apiKey);
    }
    if (props.webAclArn) {
      this.webAclAssociation = new wafv2.CfnWebACLAssociation(this, 'WebAcl', { resourceArn: this.stage.stageArn, webAclArn: props.webAclArn });
    }
    this.acknowledge(auth.type, props.webAclArn !== undefined);
  }

  /**
   * The REST API.
   *
   * @deprecated use restApi (named like InferenceHttpApi.httpApi)
   */
  public get api(): apigw.RestApi {
    return this.restApi;
  }

  /**
   * Alarms and dashboard sections for this front door and its function (a function
   * already monitored is not added twice).
   *
   * @returns the alarms created
   */
  public monitor(monitoring: InferenceMonitoring, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    return [
      ...monitoring.addFunction(this.function, thresholds),
      ...monitoring.addRestApi(this.node.id, this.restApi, this.stage.stageName, thresholds),
    ];
  }

  /**
   * Lets `grantee` call the API: execute-api:Invoke on every method of every resource of the
   * stage, for callers that sign their requests with SigV4. For ApiAuthorization.iam() only: any
   * other authorization is a synth error, as IAM permissions do not open it.
   *
   * @param grantee the principal allowed to call the API
   * @returns the grant, added to the principal's policy
   */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    if (this.authorizationType !== ApiAuthorizationType.IAM) {
      throw new TensorFlowValidationError(this, `grantInvoke applies to ApiAuthorization.iam(); this API uses ${this.authorizationType}, which IAM permissions do not open.`);
    }
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.restApi.arnForExecuteApi('*', '/*', this.stage.stageName)],
    });
  }

  /** The routes of DESIGN.md's HTTP table, each a Lambda proxy integration to the `live` alias. */
  private addRoutes(fn: TensorFlowFunction): void {
    // One API-scoped permission on the alias instead of one per method.
    const integration = new apigw.LambdaIntegration(fn.alias, { timeout: this.integrationTimeout, scopePermissionToMethod: false });
    const validator = this.restApi.addRequestValidator('RequestValidator', { validateRequestBody: true, validateRequestParameters: true });
    const models = new RequestModels(this.restApi);
    for (const route of GATEWAY_ROUTES) {
      this.restApi.root.resourceForPath(route.path).addMethod(route.method, integration, {
        requestValidator: validator,
        requestModels: models.for(route.body),
      });
    }
  }

  /** cdk-nag AwsSolutions findings that follow from the user's choices, each with its reason. */
  private acknowledge(type: ApiAuthorizationType, webAcl: boolean): void {
    if (type === ApiAuthorizationType.NONE) {
      Validations.of(this.restApi).acknowledge(
        { id: 'AwsSolutions-APIG4', reason: 'The user opted in to an API without authorization with ApiAuthorization.none(); the stage is throttled.' },
        { id: 'AwsSolutions-COG4', reason: 'The user opted in to an API without authorization with ApiAuthorization.none().' },
      );
    } else if (type === ApiAuthorizationType.IAM) {
      Validations.of(this.restApi).acknowledge({ id: 'AwsSolutions-COG4', reason: 'The user chose IAM authorization (SigV4) with ApiAuthorization.iam(): callers are IAM principals, not user pool users.' });
    } else if (type === ApiAuthorizationType.API_KEY) {
      Validations.of(this.restApi).acknowledge(
        { id: 'AwsSolutions-APIG4', reason: 'The user chose API keys with ApiAuthorization.apiKey(): every method requires a key of the usage plan, which throttles and meters each caller.' },
        { id: 'AwsSolutions-COG4', reason: 'The user chose API keys with ApiAuthorization.apiKey(): callers are usage plan keys, not user pool users.' },
      );
    }
    if (!webAcl) {
      Validations.of(this.stage).acknowledge({ id: 'AwsSolutions-APIG3', reason: 'No web ACL given (webAclArn): the stage is throttled and requests are authorized; pass webAclArn to add AWS WAF.' });
    }
    const role = this.restApi.node.tryFindChild('CloudWatchRole');
    if (role) {
      acknowledgeManagedPolicy(role, 'service-role/AmazonAPIGatewayPushToCloudWatchLogs', 'API Gateway\'s account-level logging role: the managed policy is the one AWS documents for it (log groups are created by API Gateway with generated names).');
    }
  }

  private validate(props: InferenceApiProps): void {
    const fail = (message: string): never => {
      throw new TensorFlowValidationError(this, message);
    };
    const auth = props.authorization as ApiAuthorization | undefined;
    if (!auth) fail('authorization is required: ApiAuthorization.iam(), .apiKey(), .cognito(userPools), or, to open the API to anyone, .none().');
    if (auth!.type === ApiAuthorizationType.COGNITO && !auth!.userPools?.length) {
      fail('ApiAuthorization.cognito needs at least one user pool; got none.');
    }
    if (auth!.scopes?.some((s) => !Token.isUnresolved(s) && !/^\S+$/.test(s))) {
      fail(`ApiAuthorization.cognito scopes must be non-empty and without spaces; got ${JSON.stringify(auth!.scopes)}.`);
    }
    validateThrottle(this, 'throttle', props.throttle);
    validateThrottle(this, 'ApiAuthorization.apiKey throttle', auth!.apiKeyOptions?.throttle);
    const quota = auth!.apiKeyOptions?.quota;
    if (quota) {
      if (quota.limit === undefined || (!Token.isUnresolved(quota.limit) && !(Number.isInteger(quota.limit) && quota.limit >= 1))) {
        fail(`ApiAuthorization.apiKey quota.limit must be a whole number of requests of at least 1; got ${quota.limit}.`);
      }
      if (quota.period === undefined) fail('ApiAuthorization.apiKey quota.period is required with a quota: apigw.Period.DAY, WEEK or MONTH.');
      const offset = quota.offset;
      const below = (limit: number | undefined) => limit === undefined || Token.isUnresolved(limit) || offset! < limit;
      if (offset !== undefined && !Token.isUnresolved(offset) && !(Number.isInteger(offset) && offset >= 0 && below(quota.limit))) {
        fail(`ApiAuthorization.apiKey quota.offset must be a whole number from 0 to below the limit (${quota.limit}); got ${quota.offset}.`);
      }
    }
    const stageName = props.stageName;
    if (stageName !== undefined && !Token.isUnresolved(stageName) && !/^[A-Za-z0-9_-]{1,128}$/.test(stageName)) {
      fail(`stageName must be 1-128 letters, digits, '-' or '_'; got "${stageName}".`);
    }
    const basePath = props.domainName?.basePath;
    if (basePath !== undefined && basePath !== '') {
      fail(`domainName.basePath is not supported (got "${basePath}"): behind a base path mapping, API Gateway passes the base path in the request path, and the runtime routes on the full path (/v1/models/...). Map the domain at its root: leave basePath unset.`);
    }
    const acl = props.webAclArn;
    if (acl !== undefined && !Token.isUnresolved(acl) && !/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/[^/]+\/[^/]+$/.test(acl)) {
      fail(`webAclArn must be the ARN of a WAFv2 web ACL with scope REGIONAL (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>); got "${acl}". CLOUDFRONT-scoped (global) web ACLs cannot protect an API Gateway stage.`);
    }
    if (props.cors && props.cors.allowOrigins.length === 0) fail('cors.allowOrigins must list at least one origin (or apigw.Cors.ALL_ORIGINS).');
    const endpoint = props.endpoint;
    if (endpoint?.type === apigw.EndpointType.PRIVATE) {
      if (endpoint.vpcEndpoints.length === 0) {
        fail('ApiEndpoint.privateEndpoint needs at least one interface VPC endpoint for API Gateway (ec2.InterfaceVpcEndpointAwsService.APIGATEWAY): a private API can be called through nothing else; got none.');
      }
      if (props.domainName) {
        fail('domainName is not supported on a private API (ApiEndpoint.privateEndpoint): a private custom domain is an AWS::ApiGateway::DomainNameV2 with access associations to VPC endpoints, which InferenceApi does not create. Call the API through its VPC endpoints (the execute-api URL with private DNS, or https://{rest-api-id}-{vpce-id}.execute-api.{region}.amazonaws.com), or use ApiEndpoint.regional() for a custom domain.');
      }
    }
    if (props.disableExecuteApiEndpoint === true && !props.domainName) {
      fail('disableExecuteApiEndpoint without domainName leaves the API no endpoint to be called at: give domainName (callers then use it), or leave disableExecuteApiEndpoint unset.');
    }
  }
}

/**
 * The documented resource policy of a private API: execute-api:Invoke is denied to requests
 * that do not come through one of the VPC endpoints, and allowed to the rest. Under IAM
 * authorization the allow names this account, not anyone, so that a caller still needs an
 * identity policy of its own (grantInvoke), as on a regional API.
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html
 */
function privateApiPolicy(endpoint: ApiEndpoint, auth: ApiAuthorizationType): iam.PolicyDocument {
  // `execute-api:/*` is every stage, method and path of this API: the policy cannot name the
  // API's own ARN, which depends on the API.
  const everyMethod = 'execute-api:/*';
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [everyMethod],
        conditions: { StringNotEquals: { 'aws:SourceVpce': endpoint.vpcEndpoints.map((e) => e.vpcEndpointId) } },
      }),
      new iam.PolicyStatement({
        principals: [auth === ApiAuthorizationType.IAM ? new iam.AccountRootPrincipal() : new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [everyMethod],
      }),
    ],
  });
}
