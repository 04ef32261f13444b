/**
 * Vitest global setup for the `cluster` project: one local cluster for the whole run.
 *
 * A cluster already up (a developer's `npm run cluster:up`) is reused and left running;
 * otherwise one is brought up here and taken down when the run ends.
 */
import { down, isHealthy, up } from './cluster.js';

export default async function setup(): Promise<() => Promise<void>> {
  if (await isHealthy()) {
    console.error('[cluster] Reusing the running local cluster');
    return async () => {};
  }
  await up();
  return async () => {
    await down();
  };
}
