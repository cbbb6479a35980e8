// Whether the TensorFlow backend can still run the model. A trap in a WebAssembly kernel
// (`memory access out of bounds` once the wasm heap is exhausted) can leave the heap
// corrupt: later calls fail, or answer wrong numbers. So the first trap marks the backend
// failed for good: every model call and health check answers 503 from then on, and the
// process's front door (the Lambda handler, the local server) ends the process once the
// requests in flight are answered, so that a fresh environment replaces it.
import { BackendFaultError, BACKEND_FAULT_MESSAGE, isBackendFault } from './errors';

/** The fault that ended the backend: the first WebAssembly trap seen. */
export interface BackendFault {
  readonly error: Error;
  readonly at: Date;
}

export type BackendFaultListener = (fault: BackendFault) => void;

export class BackendHealth {
  private current?: BackendFault;
  private readonly listeners: BackendFaultListener[] = [];

  /** The fault, once the backend has failed; undefined while it is healthy. */
  public get fault(): BackendFault | undefined {
    return this.current;
  }

  /** Calls `listener` once, when the backend fails (at once if it already has). */
  public onFault(listener: BackendFaultListener): void {
    if (this.current) listener(this.current);
    else this.listeners.push(listener);
  }

  /** Throws a BackendFaultError (503) once the backend has failed. */
  public check(): void {
    const fault = this.current;
    if (!fault) return;
    throw new BackendFaultError(
      `The TensorFlow backend failed at ${fault.at.toISOString()} (${fault.error.name}: ${fault.error.message}), so this environment no longer serves the model and is being replaced. Retry the request.`,
    );
  }

  /** Runs a model call: refused once the backend has failed; a trap during it fails the backend. */
  public async run<T>(work: () => Promise<T>): Promise<T> {
    this.check();
    try {
      return await work();
    } catch (err) {
      if (!isBackendFault(err)) throw err;
      this.fail(err as Error);
      throw new BackendFaultError(BACKEND_FAULT_MESSAGE, { cause: err });
    }
  }

  private fail(error: Error): void {
    if (this.current) return;
    const fault = { error, at: new Date() };
    this.current = fault;
    for (const listener of this.listeners.splice(0)) listener(fault);
  }
}
