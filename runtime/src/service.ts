// The inference service: everything that happens once per process (backend, model
// download and load, task setup, warm-up) and the operations requests call. It holds
// no per-request state, so one instance serves concurrent invocations safely.
import { performance } from 'node:perf_hooks';
import { initBackend, tf } from './backend';
import { resolveModelDir } from './model-store';
import { loadModel } from './model';
import { ImageClassifier } from './tasks/image-classification';
import { TabularPredictor } from './tasks/tabular';
import { TensorPredictor } from './tasks/tensor';
import { createObservability } from './observability';
import { coalescedModel } from './coalescing/coalesced-model';
import { describeCoalescing, resolveCoalescing } from './coalescing/queue';
import { NotFoundError } from './errors';
import { BackendHealth } from './backend-health';
import type { BackendFault, BackendFaultListener } from './backend-health';
import type { BackendChoice } from './backend';
import type { RuntimeConfig } from './config';
import type { ServableModel } from './model';
import type { Observability } from './observability';
import type { LabelScore } from './tasks/postprocess';
import type { TabularPrediction } from './tasks/tabular';
import type { InferAnswer, InferOptions } from './tasks/tensor';
import type { ResolvedCoalescing } from './coalescing/queue';

export interface ServiceInfo {
  readonly modelName: string;
  readonly backend: BackendChoice;
  readonly format: ServableModel['format'];
  readonly task: RuntimeConfig['task']['type'];
  readonly modelDir: string;
  readonly loadMs: number;
  /** Request coalescing (dynamic batching) of concurrent requests: maxRows 1 is off. */
  readonly coalescing: ResolvedCoalescing;
}

export class InferenceService {
  /** Loads the model and warms it: call once, in the init phase. */
  public static async create(config: RuntimeConfig, obs: Observability = createObservability(config.modelName)): Promise<InferenceService> {
    const started = performance.now();
    const log = (msg: string, extra?: object) => obs.logger.info(msg, { ...extra });
    const backend = await initBackend(config.backend, log);
    const modelDir = await resolveModelDir(config.modelUri, { cacheDir: config.cacheDir, logger: { info: log }, modelFile: config.modelFile });
    const model = await loadModel(tf, modelDir, config.modelFormat, backend, config.modelFile);
    let service: InferenceService;
    try {
      service = new InferenceService(config, obs, model, backend, modelDir);
    } catch (err) {
      // The task does not fit the model: free its weights (a test or the local server goes on).
      model.dispose();
      throw err;
    }
    try {
      await service.warmUp();
    } catch (err) {
      model.dispose();
      throw err;
    }
    service.warm = true;
    const loadMs = performance.now() - started;
    service.loadMs = loadMs;
    for (const warning of config.deprecations ?? []) obs.logger.warn(warning);
    obs.modelLoaded(loadMs, { backend: backend.name, format: model.format, task: config.task.type, modelDir, coalescing: describeCoalescing(service.coalescing) });
    return service;
  }

  public readonly tensors: TensorPredictor;
  public readonly images?: ImageClassifier;
  public readonly tabular?: TabularPredictor;
  public readonly coalescing: ResolvedCoalescing;
  private loadMs = 0;
  private readonly health = new BackendHealth();
  /** Set after the warm-up prediction, which is not a request and emits no metrics. */
  private warm = false;

  private constructor(
    public readonly config: RuntimeConfig,
    public readonly obs: Observability,
    public readonly model: ServableModel,
    public readonly backend: BackendChoice,
    private readonly modelDir: string,
  ) {
    // With coalescing on, the tasks run the model through the coalesced model, which emits
    // InferenceTime and BatchSize once per model call (several requests' rows); with it off, each
    // request is one model call and emits them itself (timed()).
    this.coalescing = resolveCoalescing(config, backend.name);
    const served = this.coalescing.maxRows > 1
      ? coalescedModel(tf, model, {
        ...this.coalescing,
        onCall: (ms, rows) => {
          if (this.warm) obs.inference(ms, rows);
        },
        onUnbatchable: (reason) => obs.logger.warn('Request coalescing stopped for this model: its outputs are not batch-major', { reason }),
        queueing: () => this.warm,
      })
      : model;
    this.health.onFault((fault) => obs.logger.critical('The TensorFlow backend failed: this environment answers 503 from now on and must be replaced', { error: fault.error }));
    this.tensors = new TensorPredictor(tf, served);
    const task = config.task;
    if (task.type === 'image-classification') this.images = new ImageClassifier(tf, served, task, config);
    if (task.type === 'tabular') this.tabular = new TabularPredictor(tf, served, task);
  }

  public get modelName(): string {
    return this.config.modelName;
  }

  public get info(): ServiceInfo {
    return {
      modelName: this.modelName, backend: this.backend, format: this.model.format,
      task: this.config.task.type, modelDir: this.modelDir, loadMs: Math.round(this.loadMs), coalescing: this.coalescing,
    };
  }

  /** The backend's fault, once a model call has made it fail (a WebAssembly trap); undefined while healthy. */
  public get backendFault(): BackendFault | undefined {
    return this.health.fault;
  }

  /** Calls `listener` once, when the backend fails: the front door ends the process after answering. */
  public onBackendFault(listener: BackendFaultListener): void {
    this.health.onFault(listener);
  }

  /** Raises 503 once the backend has failed: the health and readiness routes answer with it. */
  public checkHealthy(): void {
    this.health.check();
  }

  /** Raises 404 unless `name` is this model's name (TF Serving's answer for an unknown servable). */
  public checkModelName(name: string): void {
    if (name !== this.modelName) {
      throw new NotFoundError(`Servable not found for request: Latest(${name}). This function serves the model '${this.modelName}'.`);
    }
  }

  public classify(images: readonly Uint8Array[]): Promise<(LabelScore[] | Error)[]> {
    const classifier = this.requireImages();
    return this.timed(images.length, () => classifier.classify(images));
  }

  public predictRows(vectors: readonly Float32Array[]): Promise<TabularPrediction[]> {
    const tabular = this.tabular;
    if (!tabular) throw new NotFoundError(`The model '${this.modelName}' serves the ${this.config.task.type} task, not tabular rows.`);
    return this.timed(vectors.length, () => tabular.predict(vectors));
  }

  /** predictRows() before the answers are built: the model's output for `n` rows of features in one buffer (TabularPredictor.scores). */
  public predictScores(flat: Float32Array, n: number): Promise<Float32Array> {
    const tabular = this.tabular;
    if (!tabular) throw new NotFoundError(`The model '${this.modelName}' serves the ${this.config.task.type} task, not tabular rows.`);
    return this.timed(n, () => tabular.scores(flat, n));
  }

  public predictRest(body: unknown): Promise<Record<string, unknown>> {
    return this.timed(batchOf(body), () => this.tensors.predictRest(body));
  }

  public inferV2(body: unknown): Promise<Record<string, unknown>> {
    return this.timed(1, () => this.tensors.inferV2(body, this.modelName));
  }

  /** KServe V2 infer with binary tensor data in, and binary outputs out when asked for (HTTP). */
  public infer(body: unknown, options: InferOptions): Promise<InferAnswer> {
    return this.timed(1, () => this.tensors.infer(body, this.modelName, options));
  }

  public requireImages(): ImageClassifier {
    if (!this.images) {
      throw new NotFoundError(`The model '${this.modelName}' serves the ${this.config.task.type} task; /classify is for image-classification models. Use POST /v1/models/${this.modelName}:predict.`);
    }
    return this.images;
  }

  /** The warm-up prediction, unless the task turns it off (`"warmUp": false`). */
  private async warmUp(): Promise<void> {
    const setting = this.config.task.warmUp;
    if (setting === false) return;
    if (this.images) return this.images.warmUp();
    if (this.tabular) return this.tabular.warmUp();
    return this.tensors.warmUp(setting);
  }

  /** Every model call of a request: refused once the backend has failed, and timed unless coalescing times it. */
  private timed<T>(batchSize: number, work: () => Promise<T>): Promise<T> {
    return this.health.run(async () => {
      if (this.coalescing.maxRows > 1) return work();
      const started = performance.now();
      const result = await work();
      this.obs.inference(performance.now() - started, batchSize);
      return result;
    });
  }
}

function batchOf(body: unknown): number {
  const instances = (body as { instances?: unknown } | null)?.instances;
  return Array.isArray(instances) ? instances.length : 1;
}
