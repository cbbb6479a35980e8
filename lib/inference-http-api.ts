// The cheaper, simpler front door: an API Gateway HTTP API (v2) in front of a
// TensorFlowFunction's `live` alias, with the same routes as InferenceApi, IAM or JWT
// (Cognito) authorization, stage throttling and JSON access logs. HTTP APIs have no API
// keys, usage plans, request validation, WAF or custom gateway responses: use
// InferenceApi for those.
import { Annotations, Token, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { InferenceMonitoring, MonitoringThresholds } from './inference-monitoring';
import { DEFAULT_THROTTLE, accessLogGroupOf, GATEWAY_ROUTES, MAX_INTEGRATION_TIMEOUT, httpAccessLogFormat, integrationTimeout, outlivesGateway, validateThrottle } from './private/api-defaults';
import { TensorFlowValidationError } from './private/validation-error';
import type { TensorFlowFunction } from './tensorflow-function';

/** How callers of an InferenceHttpApi prove who they are. */
export enum HttpApiAuthorizationType {
  /** Requests signed with SigV4 by an IAM principal allowed execute-api:Invoke. */
  IAM = 'IAM',
  /** A JWT (e.g. from a Cognito user pool) in the Authorization header. */
  JWT = 'JWT',
  /** No authorization: anyone who knows the URL. */
  NONE = 'NONE',
}

/** What a JWT authorizer needs: a Cognito user pool and its clients, or an issuer and audience. */
interface JwtOptions {
  readonly userPool?: cognito.IUserPool;
  readonly userPoolClients?: cognito.IUserPoolClient[];
  readonly issuer?: string;
  readonly audience?: string[];
  readonly scopes?: string[];
}

/**
 * How callers of an InferenceHttpApi are authorized. Required: an API open to anyone is
 * `HttpApiAuthorization.none()`, an explicit choice.
 */
export class HttpApiAuthorization {
  /** IAM: callers sign requests with SigV4; grant them with `InferenceHttpApi.grantInvoke`. */
  public static iam(): HttpApiAuthorization {
    return new HttpApiAuthorization(HttpApiAuthorizationType.IAM);
  }

  /**
   * Tokens of a Cognito user pool, issued to one of the given app clients.
   *
   * @param userPool the user pool that issues the tokens
   * @param userPoolClients the app clients the tokens are issued to (the JWT audience; at least one)
   * @param scopes OAuth scopes of which a token must carry one
   */
  public static cognito(userPool: cognito.IUserPool, userPoolClients: cognito.IUserPoolClient[], scopes?: string[]): HttpApiAuthorization {
    return new HttpApiAuthorization(HttpApiAuthorizationType.JWT, { userPool, userPoolClients, scopes });
  }

  /**
   * Tokens of any OpenID Connect issuer.
   *
   * @param issuer the issuer URL (`https://...`)
   * @param audience accepted `aud` (or `client_id`) values; at least one
   * @param scopes OAuth scopes of which a token must carry one
   */
  public static jwt(issuer: string, audience: string[], scopes?: string[]): HttpApiAuthorization {
    return new HttpApiAuthorization(HttpApiAuthorizationType.JWT, { issuer, audience, scopes });
  }

  /**
   * No authorization: anyone who has the URL can call the model, and each call is paid
   * for. Only the stage throttle limits them.
   */
  public static none(): HttpApiAuthorization {
    return new HttpApiAuthorization(HttpApiAuthorizationType.NONE);
  }

  private constructor(
    /** The kind of authorization. */
    public readonly type: HttpApiAuthorizationType,
    private readonly jwt: JwtOptions = {},
  ) {}

  /** The OAuth scopes a token must carry one of. */
  public get scopes(): string[] | undefined {
    return this.jwt.scopes;
  }

  /** The route authorizer; validates first. */
  public bind(scope: Construct): apigwv2.IHttpRouteAuthorizer {
    const { userPool, userPoolClients, issuer, audience } = this.jwt;
    switch (this.type) {
      case HttpApiAuthorizationType.IAM:
        return new authorizers.HttpIamAuthorizer();
      case HttpApiAuthorizationType.NONE:
        return new apigwv2.HttpNoneAuthorizer();
      case HttpApiAuthorizationType.JWT:
        if (userPool) {
          if (!userPoolClients?.length) throw new TensorFlowValidationError(scope, 'HttpApiAuthorization.cognito needs at least one user pool client (the tokens\' audience); got none.');
          return new authorizers.HttpUserPoolAuthorizer('Authorizer', userPool, { userPoolClients });
        }
        if (!audience?.length) throw new TensorFlowValidationError(scope, 'HttpApiAuthorization.jwt needs at least one audience; got none.');
        if (!Token.isUnresolved(issuer) && !/^https:\/\/\S+$/.test(issuer!)) throw new TensorFlowValidationError(scope, `HttpApiAuthorization.jwt issuer must be an https:// URL; got "${issuer}".`);
        return new authorizers.HttpJwtAuthorizer('Authorizer', issuer!, { jwtAudience: audience });
    }
  }
}

/**
 * Properties of an InferenceHttpApi.
 */
export interface InferenceHttpApiProps {
  /** The function to serve; requests go to its `live` alias. */
  readonly function: TensorFlowFunction;

  /** Who may call the API. There is no default: `HttpApiAuthorization.none()` opens it to anyone. */
  readonly authorization: HttpApiAuthorization;

  /**
   * The stage's default throttle: steady requests per second and burst.
   *
   * @default { rateLimit: 100, burstLimit: 200 }
   */
  readonly throttle?: apigw.ThrottleSettings;

  /**
   * CORS for browser clients: API Gateway answers preflight requests and adds the
   * headers to every response.
   *
   * @default - no CORS
   */
  readonly cors?: apigwv2.CorsPreflightOptions;

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
}

/**
 * Routes to add to an InferenceHttpApi.
 */
export interface InferenceHttpRouteOptions {
  /**
   * The route's path, starting with `/`, e.g. `/jobs/{id}`; a greedy `{name+}` parameter
   * only as the last segment.
   */
  readonly path: string;

  /** The HTTP methods of the path, one route each (at least one). */
  readonly methods: apigwv2.HttpMethod[];
}

/**
 * An HTTP API (API Gateway v2) in front of a TensorFlowFunction: cheaper per request
 * than a REST API, with fewer controls.
 *
 * @example
 * new InferenceHttpApi(this, 'HttpApi', { function: fn, authorization: HttpApiAuthorization.iam() });
 */
export class InferenceHttpApi extends Construct {
  /** The HTTP API. */
  public readonly httpApi: apigwv2.HttpApi;
  /** The stage (`$default`, so the URL has no stage segment). */
  public readonly stage: apigwv2.HttpStage;
  /** The stage's URL, ending in `/`. */
  public readonly url: string;
  /** The access log group, given or created. */
  public readonly accessLogGroup: logs.ILogGroup;
  /** The authorization type. */
  public readonly authorizationType: HttpApiAuthorizationType;
  /** The function behind the API. */
  public readonly function: TensorFlowFunction;

  /** One integration, and so one permission on the alias, for every route. */
  private readonly integration: integrations.HttpLambdaIntegration;
  /** Route keys (`POST /jobs`) added so far, to name a duplicate before CDK does. */
  private readonly routeKeys = new Set<string>();

  public constructor(scope: Construct, id: string, props: InferenceHttpApiProps) {
    super(scope, id);
    const auth = props.authorization as HttpApiAuthorization | undefined;
    if (!auth) throw new TensorFlowValidationError(this, 'authorization is required: HttpApiAuthorization.iam(), .cognito(userPool, clients), .jwt(issuer, audience), or, to open the API to anyone, .none().');
    validateThrottle(this, 'throttle', props.throttle);
    const authorizer = auth.bind(this);
    const fn = props.function;
    this.function = fn;
    this.authorizationType = auth.type;
    if (outlivesGateway(fn.timeout)) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:ApiTimeout', `The function's timeout (${fn.timeout.toHumanString()}) is longer than the HTTP API's ${MAX_INTEGRATION_TIMEOUT.toSeconds()} s integration timeout: synchronous requests are cut at ${MAX_INTEGRATION_TIMEOUT.toSeconds()} s (503) while the function runs on. Submit long requests as asynchronous jobs (AsyncInference), or use InferenceFunctionUrl (up to the function's timeout).`);
    }
    if (auth.type === HttpApiAuthorizationType.NONE) {
      Annotations.of(this).addWarningV2('cdk-serverless-tensorflow:OpenApi', 'HttpApiAuthorization.none(): anyone with the URL can call the model, and every call is paid for. Only the stage throttle limits them.');
    }

    this.accessLogGroup = accessLogGroupOf(this, props);
    this.httpApi = new apigwv2.HttpApi(this, 'Api', {
      description: `TensorFlow inference: model ${fn.modelName} (${fn.taskType})`,
      createDefaultStage: false,
      corsPreflight: props.cors,
      defaultAuthorizer: authorizer,
      defaultAuthorizationScopes: auth.scopes,
    });
    const throttle = { ...DEFAULT_THROTTLE, ...props.throttle };
    this.stage = new apigwv2.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup), format: httpAccessLogFormat() },
    });
    this.url = this.stage.url;

    // One permission on the alias for all routes instead of one per route.
    this.integration = new integrations.HttpLambdaIntegration('Function', fn.alias, { timeout: integrationTimeout(fn.timeout), scopePermissionToRoute: false });
    for (const route of GATEWAY_ROUTES) {
      this.addRoutes({ path: route.path, methods: [apigwv2.HttpMethod[route.method]] });
    }
    if (auth.type === HttpApiAuthorizationType.NONE) {
      // On the HttpApi, so it also covers routes added later with addRoutes (AsyncInference's /jobs).
      Validations.of(this.httpApi).acknowledge({ id: 'AwsSolutions-APIG4', reason: 'The user opted in to an API without authorization with HttpApiAuthorization.none(); the stage is throttled.' });
    }
  }

  /**
   * Adds routes to the function's `live` alias with what the inference routes have: the
   * same authorization (authorizer and scopes), integration (and so integration timeout)
   * and Lambda permission. For paths the runtime serves, such as AsyncInference's `/jobs`
   * routes (which it adds this way); the runtime answers any other path with 404.
   *
   * @returns the routes, one per method
   */
  public addRoutes(options: InferenceHttpRouteOptions): apigwv2.HttpRoute[] {
    if (options.methods.length === 0) throw new TensorFlowValidationError(this, `addRoutes for ${options.path} needs at least one method, e.g. [HttpMethod.POST]; got none.`);
    for (const method of options.methods) {
      const key = `${method} ${options.path}`;
      if (this.routeKeys.has(key)) throw new TensorFlowValidationError(this, `the route ${key} already exists on this HTTP API: add each route once.`);
      this.routeKeys.add(key);
    }
    // No authorizer here: HttpApi.addRoutes gives each route the API's default authorizer and scopes.
    return this.httpApi.addRoutes({ path: options.path, methods: options.methods, integration: this.integration });
  }

  /**
   * Monitors the function and the API in one line: the function's alarms, and the API's 5xx
   * and 4xx rates and p99 latency, named after this construct's id. The API has one stage,
   * `$default`, so its metrics are read by ApiId alone. A function already monitored is not
   * added twice.
   *
   * @param monitoring where the alarms and dashboard sections go
   * @param thresholds overrides of the monitoring's thresholds, for the function and the API
   * @returns the function's alarms and the API's
   */
  public monitor(monitoring: InferenceMonitoring, thresholds?: MonitoringThresholds): cloudwatch.Alarm[] {
    return [
      ...monitoring.addFunction(this.function, thresholds),
      ...monitoring.addHttpApi(this.node.id, this.httpApi, undefined, thresholds),
    ];
  }

  /** Lets `grantee` call the API (execute-api:Invoke on every route). For IAM authorization only. */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    if (this.authorizationType !== HttpApiAuthorizationType.IAM) {
      throw new TensorFlowValidationError(this, `grantInvoke applies to HttpApiAuthorization.iam(); this API uses ${this.authorizationType}, which IAM permissions do not open.`);
    }
    return iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: [this.httpApi.arnForExecuteApi('*', '/*', '*')] });
  }
}
