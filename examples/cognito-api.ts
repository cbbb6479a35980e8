// Example: callers signed in with a Cognito user pool (MFA required). The demo MobileNetV2
// behind a REST API with a Cognito authorizer, CORS for one web origin and asynchronous jobs
// (presigned uploads allowed from that origin); the Iris classifier, a zip function, behind an
// HTTP API whose JWT authorizer accepts the pool's app client.
import { Annotations, Duration, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ApiAuthorization, AsyncInference, Compute, HttpApiAuthorization, InferenceApi, InferenceHttpApi, TensorFlowFunction } from '../lib';
import { irisModel, irisTask } from './batch-tabular';
import { demoClassifier } from './container-classifier';

const WEB_APP = 'https://app.example.com';

export class CognitoApiStack extends Stack {
  public readonly users: cognito.UserPool;
  public readonly classifier: TensorFlowFunction;
  public readonly api: InferenceApi;
  public readonly jobs: AsyncInference;
  public readonly iris: TensorFlowFunction;
  public readonly httpApi: InferenceHttpApi;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.users = new cognito.UserPool(this, 'Users', {
      passwordPolicy: { minLength: 12, requireSymbols: true, requireDigits: true, requireLowercase: true, requireUppercase: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.users).acknowledge({
      id: 'AwsSolutions-COG8',
      reason: 'Threat protection (the Plus feature plan, billed per monthly active user) is the deployer\'s choice: set featurePlan: cognito.FeaturePlan.PLUS for production users.',
    });
    const client = this.users.addClient('App');

    this.classifier = demoClassifier(this, { compute: Compute.container(), timeout: Duration.minutes(5) });
    this.api = new InferenceApi(this, 'Api', {
      function: this.classifier,
      authorization: ApiAuthorization.cognito([this.users]),
      cors: { allowOrigins: [WEB_APP] },
    });
    Annotations.of(this.api).acknowledgeWarning('cdk-serverless-tensorflow:ApiTimeout', 'Long requests go through POST /jobs; the longer timeout is for them.');
    this.jobs = new AsyncInference(this, 'Jobs', { function: this.classifier, api: this.api, uploadCorsOrigins: [WEB_APP] });

    const models = s3.Bucket.fromBucketName(this, 'Models', 'my-model-bucket');
    this.iris = new TensorFlowFunction(this, 'Iris', {
      model: irisModel(models),
      modelName: 'iris',
      task: irisTask(),
      compute: Compute.zip(),
      timeout: Duration.seconds(30),
    });
    this.httpApi = new InferenceHttpApi(this, 'HttpApi', { function: this.iris, authorization: HttpApiAuthorization.cognito(this.users, [client]) });
  }
}
