/**
 * The engine backends of this build (besides the built-in Indexed Job, which needs nothing) and
 * which of them the operator can run with: a backend's kinds are owned and watched, and an
 * informer on a kind the API server does not serve would never sync, so the operator asks
 * discovery once when it starts and takes the engines that are installed then (as Kueue and
 * Kubeflow Trainer enable their integrations). An engine installed later is used after the
 * operator restarts; until then Auto passes it over, and a run pinned to it stalls saying so.
 */
import type { KubeClient } from '../../../runtime/kube-client.js';
import type { DistributedBackend } from './backend.js';
import { jobSetBackend } from './jobset.js';
import { trainJobBackend } from './trainjob.js';

/** Every engine backend this build has, in the order Auto prefers them. */
export const engineBackends: readonly DistributedBackend[] = [trainJobBackend, jobSetBackend];

/** The engine backends whose top kind the API server serves now. */
export async function servedEngineBackends(
  client: Pick<KubeClient, 'servedResources'>,
  backends: readonly DistributedBackend[] = engineBackends,
): Promise<DistributedBackend[]> {
  const served: DistributedBackend[] = [];
  for (const backend of backends) {
    const { group, version, plural } = backend.topKind.resource;
    const resources = await client.servedResources(group, version);
    if (resources?.includes(plural)) served.push(backend);
  }
  return served;
}
