/**
 * A bounded, batched JSON Lines writer to the object store: the request log and the labels
 * both go through one of these (`feedbackFileKey` names the files).
 *
 * `add` never blocks and never throws: it serialises the record into a buffer and returns; the
 * buffer is written as one file every `flushIntervalMs`, when it reaches `maxLinesPerFile`, and
 * on `close` (shutdown). When the buffer is full (`maxBufferedBytes`) a record is dropped and
 * counted rather than slowing requests down or growing memory without bound; a failed write is
 * retried at the next flush while the lines still fit, and dropped otherwise.
 *
 * At shutdown `closeWithin` closes the sinks with a time bound: a store that does not answer
 * cannot keep the pod past its grace period; what was not written by then is counted and lost.
 */
import { type FeedbackKind, feedbackFileKey } from '../../contract/object-store-layout.js';

export interface JsonLinesSinkOptions {
  kind: FeedbackKind;
  bucket: string;
  /** The feedback prefix (`feedback/<ns>/<isvc>/`). */
  prefix: string;
  /** Names this replica's files. */
  writer: string;
  write: (bucket: string, key: string, body: Buffer) => Promise<void>;
  flushIntervalMs: number;
  maxBufferedBytes?: number;
  maxLinesPerFile?: number;
  onWritten?: (records: number) => void;
  onDropped?: (records: number) => void;
  onWriteFailure?: (error: unknown) => void;
  now?: () => Date;
}

export class JsonLinesSink {
  private lines: string[] = [];
  private bytes = 0;
  private firstAt: Date | undefined;
  private seq = 0;
  /** Records of the write in progress. */
  private writing = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly maxBufferedBytes: number;
  private readonly maxLinesPerFile: number;
  private readonly now: () => Date;

  constructor(private readonly options: JsonLinesSinkOptions) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.maxLinesPerFile = options.maxLinesPerFile ?? 5000;
    this.now = options.now ?? (() => new Date());
  }

  /** Starts the periodic flush (the timer does not keep the process alive). */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Buffers one record; false when it was dropped because the buffer is full. */
  add(record: object): boolean {
    const line = `${JSON.stringify(record)}\n`;
    const size = Buffer.byteLength(line);
    if (this.bytes + size > this.maxBufferedBytes) {
      this.options.onDropped?.(1);
      return false;
    }
    if (this.lines.length === 0) this.firstAt = this.now();
    this.lines.push(line);
    this.bytes += size;
    if (this.lines.length >= this.maxLinesPerFile) void this.flush();
    return true;
  }

  /** Records buffered and not yet written. */
  get buffered(): number {
    return this.lines.length;
  }

  /** Records not written yet: buffered, or in a write still in progress. */
  get unwritten(): number {
    return this.lines.length + this.writing;
  }

  /** Writes whatever is buffered as one file; resolves when it (and any earlier flush) is done. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeBuffered());
    return this.flushing;
  }

  /** Stops the timer and writes what is left; what still cannot be written is dropped. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.lines.length > 0) {
      this.options.onDropped?.(this.lines.length);
      this.lines = [];
      this.bytes = 0;
    }
  }

  private async writeBuffered(): Promise<void> {
    if (this.lines.length === 0) return;
    const lines = this.lines;
    const bytes = this.bytes;
    const firstAt = this.firstAt ?? this.now();
    this.lines = [];
    this.bytes = 0;
    this.firstAt = undefined;
    const key = feedbackFileKey(
      this.options.prefix,
      this.options.kind,
      firstAt,
      this.options.writer,
      this.seq++,
    );
    this.writing = lines.length;
    try {
      await this.options.write(this.options.bucket, key, Buffer.from(lines.join('')));
      this.writing = 0;
      this.options.onWritten?.(lines.length);
    } catch (error) {
      this.writing = 0;
      this.options.onWriteFailure?.(error);
      if (this.bytes + bytes <= this.maxBufferedBytes) {
        // Keep them for the next flush, ahead of what arrived meanwhile.
        this.lines = [...lines, ...this.lines];
        this.bytes += bytes;
        this.firstAt = firstAt;
      } else {
        this.options.onDropped?.(lines.length);
      }
    }
  }
}

/**
 * Closes `sinks` (writing what they buffer), waiting at most `timeoutMs`. Resolves with whether
 * they all finished and how many records were still unwritten when it gave up (0 when done).
 */
export async function closeWithin(
  sinks: readonly (JsonLinesSink | undefined)[],
  timeoutMs: number,
): Promise<{ complete: boolean; unwritten: number }> {
  const open = sinks.filter((s): s is JsonLinesSink => s !== undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const complete = await Promise.race([
      Promise.all(open.map((s) => s.close())).then(() => true),
      timedOut,
    ]);
    const unwritten = complete ? 0 : open.reduce((n, s) => n + s.unwritten, 0);
    return { complete, unwritten };
  } finally {
    clearTimeout(timer);
  }
}
