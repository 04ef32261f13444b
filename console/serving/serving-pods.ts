/**
 * The serving pods the sampler reads, from an informer of its own: pods carrying the
 * `lathe.dev/inferenceservice` label the InferenceService controller puts on every server pod
 * (`childLabels`), indexed by `<namespace>/<inferenceservice>`, the way the operator's
 * `podsOfService` index finds them. Only pods, only those labelled, so the console's memory does
 * not grow with the cluster's other workloads; the transform the operator's caches apply to
 * pods (`cachedPod`) drops what the sampler does not read.
 */
import type { Logger } from 'pino';
import type { InferenceServiceObject } from '../../operator/src/controllers/lathe-kinds.js';
import { kinds, type PodObject } from '../../operator/src/runtime/builtin-kinds.js';
import type { ObjectReader } from '../../operator/src/runtime/cache.js';
import { defaultCacheTransforms } from '../../operator/src/runtime/cache-transforms.js';
import { InformerFactory } from '../../operator/src/runtime/informer-factory.js';
import type { KubeClient } from '../../operator/src/runtime/kube-client.js';
import { ownerLabel } from '../../operator/src/runtime/labels.js';
import type { ServingPod } from './sampler.js';

const SERVICE_LABEL = ownerLabel('InferenceService');
const BY_SERVICE = 'serving-pods-by-service';

/** The ready pods of `pods` that have an IP, as the sampler reads them. */
export function readyServingPods(pods: readonly PodObject[]): ServingPod[] {
  return pods.flatMap((pod) => {
    const ip = pod.status?.podIP;
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    return ip && ready && !pod.metadata?.deletionTimestamp
      ? [{ name: pod.metadata?.name ?? ip, ip }]
      : [];
  });
}

/** An informer of serving pods; `start` it, then `podsOf` answers from its cache. */
export class ServingPods {
  readonly #factory: InformerFactory;
  readonly #reader: ObjectReader<PodObject>;

  constructor(options: {
    client: Pick<KubeClient, 'list' | 'watch'>;
    log: Logger;
    /** Empty: all namespaces. */
    namespaces: readonly string[];
  }) {
    this.#factory = new InformerFactory({
      ...options,
      resyncMs: 0,
      transforms: defaultCacheTransforms,
    });
    const scope = { labelSelector: SERVICE_LABEL };
    this.#factory.addIndexer(
      kinds.pod,
      BY_SERVICE,
      (pod) => {
        const service = pod.metadata?.labels?.[SERVICE_LABEL];
        return service ? [`${pod.metadata?.namespace ?? ''}/${service}`] : [];
      },
      scope,
    );
    this.#reader = this.#factory.reader(kinds.pod, scope);
  }

  start(): void {
    this.#factory.start();
  }

  stop(): Promise<void> {
    return this.#factory.stop();
  }

  /** The ready pods of `isvc` (every served version), from the cache. */
  podsOf(isvc: InferenceServiceObject): ServingPod[] {
    const key = `${isvc.metadata.namespace ?? ''}/${isvc.metadata.name ?? ''}`;
    return readyServingPods(this.#reader.byIndex(BY_SERVICE, key));
  }
}
