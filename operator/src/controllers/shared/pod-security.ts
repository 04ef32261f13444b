/**
 * The security settings of every pod Lathe creates: the Pod Security Standards `restricted`
 * profile (non-root, no privilege escalation, every capability dropped, RuntimeDefault seccomp,
 * read-only root filesystem), so Lathe's workloads run in namespaces that enforce it. Programs
 * write only to the emptyDir volumes the builders mount (`/tmp`, a work directory).
 */
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import type { Wire } from '../../runtime/builtin-kinds.js';

/** The user the runtime images run as (the distroless `nonroot` user). */
export const RUNTIME_USER = 65532;

export const restrictedPodSecurityContext: Wire<V1PodSecurityContext> = {
  runAsNonRoot: true,
  runAsUser: RUNTIME_USER,
  runAsGroup: RUNTIME_USER,
  fsGroup: RUNTIME_USER,
  seccompProfile: { type: 'RuntimeDefault' },
};

export const restrictedContainerSecurityContext: Wire<V1SecurityContext> = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
