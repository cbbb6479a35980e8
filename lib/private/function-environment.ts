// Reads a function's environment as it stands, so BatchInference and AsyncInference can
// refuse to overwrite another front door's (or the user's) settings instead of changing them silently.
import { Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/** The function's environment variables as they stand now, resolved. */
export function currentEnvironment(fn: lambda.Function): Record<string, unknown> {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const resolved = Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown>; Variables?: Record<string, unknown> } | undefined;
  return resolved?.variables ?? resolved?.Variables ?? {};
}
