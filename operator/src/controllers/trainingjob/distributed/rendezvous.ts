/**
 * The rendezvous environment every distributed backend gives every worker: where worker 0
 * listens, how many workers and processes there are, and which worker this is — the names
 * PyTorch reads (`MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE`, `NODE_RANK`, `RANK`) and torchrun's
 * own defaults for its flags (`PET_NNODES`, `PET_NPROC_PER_NODE`, `PET_NODE_RANK`,
 * `PET_MASTER_ADDR`, `PET_MASTER_PORT`; torchrun reads `PET_<FLAG>` for every `--<flag>`).
 *
 * One builder for all backends, so a trainer image runs unchanged on TrainJob, JobSet or the
 * Indexed Job. Except that on Kubeflow Trainer the torch plugin sets the five `PET_*` names itself
 * and its webhook rejects a TrainJob whose trainer sets any of them
 * (`constants.TorchRunReservedEnvNames` in github.com/kubeflow/trainer, checked in
 * `pkg/runtime/framework/plugins/torch/torch.go` `Validate`): a backend passes the names its engine
 * reserves, and they are left out.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import type { Wire } from '../../../runtime/builtin-kinds.js';

/** The variables of the rendezvous. */
export const RendezvousEnv = {
  masterAddr: 'MASTER_ADDR',
  masterPort: 'MASTER_PORT',
  worldSize: 'WORLD_SIZE',
  nodeRank: 'NODE_RANK',
  rank: 'RANK',
  torchrunNodes: 'PET_NNODES',
  torchrunProcessesPerNode: 'PET_NPROC_PER_NODE',
  torchrunNodeRank: 'PET_NODE_RANK',
  torchrunMasterAddr: 'PET_MASTER_ADDR',
  torchrunMasterPort: 'PET_MASTER_PORT',
} as const;

/**
 * The names Kubeflow Trainer's torch plugin injects into the trainer container and its webhook
 * forbids in `TrainJob.spec.trainer.env` (`constants.TorchRunReservedEnvNames`).
 */
export const TRAINER_RESERVED_ENV: ReadonlySet<string> = new Set([
  RendezvousEnv.torchrunNodes,
  RendezvousEnv.torchrunProcessesPerNode,
  RendezvousEnv.torchrunNodeRank,
  RendezvousEnv.torchrunMasterAddr,
  RendezvousEnv.torchrunMasterPort,
]);

/** The downward-API path of an Indexed Job pod's completion index (the Job controller sets it). */
export const JOB_COMPLETION_INDEX_FIELD_PATH =
  "metadata.annotations['batch.kubernetes.io/job-completion-index']";

/** Where a worker's rank comes from: a fixed value, or a field of its own pod. */
export type NodeRankSource = { value: number } | { fieldPath: string };

export interface Rendezvous {
  workers: number;
  processesPerWorker: number;
  /** DNS name of worker 0 as the other workers resolve it. */
  masterAddr: string;
  port: number;
  nodeRank: NodeRankSource;
}

function rankVar(name: string, source: NodeRankSource): Wire<V1EnvVar> {
  return 'value' in source
    ? { name, value: String(source.value) }
    : { name, valueFrom: { fieldRef: { fieldPath: source.fieldPath } } };
}

/**
 * The rendezvous variables of one worker, without the names in `reserved`. `RANK` is set only
 * with one process per worker (then the process's rank is the worker's); with more, torchrun
 * gives each process its own `RANK` and `WORLD_SIZE`.
 */
export function rendezvousEnv(
  rendezvous: Rendezvous,
  reserved: ReadonlySet<string> = new Set(),
): Wire<V1EnvVar>[] {
  const { workers, processesPerWorker, masterAddr, port, nodeRank } = rendezvous;
  const all: Wire<V1EnvVar>[] = [
    { name: RendezvousEnv.masterAddr, value: masterAddr },
    { name: RendezvousEnv.masterPort, value: String(port) },
    { name: RendezvousEnv.worldSize, value: String(workers * processesPerWorker) },
    rankVar(RendezvousEnv.nodeRank, nodeRank),
    ...(processesPerWorker === 1 ? [rankVar(RendezvousEnv.rank, nodeRank)] : []),
    { name: RendezvousEnv.torchrunNodes, value: String(workers) },
    { name: RendezvousEnv.torchrunProcessesPerNode, value: String(processesPerWorker) },
    rankVar(RendezvousEnv.torchrunNodeRank, nodeRank),
    { name: RendezvousEnv.torchrunMasterAddr, value: masterAddr },
    { name: RendezvousEnv.torchrunMasterPort, value: String(port) },
  ];
  return all.filter((variable) => !reserved.has(variable.name));
}

/** Processes per worker: `spec.distributed.processesPerWorker`, else the GPUs of a worker, else 1. */
export function processesPerWorkerOf(
  explicit: number | undefined,
  gpusPerWorker: number | undefined,
): number {
  return explicit ?? Math.max(1, gpusPerWorker ?? 0);
}
