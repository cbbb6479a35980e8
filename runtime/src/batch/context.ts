// What every step of one batch input works with: the service, the S3 client, where the
// input's outputs go, and how the output table names the input.
import { BatchLayout, cleanEtag } from './layout';
import type { InferenceService } from '../service';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SinkObject } from './dynamo-sink';
import type { S3ObjectRef } from './layout';

export interface BatchContext {
  readonly service: InferenceService;
  readonly s3: S3Client;
  readonly layout: BatchLayout;
  /** s3://bucket/key of the input. */
  readonly input: string;
  /** The input object, as the output table's partition key names it. */
  readonly object: SinkObject;
}

/** The context of one input object: outputs in the output bucket (or its own), under the output prefix. */
export function contextFor(service: InferenceService, s3: S3Client, ref: S3ObjectRef): BatchContext {
  const layout = new BatchLayout(service.config.outputBucket ?? ref.bucket, service.config.outputPrefix, ref);
  return { service, s3, layout, input: `s3://${ref.bucket}/${ref.key}`, object: { bucket: ref.bucket, key: ref.key, etag: cleanEtag(ref.etag) } };
}
