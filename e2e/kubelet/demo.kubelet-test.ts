/**
 * The demo on the real node, as a user runs it (`npm run demo -- --node kubelet`): the whole loop
 * — ingestion, training, verification, serving through the Service on both protocols, a
 * retrain — with every pod a container from Lathe's images, pulled from the cluster's registry
 * by the kubelet. Then each of those pods, as `kubectl` sees it: a containerd container on the
 * node, `kubectl logs` answering for every container (finished ones too), and in every running
 * one `kubectl exec` working, the user 65532 and the root filesystem read-only.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { clusterInfo, kubeConfig, kubectl, repoRoot } from '../cluster/testenv.js';
import { latheRelease } from './install.js';
import { execNode, selfInspection } from './testing.js';

const exec = promisify(execFile);
const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
const demoNamespace = 'lathe-demo';

describe('npm run demo on the real node', () => {
  it('runs the whole loop in containers; kubectl logs and exec work on every Lathe pod', async () => {
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: repoRoot,
      env: { ...process.env, LATHE_NODE: 'kubelet' },
      timeout: 1_200_000,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(
        `the demo failed:\n${error.stdout?.slice(-4000)}\n${error.stderr?.slice(-4000)}`,
      );
    });
    expect(stdout).toContain('a real kubelet on containerd');
    expect(stdout).toMatch(/version [0-9a-f]{16}: 150 rows/);
    expect(stdout).toMatch(/row 1: predicted \w+, actually \w+/);
    expect(stdout).toMatch(/\/v2\/models\/iris\/infer -> HTTP 200/);
    expect(stdout).toMatch(/run iris-nightly-manual-[0-9a-f]+: (Promoted|Rejected) \(accuracy/);
    expect(stdout).toContain('uid 65532');

    const { nodeName, registry } = clusterInfo();
    const pods = [
      ...(await core.listNamespacedPod({ namespace: demoNamespace })).items,
      ...(
        await core.listNamespacedPod({
          namespace: latheRelease.namespace,
          labelSelector: 'app.kubernetes.io/name=lathe',
        })
      ).items,
    ];
    // The operator, ingestion, training, the server, the retrain's training and evaluation.
    expect(pods.length).toBeGreaterThanOrEqual(5);
    const running = pods.filter((pod) => pod.status?.phase === 'Running');
    expect(running.length).toBeGreaterThanOrEqual(2);
    for (const pod of pods) {
      const where = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      expect(pod.spec?.nodeName, where).toBe(nodeName);
      for (const status of pod.status?.containerStatuses ?? []) {
        expect(status.containerID, where).toMatch(/^containerd:\/\//);
        // Pulled from the cluster's registry (the operator's by digest: its status shows the
        // image ID then, its spec the reference).
        const spec = pod.spec?.containers.find((c) => c.name === status.name);
        expect(spec?.image, where).toContain(`${registry}/lathe/`);
        expect(status.imageID, where).toContain(`${registry}/lathe/`);
        const logs = await kubectl([
          '-n',
          pod.metadata!.namespace!,
          'logs',
          pod.metadata!.name!,
          '-c',
          status.name,
        ]);
        expect(logs.code, `kubectl logs ${where}: ${logs.stderr}`).toBe(0);
        expect(logs.stdout.trim().length, `kubectl logs ${where}`).toBeGreaterThan(0);
      }
    }
    for (const pod of running) {
      const self = JSON.parse(
        await execNode(pod.metadata!.namespace!, pod.metadata!.name!, selfInspection),
      ) as { uid: number; gid: number; root: string };
      expect(self, `${pod.metadata?.namespace}/${pod.metadata?.name}`).toEqual({
        uid: 65532,
        gid: 65532,
        root: 'EROFS',
      });
    }
  }, 1_300_000);
});
