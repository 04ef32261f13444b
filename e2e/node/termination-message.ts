/**
 * A finished container's termination message: what it wrote to its terminationMessagePath
 * (at most 4 KiB), or with `FallbackToLogsOnError` and a failure, the tail of its log (at
 * most 80 lines and 2 KiB), as the kubelet does.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const maxMessageBytes = 4096;
const fallbackLines = 80;
const fallbackBytes = 2048;

/** Up to `maxBytes` of `file` from `from`: its start (`fromEnd` false) or its end. */
function readRange(file: string, from: number, maxBytes: number, fromEnd = true): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const start = fromEnd ? Math.max(from, size - maxBytes) : from;
    const length = Math.min(size - start, maxBytes);
    const buffer = Buffer.alloc(Math.max(0, length));
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer;
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The last `fallbackLines` lines of `text`. */
export function logTail(text: string): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-fallbackLines).join('\n');
}

/** The termination message of a run; undefined when there is none. */
export function terminationMessageOf(options: {
  messagePath: string;
  policy: string | undefined;
  exitCode: number;
  logPath: string;
  logOffset: number;
}): string | undefined {
  const written = readRange(options.messagePath, 0, maxMessageBytes, false).toString('utf8');
  if (written) return written;
  if (options.policy === 'FallbackToLogsOnError' && options.exitCode !== 0) {
    const tail = logTail(
      readRange(options.logPath, options.logOffset, fallbackBytes).toString('utf8'),
    );
    return tail || undefined;
  }
  return undefined;
}
