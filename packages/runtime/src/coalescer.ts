/** What a batch run answers for one item: its value, or the error that item alone failed with. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export type CoalescerOptions<In, Out> = {
  /**
   * Runs one batch (typically one transaction with set-based statements) and answers every item, in the
   * order given. A throw fails every item of the batch with that error.
   */
  run: (items: In[]) => Promise<Settled<Out>[]>;
  /** Items in one batch at most. */
  maxBatch?: number;
  /** Batches running at once (each holds one database connection while it runs). */
  maxInFlight?: number;
};

/**
 * Group commit: callers submit one item each and await its own result, while the items that arrive
 * together run as one batch. There is no timer. A batch starts at once when fewer than `maxInFlight`
 * batches are running, so a lone item waits for nothing; under load, items queue while batches run and
 * the next batch takes all of them (up to `maxBatch`). The busier it gets, the larger the batches and
 * the fewer the round trips and commits per item.
 */
export class Coalescer<In, Out> {
  private readonly queue: { item: In; resolve: (v: Out) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly opts: CoalescerOptions<In, Out>) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxInFlight = opts.maxInFlight ?? 2;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Items waiting for a batch, and batches running (for metrics and tests). */
  get pending(): { queued: number; inFlight: number } {
    return { queued: this.queue.length, inFlight: this.inFlight };
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.runBatch(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async runBatch(
    batch: { item: In; resolve: (v: Out) => void; reject: (e: unknown) => void }[],
  ): Promise<void> {
    let results: Settled<Out>[];
    try {
      results = await this.opts.run(batch.map((b) => b.item));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i];
      if (!r) b.reject(new Error("the batch gave no result for this item"));
      else if (r.ok) b.resolve(r.value);
      else b.reject(r.error);
    });
  }
}
