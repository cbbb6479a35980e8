// The runtime's AWS clients take their region, credentials and endpoints from the
// environment, as on Lambda. A test file points them at its loopback peers for its run
// and puts the environment back afterwards.
import { S3_CREDENTIALS } from './s3-server';

const AWS_ENV = ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_SNS', 'AWS_ENDPOINT_URL_EVENTBRIDGE'] as const;

export type AwsEnvironment = Partial<Record<(typeof AWS_ENV)[number], string>>;

/**
 * Sets the AWS environment: us-east-1 and the peers' dummy credentials, then `values`;
 * every other AWS variable (a developer's profile, session token or endpoints) unset.
 * Returns the function that puts back what was there.
 */
export function useAwsEnvironment(values: AwsEnvironment): () => void {
  const saved = Object.fromEntries(AWS_ENV.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV) delete process.env[k];
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    ...values,
  });
  return () => {
    for (const k of AWS_ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}
