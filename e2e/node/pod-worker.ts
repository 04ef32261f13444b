/**
 * One pod on this node, from binding to removal: the kubelet's pod worker in miniature.
 *
 * `sync()` is level-based and serialised: every event (pod update, process exit, probe
 * result, timer) just asks for another pass, and each pass looks at the pod and the
 * containers' records and does the next thing: prepare the sandbox (IP, network namespace,
 * resolv.conf and hosts, volumes), run the
 * init containers one by one, start or restart the containers (with back-off), and report
 * the status computed by `podStatusOf` when it changed. Deletion stops the processes
 * (SIGTERM, SIGKILL after the grace period), removes the pod's network namespace and removes
 * the pod from the API.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ContainerCommandError, containerArgv } from './command.js';
import { ContainerProbes } from './container-probes.js';
import {
  type ContainerProcess,
  type LaunchSpec,
  launchContainer,
  runInSandbox,
} from './container-process.js';
import {
  type ContainerRecord,
  newContainerRecord,
  type PodRecord,
  rfc3339,
  type TerminatedState,
  terminationReason,
} from './container-state.js';
import { containerEnv } from './env.js';
import { type ImageMap, imageFileMounts, imageNameOf, lookUpImage } from './images.js';
import { describeApiError, statusCodeOf } from './kube-api.js';
import { containerFileOf, podDirOf, volumeDirOf } from './node-dir.js';
import {
  type ClusterDns,
  formatResolvConf,
  hostsFileOf,
  podHostnameOf,
  type ResolvConf,
  resolvConfOf,
} from './pod-dns.js';
import { ContainerConfigError } from './pod-fields.js';
import type { PodIpAllocator } from './pod-ip.js';
import type { PodNetworks } from './pod-network.js';
import { fetchPodSources, type PodSources, type SourceReader } from './pod-sources.js';
import { type PodStatusJson, podPhaseOf, podStatusOf, timestampString } from './pod-status.js';
import { backoffMessage, type RestartPolicy, restartDelayMs, shouldRestart } from './restart.js';
import { writeVolumes } from './sandbox.js';
import { terminationMessageOf } from './termination-message.js';
import { containerMounts, withServiceAccountVolume } from './volumes.js';

/** What a pod worker needs from the node. */
export interface WorkerContext {
  nodeDir: string;
  images: ImageMap;
  bwrapPath: string;
  ips: PodIpAllocator;
  networks: PodNetworks;
  /** The node's address: pods' hostIP, hostNetwork pods' podIP. */
  nodeIP: string;
  /** Cluster DNS, and the node's own resolver configuration (dnsPolicy Default). */
  dns: { cluster: ClusterDns; node: ResolvConf };
  api: SourceReader & {
    patchPodStatus(pod: k8s.V1Pod, status: PodStatusJson): Promise<void>;
    deletePod(pod: k8s.V1Pod): Promise<void>;
  };
  /** KUBERNETES_SERVICE_HOST/PORT and friends. */
  serviceEnv: Record<string, string>;
  log: Logger;
}

interface LiveContainer {
  proc: ContainerProcess;
  probes?: ContainerProbes;
}

/** A failed attempt to start a container: the waiting reason and message it shows. */
interface StartFailure {
  reason: string;
  message: string;
}

const maxRetryMs = 10_000;
/** Secrets, ConfigMaps and tokens are re-read (and volumes rewritten) this often at least. */
const sourceRefreshMs = 60_000;

/** Containers' records as a previous node run reported them (a node restart). */
function recordsFromStatus(
  specs: k8s.V1Container[],
  statuses: k8s.V1ContainerStatus[] | undefined,
  init: boolean,
): ContainerRecord[] {
  const now = rfc3339(new Date());
  return specs.map((spec) => {
    const record = newContainerRecord(spec.name, spec.image ?? '');
    const status = statuses?.find((s) => s.name === spec.name);
    if (!status) return record;
    record.restartCount = status.restartCount ?? 0;
    const term = status.state?.terminated;
    if (term && (!init || term.exitCode === 0)) {
      record.state = {
        kind: 'terminated',
        exitCode: term.exitCode,
        reason: term.reason ?? terminationReason(term.exitCode),
        ...(term.message ? { message: term.message } : {}),
        startedAt: term.startedAt ? timestampString(term.startedAt) : now,
        finishedAt: term.finishedAt ? timestampString(term.finishedAt) : now,
      };
    } else if (status.state?.running || term) {
      // Its process died with the previous node run; restartPolicy decides what follows.
      record.state = {
        kind: 'terminated',
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the process node restarted',
        startedAt: status.state?.running?.startedAt
          ? timestampString(status.state.running.startedAt)
          : now,
        finishedAt: now,
      };
    }
    return record;
  });
}

export class PodWorker {
  private pod: k8s.V1Pod;
  private runPod: k8s.V1Pod;
  private readonly record: PodRecord;
  private readonly podDir: string;
  private readonly log: Logger;
  private readonly live = new Map<string, LiveContainer>();
  private readonly nextStartAt = new Map<string, number>();
  private readonly startFailures = new Map<string, number>();
  private readonly restartPending = new Set<string>();
  private sources: PodSources | undefined;
  /** The pod's network namespace; undefined until made, and for hostNetwork pods. */
  private netnsPath: string | undefined;
  private volumePaths: Map<string, string> | undefined;
  private refreshAt = 0;
  private sandboxFailures = 0;
  private sandboxRetryAt = 0;
  private statusRetryAt = Number.POSITIVE_INFINITY;
  private previousConditions: readonly {
    type: string;
    status: string;
    lastTransitionTime?: unknown;
  }[];
  private reported: string | undefined;
  private syncing = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private terminating: Promise<void> | undefined;
  private removedFromApi = false;
  private stopped = false;
  /** True once the pod's processes are gone and it was removed from the API. */
  finished = false;

  constructor(
    private readonly ctx: WorkerContext,
    pod: k8s.V1Pod,
  ) {
    this.pod = pod;
    this.runPod = withServiceAccountVolume(pod);
    const meta = pod.metadata ?? {};
    this.podDir = podDirOf(ctx.nodeDir, {
      namespace: meta.namespace ?? 'default',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
    });
    this.log = ctx.log.child({ namespace: meta.namespace, pod: meta.name, uid: meta.uid });
    const status = pod.status;
    this.previousConditions = status?.conditions ?? [];
    const phase = status?.phase;
    this.record = {
      podIP: undefined,
      hostIP: ctx.nodeIP,
      startTime: status?.startTime ? timestampString(status.startTime) : undefined,
      sandboxReady: false,
      initContainers: recordsFromStatus(
        pod.spec?.initContainers ?? [],
        status?.initContainerStatuses,
        true,
      ),
      containers: recordsFromStatus(pod.spec?.containers ?? [], status?.containerStatuses, false),
      ...(phase === 'Succeeded' || phase === 'Failed' ? { terminalPhase: phase } : {}),
    };
    if (this.record.terminalPhase) {
      // Finished before this node run: nothing to run, nothing to report.
      this.reported = JSON.stringify(podStatusOf(pod, this.record, this.previousConditions, ''));
    }
  }

  private get restartPolicy(): RestartPolicy {
    return (this.pod.spec?.restartPolicy ?? 'Always') as RestartPolicy;
  }

  /** The latest version of the pod seen. */
  get currentPod(): k8s.V1Pod {
    return this.pod;
  }

  /** A newer version of the pod from the API. */
  update(pod: k8s.V1Pod): void {
    this.pod = pod;
    this.runPod = withServiceAccountVolume(pod);
    this.kick();
  }

  /** The pod is gone from the API (deleted with no grace): stop its processes. */
  removed(pod: k8s.V1Pod): void {
    this.pod = pod;
    this.removedFromApi = true;
    this.kick();
  }

  /** Node shutdown: stop every process within `maxGraceMs`, leave the pod in the API. */
  async shutdown(maxGraceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const grace = Math.min(this.graceMs(), maxGraceMs);
    await Promise.all([...this.live.values()].map((l) => l.proc.stop(grace)));
    await this.releaseNetwork();
  }

  /** Asks for a sync pass; passes never overlap. */
  kick(): void {
    if (this.stopped || this.finished) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    do {
      this.dirty = false;
      try {
        await this.sync();
      } catch (error) {
        this.log.error({ err: error }, 'Failed to sync Pod; retrying');
        this.statusRetryAt = Date.now() + 2_000;
      }
    } while (this.dirty && !this.stopped && !this.finished);
    this.syncing = false;
    this.scheduleWakeUp();
  }

  private async sync(): Promise<void> {
    if (this.removedFromApi || this.pod.metadata?.deletionTimestamp) {
      await this.terminate();
      return;
    }
    if (!this.record.terminalPhase) {
      const now = Date.now();
      if (await this.ensureSandbox(now)) {
        if (await this.syncInitContainers(now)) await this.syncContainers(now);
      }
      const phase = podPhaseOf(this.restartPolicy, this.record);
      if (phase === 'Succeeded' || phase === 'Failed') await this.finish(phase);
    }
    await this.reportStatus();
  }

  /**
   * Allocates the pod IP, builds the pod's network namespace, and writes (or refreshes) the
   * volumes. False while that fails.
   */
  private async ensureSandbox(now: number): Promise<boolean> {
    if (this.volumePaths && now < this.refreshAt) return true;
    if (!this.volumePaths && now < this.sandboxRetryAt) return false;
    const uid = this.pod.metadata?.uid ?? '';
    const hostNetwork = this.pod.spec?.hostNetwork === true;
    this.record.podIP ??= hostNetwork
      ? this.ctx.nodeIP
      : this.ctx.ips.allocate(uid, this.pod.status?.podIP);
    this.record.startTime ??= rfc3339(new Date(now));
    if (!hostNetwork && !this.netnsPath) {
      try {
        this.netnsPath = await this.ctx.networks.create(uid, this.record.podIP);
        this.writeNetworkFiles(this.record.podIP);
      } catch (error) {
        this.sandboxFailures++;
        this.sandboxRetryAt = now + Math.min(1000 * 2 ** this.sandboxFailures, maxRetryMs);
        const message = `Failed to create pod sandbox network: ${(error as Error).message}`;
        this.log.warn({ reason: message }, 'Failed to set up Pod network; retrying');
        for (const rec of [...this.record.initContainers, ...this.record.containers]) {
          if (rec.state.kind === 'waiting') {
            rec.state = { kind: 'waiting', reason: 'ContainerCreating', message };
          }
        }
        return false;
      }
    } else if (hostNetwork && !this.volumePaths) {
      this.writeNetworkFiles(undefined);
    }
    try {
      const sources = await fetchPodSources(this.ctx.api, this.runPod);
      mkdirSync(this.podDir, { recursive: true });
      this.volumePaths = writeVolumes(this.podDir, this.runPod, sources, {
        podIP: this.record.podIP,
        hostIP: this.ctx.nodeIP,
      });
      this.sources = sources;
      const tokenDeadlines = [...sources.tokens.values()].map(
        (t) => now + 0.8 * (t.expiresAt.getTime() - now),
      );
      this.refreshAt = Math.min(now + sourceRefreshMs, ...tokenDeadlines);
      if (!this.record.sandboxReady)
        this.log.info({ podIP: this.record.podIP }, 'Prepared Pod sandbox');
      this.record.sandboxReady = true;
      this.sandboxFailures = 0;
      return true;
    } catch (error) {
      const message =
        error instanceof ContainerConfigError ? error.message : describeApiError(error);
      if (this.volumePaths) {
        this.log.warn(
          { err: error },
          'Failed to refresh Pod volumes; keeping the previous contents',
        );
        this.refreshAt = now + 10_000;
        return true;
      }
      this.sandboxFailures++;
      this.sandboxRetryAt = now + Math.min(1000 * 2 ** this.sandboxFailures, maxRetryMs);
      this.log.warn({ reason: message }, 'Failed to prepare Pod volumes; retrying');
      for (const rec of [...this.record.initContainers, ...this.record.containers]) {
        if (rec.state.kind === 'waiting') {
          rec.state = { kind: 'waiting', reason: 'CreateContainerConfigError', message };
        }
      }
      return false;
    }
  }

  /** Runs the init containers in order; true once all of them completed. */
  private async syncInitContainers(now: number): Promise<boolean> {
    const specs = this.pod.spec?.initContainers ?? [];
    for (const [i, spec] of specs.entries()) {
      const rec = this.record.initContainers[i];
      if (!rec) continue;
      if (rec.state.kind === 'terminated' && rec.state.exitCode === 0) continue;
      if (this.live.has(spec.name)) return false;
      if (rec.state.kind === 'terminated') {
        if (this.restartPolicy === 'Never') return false;
        this.scheduleRestart(rec, now);
      }
      await this.startIfDue(spec, rec, now, false);
      return false;
    }
    return true;
  }

  private async syncContainers(now: number): Promise<void> {
    const specs = this.pod.spec?.containers ?? [];
    for (const [i, spec] of specs.entries()) {
      const rec = this.record.containers[i];
      if (!rec || this.live.has(spec.name)) continue;
      if (rec.state.kind === 'terminated') {
        if (!shouldRestart(this.restartPolicy, rec.state.exitCode)) continue;
        this.scheduleRestart(rec, now);
      }
      await this.startIfDue(spec, rec, now, true);
    }
  }

  /** Moves a finished container to CrashLoopBackOff until its back-off delay has passed. */
  private scheduleRestart(rec: ContainerRecord, now: number): void {
    const term = rec.state as TerminatedState;
    const ranMs = Date.parse(term.finishedAt) - Date.parse(term.startedAt);
    const delay = restartDelayMs(rec.restartCount, ranMs);
    rec.lastTerminated = term;
    const meta = this.pod.metadata ?? {};
    rec.state = {
      kind: 'waiting',
      reason: 'CrashLoopBackOff',
      message: backoffMessage(delay, rec.name, {
        name: meta.name ?? '',
        namespace: meta.namespace ?? '',
        uid: meta.uid ?? '',
      }),
    };
    this.nextStartAt.set(rec.name, now + delay);
    this.restartPending.add(rec.name);
  }

  private async startIfDue(
    spec: k8s.V1Container,
    rec: ContainerRecord,
    now: number,
    withProbes: boolean,
  ): Promise<void> {
    if ((this.nextStartAt.get(spec.name) ?? 0) > now) return;
    const failure = await this.startContainer(spec, rec, withProbes);
    if (!failure) {
      this.startFailures.delete(spec.name);
      this.nextStartAt.delete(spec.name);
      return;
    }
    const attempts = (this.startFailures.get(spec.name) ?? 0) + 1;
    this.startFailures.set(spec.name, attempts);
    this.nextStartAt.set(spec.name, now + Math.min(1000 * 2 ** attempts, maxRetryMs));
    rec.state = { kind: 'waiting', ...failure };
    this.log.warn({ container: spec.name, ...failure }, 'Failed to start container; retrying');
  }

  private pullFailure(image: string, attempt: number): StartFailure {
    const known = Object.keys(this.ctx.images).sort().join(', ');
    const why =
      `image "${imageNameOf(image)}" is not in the process node's image map ` +
      `(e2e/node/images.ts, or the file named by LATHE_NODE_IMAGES); known images: ${known}`;
    return attempt === 0
      ? { reason: 'ErrImagePull', message: `Failed to pull image "${image}": ${why}` }
      : { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ${why}` };
  }

  /** Starts one run of a container; the failure to show when it cannot. */
  private async startContainer(
    spec: k8s.V1Container,
    rec: ContainerRecord,
    withProbes: boolean,
  ): Promise<StartFailure | undefined> {
    const image = lookUpImage(this.ctx.images, spec.image ?? '');
    if (!image) return this.pullFailure(spec.image ?? '', this.startFailures.get(spec.name) ?? 0);
    if (!this.sources || !this.volumePaths || !this.record.podIP) {
      return { reason: 'CreateContainerConfigError', message: 'pod sandbox is not ready' };
    }
    let launch: LaunchSpec;
    try {
      const env = containerEnv({
        pod: this.pod,
        container: spec,
        sources: this.sources,
        podIP: this.record.podIP,
        hostIP: this.ctx.nodeIP,
        baseEnv: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
        },
        imageEnv: image.env ?? {},
        serviceEnv: this.ctx.serviceEnv,
      });
      const volumes = this.runPod.spec?.volumes ?? [];
      const runSpec =
        this.runPod.spec?.containers.find((c) => c.name === spec.name) ??
        this.runPod.spec?.initContainers?.find((c) => c.name === spec.name) ??
        spec;
      launch = {
        argv: containerArgv(image, spec, env),
        env,
        workingDir: spec.workingDir || image.workingDir,
        mounts: [
          ...containerMounts({
            container: runSpec,
            volumes,
            hostPathOf: (v) => this.volumePaths?.get(v.name) ?? volumeDirOf(this.podDir, v.name),
            terminationLogPath: containerFileOf(this.podDir, spec.name, 'termination-log'),
          }),
          ...this.networkFileMounts(),
          ...imageFileMounts(image),
        ],
        netnsPath: this.netnsPath,
        hostname: this.netnsPath ? podHostnameOf(this.pod) : undefined,
      };
    } catch (error) {
      if (error instanceof ContainerConfigError) {
        this.refreshAt = 0; // the missing object may exist by the next attempt
        return { reason: 'CreateContainerConfigError', message: error.message };
      }
      if (error instanceof ContainerCommandError) {
        return { reason: 'CreateContainerError', message: error.message };
      }
      throw error;
    }

    const logPath = containerFileOf(this.podDir, spec.name, 'log');
    const messagePath = containerFileOf(this.podDir, spec.name, 'termination-log');
    writeFileSync(messagePath, '');
    let proc: ContainerProcess;
    try {
      proc = await launchContainer({
        bwrapPath: this.ctx.bwrapPath,
        spec: launch,
        logPath,
        pidPath: containerFileOf(this.podDir, spec.name, 'pid'),
      });
    } catch (error) {
      return { reason: 'RunContainerError', message: (error as Error).message };
    }
    if (this.restartPending.delete(spec.name)) rec.restartCount++;
    const startedAt = rfc3339(new Date());
    rec.state = { kind: 'running', startedAt, pid: proc.pid };
    rec.started = !spec.startupProbe;
    rec.ready = rec.started && !spec.readinessProbe;
    const live: LiveContainer = { proc };
    this.live.set(spec.name, live);
    this.log.info(
      { container: spec.name, pid: proc.pid, argv: launch.argv, logPath },
      'Started container',
    );

    if (withProbes && (spec.startupProbe || spec.livenessProbe || spec.readinessProbe)) {
      live.probes = new ContainerProbes(
        spec,
        {
          podIP: this.record.podIP,
          container: spec,
          exec: (argv, timeoutMs) =>
            runInSandbox({ bwrapPath: this.ctx.bwrapPath, spec: { ...launch, argv }, timeoutMs }),
        },
        {
          started: () => {
            rec.started = true;
            if (!spec.readinessProbe) rec.ready = true;
            this.kick();
          },
          readiness: (ready) => {
            rec.ready = ready;
            this.kick();
          },
          failed: (kind, message) => {
            this.log.info(
              { container: spec.name, probe: kind, message },
              'Killing container after probe failure',
            );
            live.probes?.stop();
            void proc.stop(this.graceMs());
          },
        },
      );
    }

    void proc.exited.then((exit) => {
      live.probes?.stop();
      this.live.delete(spec.name);
      const message = terminationMessageOf({
        messagePath,
        policy: spec.terminationMessagePolicy,
        exitCode: exit.exitCode,
        logPath,
        logOffset: proc.logOffset,
      });
      rec.state = {
        kind: 'terminated',
        exitCode: exit.exitCode,
        ...(exit.signal ? { signal: exit.signal } : {}),
        reason: terminationReason(exit.exitCode),
        ...(message ? { message } : {}),
        startedAt,
        finishedAt: rfc3339(new Date()),
        pid: proc.pid,
      };
      rec.ready = false;
      rec.started = false;
      this.log.info({ container: spec.name, exitCode: exit.exitCode }, 'Container exited');
      this.kick();
    });
    return undefined;
  }

  private graceMs(): number {
    const seconds =
      this.pod.metadata?.deletionGracePeriodSeconds ??
      this.pod.spec?.terminationGracePeriodSeconds ??
      30;
    return seconds * 1000;
  }

  /** The pod reached Succeeded or Failed: no more starts; its network and address go. */
  private async finish(phase: 'Succeeded' | 'Failed'): Promise<void> {
    this.record.terminalPhase = phase;
    this.nextStartAt.clear();
    await this.releaseNetwork();
    this.log.info({ phase }, `Pod ${phase === 'Succeeded' ? 'succeeded' : 'failed'}`);
  }

  /** Removes the pod's network namespace (its processes are gone) and frees its address. */
  private async releaseNetwork(): Promise<void> {
    const uid = this.pod.metadata?.uid ?? '';
    if (this.netnsPath) {
      await this.ctx.networks.remove(uid).catch((error: Error) => {
        this.log.warn({ err: error.message }, 'Failed to remove Pod network namespace');
      });
      this.netnsPath = undefined;
    }
    this.ctx.ips.release(uid);
  }

  /** The pod's resolv.conf (every pod) and hosts file (a pod with its own network), in its directory. */
  private writeNetworkFiles(podIP: string | undefined): void {
    mkdirSync(this.podDir, { recursive: true });
    const { cluster, node } = this.ctx.dns;
    const resolv = formatResolvConf(resolvConfOf(this.pod, cluster, node));
    writeFileSync(path.join(this.podDir, 'resolv.conf'), resolv);
    if (podIP) {
      writeFileSync(path.join(this.podDir, 'hosts'), hostsFileOf(this.pod, podIP, cluster.domain));
    }
  }

  /** Bind mounts of the files `writeNetworkFiles` wrote, over the node's. */
  private networkFileMounts() {
    const mounts = [
      {
        hostPath: path.join(this.podDir, 'resolv.conf'),
        containerPath: '/etc/resolv.conf',
        readOnly: false,
      },
    ];
    if (this.netnsPath) {
      mounts.push({
        hostPath: path.join(this.podDir, 'hosts'),
        containerPath: '/etc/hosts',
        readOnly: false,
      });
    }
    return mounts;
  }

  private terminate(): Promise<void> {
    this.terminating ??= this.runTermination().catch((error) => {
      this.terminating = undefined;
      throw error;
    });
    return this.terminating;
  }

  private async runTermination(): Promise<void> {
    const grace = this.graceMs();
    if (this.live.size > 0) this.log.info({ graceMs: grace }, 'Killing Pod containers');
    this.nextStartAt.clear();
    await Promise.all([...this.live.values()].map((l) => l.proc.stop(grace)));
    await this.releaseNetwork();
    if (!this.record.terminalPhase) {
      // A deleted pod ends in a terminal phase (as since Kubernetes 1.27), so controllers
      // counting finished pods (Jobs) see how it ended.
      const ran = [...this.record.initContainers, ...this.record.containers];
      const allSucceeded = this.record.containers.every(
        (c) => c.state.kind === 'terminated' && c.state.exitCode === 0,
      );
      this.record.terminalPhase = allSucceeded && ran.length > 0 ? 'Succeeded' : 'Failed';
    }
    if (!this.removedFromApi) {
      await this.reportStatus().catch(() => undefined);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.ctx.api.deletePod(this.pod);
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
        }
      }
    }
    rmSync(path.join(this.podDir, 'volumes'), { recursive: true, force: true });
    this.finished = true;
    clearTimeout(this.timer);
    this.log.info('Removed Pod');
  }

  /** Patches the status subresource when the computed status differs from the last one sent. */
  private async reportStatus(): Promise<void> {
    const status = podStatusOf(this.pod, this.record, this.previousConditions, rfc3339(new Date()));
    const json = JSON.stringify(status);
    if (json === this.reported) return;
    try {
      await this.ctx.api.patchPodStatus(this.pod, status);
      this.reported = json;
      this.previousConditions = status.conditions;
      this.statusRetryAt = Number.POSITIVE_INFINITY;
    } catch (error) {
      const code = statusCodeOf(error);
      if (code === 404) return;
      this.log.warn({ err: describeApiError(error), code }, 'Failed to patch Pod status; retrying');
      this.statusRetryAt = Date.now() + 2_000;
    }
  }

  /** The earliest moment something is due: a (re)start, a volume refresh, a status retry. */
  private scheduleWakeUp(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.finished || this.terminating) return;
    const due: number[] = [this.statusRetryAt];
    if (!this.record.terminalPhase) {
      due.push(...this.nextStartAt.values());
      due.push(this.volumePaths ? this.refreshAt : this.sandboxRetryAt);
    }
    const at = Math.min(...due);
    if (!Number.isFinite(at)) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, at - Date.now()) + 5);
  }
}
