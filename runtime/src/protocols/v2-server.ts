// The server-wide routes of the Open Inference Protocol: GET /v2 (server metadata, with the
// extensions served), /v2/health/live and /v2/health/ready. Both health routes answer 503
// once the TensorFlow backend has failed: the environment must be replaced, which is what a
// failing liveness or readiness probe asks of an orchestrator.
import { tf } from '../backend';
import { BINARY_TENSOR_DATA_EXTENSION } from './v2-binary';
import type { InferenceService } from '../service';

/** The server's name in GET /v2. */
export const SERVER_NAME = 'cdk-serverless-tensorflow';

/** GET /v2: the server's name, version (that of TensorFlow.js, which runs the model) and the protocol extensions it serves. */
export function serverMetadataV2(): Record<string, unknown> {
  return { name: SERVER_NAME, version: tf.version.tfjs, extensions: [BINARY_TENSOR_DATA_EXTENSION] };
}

/** GET /v2/health/live: `{"live": true}`, with /health's fields (model, backend, format, task). */
export function serverLive(service: InferenceService): Record<string, unknown> {
  service.checkHealthy();
  return { live: true, ...healthFields(service) };
}

/** GET /v2/health/ready: `{"ready": true}` once the model is loaded and warmed (the service exists only then), with /health's fields. */
export function serverReady(service: InferenceService): Record<string, unknown> {
  service.checkHealthy();
  return { ready: true, ...healthFields(service) };
}

/** What GET /health answers: the model, the backend, the format and the task. */
export function healthFields(service: InferenceService): Record<string, unknown> {
  const info = service.info;
  return { status: 'ok', model: info.modelName, backend: info.backend.name, format: info.format, task: info.task };
}
