// Where an InferenceApi's REST API can be called from: a regional endpoint on the internet
// (the default), or a private endpoint reachable only through interface VPC endpoints.
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * The endpoint of an InferenceApi's REST API.
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-api-endpoint-types.html
 */
export class ApiEndpoint {
  /** A regional endpoint, reachable from the internet: callers are limited by the authorization, the throttle and a WAF web ACL. */
  public static regional(): ApiEndpoint {
    return new ApiEndpoint(apigw.EndpointType.REGIONAL, []);
  }

  /**
   * A private endpoint, reachable only from VPCs through the given interface VPC endpoints for
   * API Gateway (`ec2.InterfaceVpcEndpointAwsService.APIGATEWAY`, service `execute-api`).
   *
   * The API gets a resource policy that denies execute-api:Invoke to requests that do not come
   * through one of these endpoints (`aws:SourceVpce`) and allows the rest: to anyone for API
   * key, Cognito and no authorization (the authorization still applies), and to this account's
   * IAM principals for IAM authorization, which then still need execute-api:Invoke of their own
   * (`InferenceApi.grantInvoke`). The endpoints are associated with the API, so besides the
   * execute-api URL (with private DNS on the endpoint) it answers at
   * `https://{rest-api-id}-{vpce-id}.execute-api.{region}.amazonaws.com/{stage}/`. A custom
   * domain is not supported on a private API.
   *
   * @param vpcEndpoints the interface VPC endpoints callers come through (at least one)
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html
   */
  public static privateEndpoint(vpcEndpoints: ec2.IVpcEndpoint[]): ApiEndpoint {
    return new ApiEndpoint(apigw.EndpointType.PRIVATE, vpcEndpoints);
  }

  private constructor(
    /** REGIONAL or PRIVATE. */
    public readonly type: apigw.EndpointType,
    /** The VPC endpoints of a private API; empty for a regional one. */
    public readonly vpcEndpoints: ec2.IVpcEndpoint[],
  ) {}
}
