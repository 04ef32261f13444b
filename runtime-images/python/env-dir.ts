/**
 * Where `prepare-env.sh` keeps a Python environment: the same path computed in TypeScript, for
 * the process node's image map and the benchmark, which run programs from it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../tensorflow/backend.js';

/** `<cache>/python/<name>-<sha256 of the requirements, 12 hex>`. */
export function pythonEnvDir(
  name: string,
  requirementsFile: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const hash = createHash('sha256').update(readFileSync(requirementsFile)).digest('hex');
  return path.join(cacheRoot(env), 'python', `${name}-${hash.slice(0, 12)}`);
}

/** The environment's interpreter. */
export function pythonOf(envDir: string): string {
  return path.join(envDir, 'bin', 'python');
}
