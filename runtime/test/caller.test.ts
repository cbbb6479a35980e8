// The caller an authorizer verified, read from the event shapes API Gateway documents
// (REST: Cognito, Lambda and IAM; HTTP API: JWT and IAM; function URLs: IAM). Jobs are bound to it.
import { apiGatewayV1Event, apiGatewayV2Event, functionUrlEvent } from './support/events';
import { fromApiGatewayV1, fromApiGatewayV2 } from '../src/events';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';

const ISS = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example';

function rest(context: Partial<APIGatewayProxyEvent['requestContext']>): string | undefined {
  const event = apiGatewayV1Event({ method: 'GET', path: '/jobs/x' });
  return fromApiGatewayV1({ ...event, requestContext: { ...event.requestContext, ...context } as APIGatewayProxyEvent['requestContext'] }).caller;
}

function http(authorizer: unknown, event: APIGatewayProxyEventV2 = apiGatewayV2Event({ method: 'GET', path: '/jobs/x' })): string | undefined {
  return fromApiGatewayV2({ ...event, requestContext: { ...event.requestContext, authorizer } as APIGatewayProxyEventV2['requestContext'] }).caller;
}

describe('the caller of an event', () => {
  test('REST API: a Cognito user pool authorizer, a Lambda authorizer, IAM authorization, none', () => {
    expect(rest({ authorizer: { claims: { sub: 'u-1', iss: ISS, email: 'a@example.com' } } })).toBe(`jwt:${ISS}#u-1`);
    expect(rest({ authorizer: { principalId: 'user|7', integrationLatency: 12 } })).toBe('lambda:user|7');
    expect(rest({ identity: { ...apiGatewayV1Event({ path: '/' }).requestContext.identity, userArn: 'arn:aws:iam::123456789012:user/ci' } })).toBe('iam:arn:aws:iam::123456789012:user/ci');
    expect(rest({})).toBeUndefined();
  });

  test('HTTP API: a JWT authorizer and IAM authorization; function URL IAM authorization', () => {
    expect(http({ jwt: { claims: { sub: 'u-2', iss: ISS }, scopes: ['infer'] } })).toBe(`jwt:${ISS}#u-2`);
    expect(http({ iam: { userArn: 'arn:aws:sts::123456789012:assumed-role/App/fn', accountId: '123456789012' } })).toBe('iam:arn:aws:sts::123456789012:assumed-role/App/fn');
    expect(http({ iam: { userArn: 'arn:aws:iam::123456789012:user/ci' } }, functionUrlEvent({ method: 'GET', path: '/jobs/x' }))).toBe('iam:arn:aws:iam::123456789012:user/ci');
    expect(http(undefined)).toBeUndefined();
  });

  test('what no authorizer verified is no caller: API keys, empty or non-string ids, client headers', () => {
    expect(rest({ identity: { ...apiGatewayV1Event({ path: '/' }).requestContext.identity, apiKey: 'k', apiKeyId: 'abc123' } })).toBeUndefined();
    expect(rest({ authorizer: { claims: { sub: '' } } })).toBeUndefined();
    expect(http({ jwt: { claims: { sub: 42 } } })).toBeUndefined();
    expect(http({ lambda: { user: 'x' } })).toBeUndefined();
    const withHeader = apiGatewayV2Event({ method: 'GET', path: '/jobs/x', headers: { 'x-amzn-oidc-identity': 'alice' } });
    expect(fromApiGatewayV2(withHeader).caller).toBeUndefined();
  });
});
