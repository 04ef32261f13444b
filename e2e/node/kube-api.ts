/**
 * The node's calls to the API server, each one a kubelet is allowed to make under the Node
 * authorizer and NodeRestriction: read the Secrets and ConfigMaps its pods reference, mint
 * tokens bound to its pods, patch its pods' status and delete its pods.
 */
import * as k8s from '@kubernetes/client-node';
import type { MintedToken, SourceReader, TokenSpec } from './pod-sources.js';
import type { PodStatusJson } from './pod-status.js';

/** The HTTP status of a failed client-node call, if it got one. */
export function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A short description of an API error: the server's message when it sent one. */
export function describeApiError(error: unknown): string {
  const body = (error as { body?: unknown } | undefined)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not JSON
    }
  }
  return error instanceof Error ? error.message : String(error);
}

function decoded(
  data: Record<string, string> | undefined,
  base64: boolean,
): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(data ?? {})) {
    out[key] = Buffer.from(value, base64 ? 'base64' : 'utf8');
  }
  return out;
}

/**
 * A strategic merge patch merges each condition with the one of the same type, so a reason or
 * message that no longer applies must be sent as null to be removed.
 */
function withClearedFields(status: PodStatusJson) {
  return {
    ...status,
    conditions: status.conditions.map((c) => ({ reason: null, message: null, ...c })),
  };
}

export class PodApi implements SourceReader {
  readonly core: k8s.CoreV1Api;

  constructor(kc: k8s.KubeConfig) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async readSecret(namespace: string, name: string): Promise<Record<string, Buffer> | null> {
    try {
      const secret = await this.core.readNamespacedSecret({ name, namespace });
      return decoded(secret.data, true);
    } catch (error) {
      if (statusCodeOf(error) === 404) return null;
      throw new Error(`Reading secret ${namespace}/${name} failed: ${describeApiError(error)}`, {
        cause: error,
      });
    }
  }

  async readConfigMap(namespace: string, name: string): Promise<Record<string, Buffer> | null> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ name, namespace });
      return { ...decoded(cm.data, false), ...decoded(cm.binaryData, true) };
    } catch (error) {
      if (statusCodeOf(error) === 404) return null;
      throw new Error(`Reading configmap ${namespace}/${name} failed: ${describeApiError(error)}`, {
        cause: error,
      });
    }
  }

  /** A token for the pod's service account, bound to the pod (NodeRestriction requires it). */
  async requestToken(pod: k8s.V1Pod, spec: TokenSpec): Promise<MintedToken> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const serviceAccount = pod.spec?.serviceAccountName || 'default';
    try {
      const response = await this.core.createNamespacedServiceAccountToken({
        name: serviceAccount,
        namespace,
        body: {
          spec: {
            audiences: spec.audience ? [spec.audience] : [],
            expirationSeconds: spec.expirationSeconds,
            boundObjectRef: {
              apiVersion: 'v1',
              kind: 'Pod',
              name: pod.metadata?.name ?? '',
              uid: pod.metadata?.uid ?? '',
            },
          },
        },
      });
      const token = response.status?.token ?? '';
      const expires = response.status?.expirationTimestamp;
      return {
        token,
        expiresAt: expires
          ? new Date(expires)
          : new Date(Date.now() + spec.expirationSeconds * 1000),
      };
    } catch (error) {
      throw new Error(
        `Requesting a token for service account ${namespace}/${serviceAccount} failed: ${describeApiError(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Strategic-merge patch of the status subresource: conditions merge by type, so the
   * scheduler's PodScheduled and others' readiness-gate conditions are kept. The uid makes
   * the patch fail on a re-created pod of the same name.
   */
  async patchPodStatus(pod: k8s.V1Pod, status: PodStatusJson): Promise<void> {
    await this.core.patchNamespacedPodStatus(
      {
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        body: { metadata: { uid: pod.metadata?.uid }, status: withClearedFields(status) },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
  }

  /** Removes a pod whose processes are gone. A pod already gone or replaced is success. */
  async deletePod(pod: k8s.V1Pod): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (error) {
      const code = statusCodeOf(error);
      if (code === 404 || code === 409) return;
      throw error;
    }
  }
}
