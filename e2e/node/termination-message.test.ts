import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { terminationMessageOf } from './termination-message.js';

const dir = mkdtempSync(path.join(tmpdir(), 'term-'));
const messagePath = path.join(dir, 'msg');
const logPath = path.join(dir, 'log');
writeFileSync(
  logPath,
  `old run\n${Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n')}\n`,
);
const logOffset = 'old run\n'.length;

describe('terminationMessageOf', () => {
  it.each<[string, string, string | undefined, number, string | undefined]>([
    ['the written message', 'model not found', undefined, 1, 'model not found'],
    ['nothing when nothing was written', '', 'File', 1, undefined],
    ['nothing on success with the fallback', '', 'FallbackToLogsOnError', 0, undefined],
  ])('gives %s', (_, written, policy, exitCode, expected) => {
    writeFileSync(messagePath, written);
    expect(terminationMessageOf({ messagePath, policy, exitCode, logPath, logOffset })).toBe(
      expected,
    );
  });

  it('falls back to the last 80 lines of this run’s log on failure', () => {
    writeFileSync(messagePath, '');
    const message = terminationMessageOf({
      messagePath,
      policy: 'FallbackToLogsOnError',
      exitCode: 2,
      logPath,
      logOffset,
    });
    expect(message?.split('\n')).toHaveLength(80);
    expect(message?.endsWith('line 99')).toBe(true);
  });

  it('keeps the first 4 KiB of a long message', () => {
    writeFileSync(messagePath, `start${'x'.repeat(10_000)}`);
    const message = terminationMessageOf({
      messagePath,
      policy: undefined,
      exitCode: 1,
      logPath,
      logOffset,
    });
    expect(message).toHaveLength(4096);
    expect(message?.startsWith('start')).toBe(true);
  });
});
