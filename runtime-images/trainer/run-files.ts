/**
 * `progress.json` and `history.json` of a training run (`RunFile` in the contract), rewritten
 * after every epoch for the operator to poll. Uploads never hold training up: one write is in
 * flight at a time, and epochs that end meanwhile are folded into the next write, which always
 * carries the latest state; `flush` waits for the last one.
 */
import { keyInArtifact, parseS3Uri, RunFile } from '../../contract/object-store-layout.js';
import type { EpochRecord, TrainingHistory, TrainingProgress } from '../../contract/results.js';

/** What the reporter needs of an object store (the `ObjectStore` fits). */
export interface RunFileWriter {
  write(bucket: string, key: string, body: Buffer | string, contentType?: string): Promise<void>;
}

export class RunReporter {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly epochs: EpochRecord[] = [];
  private inFlight: Promise<void> | undefined;
  private pending = false;
  private failure: unknown;

  constructor(
    private readonly store: RunFileWriter,
    runUri: string,
    private readonly totalEpochs: number,
    private readonly backend: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    const location = parseS3Uri(runUri);
    this.bucket = location.bucket;
    this.prefix = location.key;
  }

  /** Records an epoch and schedules an upload. */
  epoch(record: EpochRecord): void {
    this.epochs.push(record);
    this.schedule();
  }

  /** Schedules an upload of the current state (e.g. epoch 0 at the start). */
  schedule(): void {
    if (this.inFlight) {
      this.pending = true;
      return;
    }
    this.inFlight = this.upload().finally(() => {
      this.inFlight = undefined;
      if (this.pending) {
        this.pending = false;
        this.schedule();
      }
    });
  }

  /** Waits until the latest state is uploaded; throws the first upload error, if any. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.failure) throw this.failure;
  }

  /** The progress document of the current state. */
  progress(): TrainingProgress {
    const last = this.epochs.at(-1);
    return {
      epoch: last?.epoch ?? 0,
      totalEpochs: this.totalEpochs,
      ...(last ? { loss: last.loss } : {}),
      ...(last?.valLoss !== undefined ? { valLoss: last.valLoss } : {}),
      metrics: last?.metrics ?? {},
      backend: this.backend,
      updatedAt: this.now().toISOString(),
    };
  }

  private async upload(): Promise<void> {
    const history: TrainingHistory = { epochs: [...this.epochs] };
    const progress = this.progress();
    try {
      await this.store.write(
        this.bucket,
        keyInArtifact(this.prefix, RunFile.history),
        `${JSON.stringify(history)}\n`,
        'application/json',
      );
      await this.store.write(
        this.bucket,
        keyInArtifact(this.prefix, RunFile.progress),
        `${JSON.stringify(progress)}\n`,
        'application/json',
      );
    } catch (error) {
      this.failure ??= error;
    }
  }
}
