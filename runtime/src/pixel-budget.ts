// How many image pixels may be decoded and resized at once in this process. Each request's
// images are bounded (one image, and all of a request's images together, by the pixel
// limit), but concurrent requests (the local server, Lambda Managed Instances' several
// invocations per environment, request coalescing) would multiply that: sixteen 36 MP
// JPEGs at once took the process to 3.15 GB. Requests take their pixels from this budget
// before decoding and give them back once their tensors are built; the rest wait, first
// come first served, so memory stays at one full budget whatever the concurrency.

/** A first-come-first-served budget of pixels; `capacity` is the pixel limit. */
export class PixelBudget {
  private inUse = 0;
  private readonly waiting: { readonly pixels: number; readonly start: () => void }[] = [];

  public constructor(public readonly capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) throw new Error(`PixelBudget: capacity must be a positive integer, not ${capacity}.`);
  }

  /** Pixels taken by the work running now. */
  public get taken(): number {
    return this.inUse;
  }

  /** Work waiting for pixels. */
  public get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` once `pixels` (at most the capacity) are free, and frees them when it
   * settles. Work that asks for more than is ever free waits until nothing else runs.
   */
  public async run<T>(pixels: number, work: () => Promise<T>): Promise<T> {
    const want = Math.min(Math.max(0, Math.ceil(pixels)), this.capacity);
    await this.acquire(want);
    try {
      return await work();
    } finally {
      this.inUse -= want;
      this.drain();
    }
  }

  private acquire(pixels: number): Promise<void> {
    // Nobody overtakes work that waits: a large request is not starved by small ones.
    if (this.waiting.length === 0 && this.inUse + pixels <= this.capacity) {
      this.inUse += pixels;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ pixels, start: resolve }));
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.inUse + this.waiting[0].pixels <= this.capacity) {
      const next = this.waiting.shift()!;
      this.inUse += next.pixels;
      next.start();
    }
  }
}
