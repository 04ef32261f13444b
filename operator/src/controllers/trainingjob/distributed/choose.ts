/**
 * Which engine runs a distributed TrainingJob, decided from what the API server serves — the way
 * Kubeflow's SDKs and Kueue decide whether an integration is usable: by discovery, never by a
 * guess or a flag.
 *
 * Auto prefers the most capable engine installed: Kubeflow Trainer's `TrainJob` when the API
 * group `trainer.kubeflow.org` serves it and a `ClusterTrainingRuntime` (or a `TrainingRuntime`
 * in the TrainingJob's namespace) exists for it to run from; else JobSet when `jobset.x-k8s.io`
 * serves `JobSet`; else the Indexed Job, which needs nothing but `batch/v1`. A pinned backend
 * whose API is missing stalls the TrainingJob with a reason, instead of silently running
 * somewhere else. An engine this operator build has no backend for counts as not installed.
 *
 * `chooseBackend` is pure; `EngineDiscovery` asks the API server and keeps the answer for a
 * while, so a reconcile does not pay for discovery and an engine installed later is seen.
 */
import type { DistributedBackendName, DistributedSpec } from '../../../api/trainingjob.js';
import { isForbidden, isNotFound, type KubeClient } from '../../../runtime/kube-client.js';
import type { ResourceType } from '../../../runtime/resource.js';

/** What the API server offers, for one namespace. */
export interface InstalledEngines {
  /** `trainer.kubeflow.org` serves `trainjobs`. */
  trainJob: boolean;
  /** A ClusterTrainingRuntime, or a TrainingRuntime in the namespace, exists. */
  trainingRuntime: boolean;
  /** `jobset.x-k8s.io` serves `jobsets`. */
  jobSet: boolean;
}

export type BackendChoice =
  | { backend: DistributedBackendName; reason: string; message: string }
  | { backend: undefined; reason: 'BackendNotInstalled'; message: string };

/** Auto's order of preference. */
const AUTO_ORDER: readonly DistributedBackendName[] = ['TrainJob', 'JobSet', 'IndexedJob'];

/** The engines' names and what their absence looks like from the API server. */
const ENGINE_NAME: Record<DistributedBackendName, string> = {
  TrainJob: 'Kubeflow Trainer',
  JobSet: 'JobSet',
  IndexedJob: 'the Indexed Job',
};

/**
 * Why an engine cannot run here, or undefined when it can. Whether it is installed is asked
 * first: a user who never installed JobSet should read that, not that the operator skipped it.
 */
function missing(
  backend: DistributedBackendName,
  installed: InstalledEngines,
  implemented: ReadonlySet<DistributedBackendName>,
  unfit: Unfit,
): string | undefined {
  if (backend === 'TrainJob') {
    if (!installed.trainJob)
      return 'Kubeflow Trainer is not installed (no trainer.kubeflow.org TrainJob)';
    if (!installed.trainingRuntime)
      return 'Kubeflow Trainer is installed but no ClusterTrainingRuntime (or TrainingRuntime in this namespace) exists';
  }
  if (backend === 'JobSet' && !installed.jobSet)
    return 'JobSet is not installed (no jobset.x-k8s.io JobSet)';
  if (!implemented.has(backend))
    return backend === 'IndexedJob'
      ? 'this operator build has no Indexed Job backend'
      : `${ENGINE_NAME[backend]} was installed after the operator started: restart the operator to use it`;
  return unfit[backend];
}

/** Whether the engine (with a runtime, for Trainer) is absent from the API server. */
function notInstalled(backend: DistributedBackendName, installed: InstalledEngines): boolean {
  if (backend === 'TrainJob') return !installed.trainJob || !installed.trainingRuntime;
  return backend === 'JobSet' && !installed.jobSet;
}

/** Why an installed engine cannot run this TrainingJob, by backend (see `unfitBackends`). */
export type Unfit = Partial<Record<DistributedBackendName, string>>;

/**
 * The backends that cannot run this TrainingJob although installed: Kubeflow Trainer's runtime
 * gives the trainer container a command of its own, so a TrainJob needs the image's command.
 * Pure.
 */
export function unfitBackends(customCommand: readonly string[] | undefined): Unfit {
  return customCommand
    ? {}
    : {
        TrainJob:
          "Kubeflow Trainer's runtime replaces the image's entrypoint with its own command: set spec.model.custom.command to run on TrainJob",
      };
}

/** The backend of a distributed run: the pinned one if it can run, else Auto's pick. Pure. */
export function chooseBackend(
  pinned: DistributedSpec['backend'],
  installed: InstalledEngines,
  implemented: ReadonlySet<DistributedBackendName>,
  unfit: Unfit = {},
): BackendChoice {
  if (pinned !== 'Auto') {
    const why = missing(pinned, installed, implemented, unfit);
    return why
      ? {
          backend: undefined,
          reason: 'BackendNotInstalled',
          message: `spec.distributed.backend is ${pinned}, but ${why}; ${
            notInstalled(pinned, installed) ? 'install it or set' : 'or set'
          } backend Auto`,
        }
      : { backend: pinned, reason: 'Pinned', message: `spec.distributed.backend pins ${pinned}` };
  }
  const skipped: string[] = [];
  for (const backend of AUTO_ORDER) {
    const why = missing(backend, installed, implemented, unfit);
    if (why) {
      skipped.push(why);
      continue;
    }
    if (backend === 'TrainJob')
      return {
        backend,
        reason: 'TrainJobInstalled',
        message: 'Auto: Kubeflow Trainer serves TrainJob and a training runtime exists',
      };
    if (backend === 'JobSet')
      return {
        backend,
        reason: 'JobSetInstalled',
        message: `Auto: JobSet is installed (${skipped.join('; ')})`,
      };
    return {
      backend,
      reason: 'NoEngineInstalled',
      message: `Auto: an Indexed Job with a headless Service (${skipped.join('; ')})`,
    };
  }
  // Unreachable while IndexedJob is implemented; kept for a build without it.
  return { backend: undefined, reason: 'BackendNotInstalled', message: skipped.join('; ') };
}

/** Kubeflow Trainer v2's and JobSet's resources, as discovery and lists address them. */
export const engineResources = {
  trainJob: {
    group: 'trainer.kubeflow.org',
    version: 'v1alpha1',
    kind: 'TrainJob',
    plural: 'trainjobs',
    namespaced: true,
  },
  clusterTrainingRuntime: {
    group: 'trainer.kubeflow.org',
    version: 'v1alpha1',
    kind: 'ClusterTrainingRuntime',
    plural: 'clustertrainingruntimes',
    namespaced: false,
  },
  trainingRuntime: {
    group: 'trainer.kubeflow.org',
    version: 'v1alpha1',
    kind: 'TrainingRuntime',
    plural: 'trainingruntimes',
    namespaced: true,
  },
  jobSet: {
    group: 'jobset.x-k8s.io',
    version: 'v1alpha2',
    kind: 'JobSet',
    plural: 'jobsets',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** How long a discovery answer is kept. */
export const DISCOVERY_TTL_MS = 30_000;

/**
 * Discovery of the engines through the API server (`/apis/<group>/<version>`), cached for
 * `ttlMs`. Runtimes are listed (one item is enough); a list the operator may not make counts as
 * none, so a missing RBAC rule degrades to the next engine instead of failing every run.
 */
export class EngineDiscovery {
  readonly #client: KubeClient;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #served = new Map<string, { at: number; resources: Promise<string[] | undefined> }>();
  readonly #runtimes = new Map<string, { at: number; exists: Promise<boolean> }>();

  constructor(client: KubeClient, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#client = client;
    this.#ttlMs = options.ttlMs ?? DISCOVERY_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The engines installed, as seen from `namespace`. */
  async installed(namespace: string): Promise<InstalledEngines> {
    const [trainer, jobset] = await Promise.all([
      this.#servedResources(engineResources.trainJob),
      this.#servedResources(engineResources.jobSet),
    ]);
    const trainJob = trainer?.includes(engineResources.trainJob.plural) ?? false;
    const trainingRuntime = trainJob ? await this.#runtimeExists(namespace) : false;
    return {
      trainJob,
      trainingRuntime,
      jobSet: jobset?.includes(engineResources.jobSet.plural) ?? false,
    };
  }

  #fresh(at: number): boolean {
    return this.#now() - at < this.#ttlMs;
  }

  #servedResources(resource: ResourceType): Promise<string[] | undefined> {
    const key = `${resource.group}/${resource.version}`;
    const cached = this.#served.get(key);
    if (cached && this.#fresh(cached.at)) return cached.resources;
    const resources = this.#client.servedResources(resource.group, resource.version);
    this.#served.set(key, { at: this.#now(), resources });
    // A failed discovery is not kept: the next reconcile asks again.
    resources.catch(() => this.#served.delete(key));
    return resources;
  }

  #runtimeExists(namespace: string): Promise<boolean> {
    const cached = this.#runtimes.get(namespace);
    if (cached && this.#fresh(cached.at)) return cached.exists;
    const exists = (async () => {
      for (const [resource, ns] of [
        [engineResources.clusterTrainingRuntime, undefined],
        [engineResources.trainingRuntime, namespace],
      ] as const) {
        try {
          const list = await this.#client.list(resource, { namespace: ns, limit: 1 });
          if (list.items.length > 0) return true;
        } catch (error) {
          if (!isNotFound(error) && !isForbidden(error)) throw error;
        }
      }
      return false;
    })();
    this.#runtimes.set(namespace, { at: this.#now(), exists });
    exists.catch(() => this.#runtimes.delete(namespace));
    return exists;
  }
}
