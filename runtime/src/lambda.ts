// The Lambda entry (bundled as dist/handler.mjs). The model is loaded and warmed with a
// top-level await, so the work happens in the init phase (and before provisioned
// concurrency reports ready), never in the first request.
import { configFromEnv } from './config';
import { createHandler } from './handler';
import { InferenceService } from './service';
import { createObservability } from './observability';

const config = configFromEnv();
const obs = createObservability(config.modelName);
let service: InferenceService;
try {
  service = await InferenceService.create(config, obs);
} catch (err) {
  obs.logger.critical('Init failed: the model could not be loaded, or the task does not fit it', { error: err as Error, modelUri: config.modelUri });
  throw err;
}

// A backend fault (a WebAssembly trap) ends the process after its answer: Lambda then
// replaces the execution environment instead of sending it more requests.
export const handler = createHandler(service, { exitOnBackendFault: true });
