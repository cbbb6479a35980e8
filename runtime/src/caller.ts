// Who sent a request, as API Gateway or a function URL vouches for it: the identity its
// authorizer verified. The runtime binds asynchronous jobs to it. Only what an authorizer
// checked counts, never a header the client sets, and never an API key (a usage-plan
// token that API Gateway documents as not meant for authorization).
import { isObject } from './guards';

/**
 * The caller of an API Gateway REST (v1) or HTTP API / function URL (v2) event, as
 * `<kind>:<id>`; undefined when no authorizer verified one:
 * - `jwt:<iss>#<sub>`: a Cognito user pool authorizer (REST) or a JWT authorizer (HTTP API)
 * - `iam:<ARN>`: IAM authorization (SigV4): the signing principal's ARN
 * - `lambda:<principalId>`: a REST Lambda authorizer's principalId
 */
export function callerOf(requestContext: unknown): string | undefined {
  if (!isObject(requestContext)) return undefined;
  const authorizer = requestContext.authorizer;
  if (isObject(authorizer)) {
    // HTTP API JWT authorizer: authorizer.jwt.claims; REST Cognito authorizer: authorizer.claims.
    const claims = isObject(authorizer.jwt) ? authorizer.jwt.claims : authorizer.claims;
    if (isObject(claims) && nonEmpty(claims.sub)) return `jwt:${nonEmpty(claims.iss) ? claims.iss : ''}#${claims.sub}`;
    // HTTP API and function URL IAM authorization.
    if (isObject(authorizer.iam) && nonEmpty(authorizer.iam.userArn)) return `iam:${authorizer.iam.userArn}`;
    // REST Lambda authorizer (TOKEN or REQUEST).
    if (nonEmpty(authorizer.principalId)) return `lambda:${authorizer.principalId}`;
  }
  // REST IAM authorization.
  const identity = requestContext.identity;
  if (isObject(identity) && nonEmpty(identity.userArn)) return `iam:${identity.userArn}`;
  return undefined;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
