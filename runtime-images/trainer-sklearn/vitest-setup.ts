/**
 * Vitest global setup of the cluster suites: the scikit-learn trainer's Python environment
 * (`runtime-images/python/prepare-env.sh`; about half a minute once, instant afterwards), which
 * the process node runs the image `ghcr.io/lathe-dev/lathe-trainer-sklearn` with.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));

export default async function setup(): Promise<void> {
  const script = path.join(here, '../python/prepare-env.sh');
  try {
    await promisify(execFile)(
      'bash',
      [script, 'trainer-sklearn', path.join(here, 'requirements.txt')],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`Preparing the scikit-learn environment failed (${script}):\n${stderr}`, {
      cause: error,
    });
  }
}
