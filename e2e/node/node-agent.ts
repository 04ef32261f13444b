/**
 * The node's presence in the cluster: registers the Node (or takes over the existing one),
 * then renews its Lease in kube-node-lease every 10 s (what the node lifecycle controller
 * watches) and re-posts its status every minute (the heartbeat in its conditions).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { NodeConfig } from './config.js';
import { rfc3339 } from './container-state.js';
import { describeApiError, statusCodeOf } from './kube-api.js';
import { desiredNode, type NodeInfo, nodeLabelsOf, nodeStatusOf } from './node-object.js';

const leaseNamespace = 'kube-node-lease';
const leaseDurationSeconds = 40;
const leaseRenewMs = 10_000;
const statusReportMs = 60_000;

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** A lease's renewTime: metav1.MicroTime wants exactly six fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

export class NodeAgent {
  private readonly core: k8s.CoreV1Api;
  private readonly coordination: k8s.CoordinationV1Api;
  private readonly versionApi: k8s.VersionApi;
  private info: NodeInfo | undefined;
  private readySince = rfc3339(new Date());
  private timers: NodeJS.Timeout[] = [];

  constructor(
    kc: k8s.KubeConfig,
    private readonly config: NodeConfig,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    this.versionApi = kc.makeApiClient(k8s.VersionApi);
  }

  /** Registers the node and posts a Ready status. Throws when the API refuses. */
  async register(): Promise<void> {
    const version = await this.versionApi.getCode();
    this.info = {
      kubeletVersion: version.gitVersion,
      kernelVersion: os.release(),
      osImage:
        readOr('/etc/os-release', 'Linux').match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1] ?? 'Linux',
      machineID: readOr('/etc/machine-id', this.config.nodeName),
      bootID: readOr('/proc/sys/kernel/random/boot_id', ''),
    };
    const now = rfc3339(new Date());
    const name = this.config.nodeName;
    try {
      await this.core.createNode({
        body: desiredNode(this.config, this.info, now) as unknown as k8s.V1Node,
      });
      this.log.info('Registered Node');
    } catch (error) {
      if (statusCodeOf(error) !== 409) {
        throw new Error(`Registering Node ${name} failed: ${describeApiError(error)}`, {
          cause: error,
        });
      }
      // An earlier run registered it: bring labels and status up to date.
      await this.core.patchNode(
        { name, body: { metadata: { labels: nodeLabelsOf(this.config) } } },
        mergePatch,
      );
      this.log.info('Took over existing Node');
    }
    await this.postStatus();
    await this.renewLease();
  }

  /** Starts the Lease and status heartbeats. */
  startHeartbeats(): void {
    const every = (ms: number, fn: () => Promise<void>, what: string) => {
      const tick = async () => {
        try {
          await fn();
        } catch (error) {
          this.log.warn({ err: describeApiError(error) }, `Failed to ${what}`);
        }
        this.timers.push(setTimeout(tick, ms));
      };
      this.timers.push(setTimeout(tick, ms));
    };
    every(leaseRenewMs, () => this.renewLease(), 'renew Node Lease');
    every(statusReportMs, () => this.postStatus(), 'post Node status');
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private async postStatus(): Promise<void> {
    if (!this.info) return;
    const status = nodeStatusOf(this.config, this.info, rfc3339(new Date()), this.readySince);
    await this.core.patchNodeStatus({ name: this.config.nodeName, body: { status } }, mergePatch);
  }

  private async renewLease(): Promise<void> {
    const name = this.config.nodeName;
    const spec = {
      holderIdentity: name,
      leaseDurationSeconds,
      renewTime: microTime(new Date()),
    };
    try {
      await this.coordination.patchNamespacedLease(
        { name, namespace: leaseNamespace, body: { spec } },
        mergePatch,
      );
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
      const node = await this.core.readNode({ name });
      await this.coordination.createNamespacedLease({
        namespace: leaseNamespace,
        body: {
          metadata: {
            name,
            namespace: leaseNamespace,
            ownerReferences: [
              { apiVersion: 'v1', kind: 'Node', name, uid: node.metadata?.uid ?? '' },
            ],
          },
          spec: spec as unknown as k8s.V1LeaseSpec,
        },
      });
    }
  }
}
