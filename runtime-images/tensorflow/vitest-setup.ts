/**
 * Vitest global setup: builds the native TensorFlow.js addon if it is not cached yet
 * (`prepare.sh`; about a minute once, instant afterwards), so the tests that train on native
 * TensorFlow never find it missing, and never skip.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prepare.sh');

export default async function setup(): Promise<void> {
  try {
    await promisify(execFile)('bash', [script], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`Building the native TensorFlow.js addon failed (${script}):\n${stderr}`, {
      cause: error,
    });
  }
}
