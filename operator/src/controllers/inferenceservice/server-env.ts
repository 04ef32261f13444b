/**
 * What an InferenceService's spec bounds in its servers, as their variables (`ServeEnv`): the
 * request limits (`spec.limits`) and the cost of one explanation (`spec.explain`). Pure.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { ServeEnv } from '../../../../contract/runtime-env.js';
import type { InferenceService } from '../../api/inferenceservice.js';
import type { Wire } from '../../runtime/builtin-kinds.js';

/**
 * `spec.limits` as the server's variables. The whole-request backstop is the header and body
 * timeouts plus half a minute, which the server requires to be at least their sum.
 */
export function limitsEnv(limits: InferenceService['spec']['limits']): Wire<V1EnvVar>[] {
  const seconds = (s: number) => String(s * 1000);
  return [
    { name: ServeEnv.maxInFlight, value: String(limits.maxInFlight) },
    { name: ServeEnv.maxRowsPerRequest, value: String(limits.maxRowsPerRequest) },
    { name: ServeEnv.headersTimeoutMs, value: seconds(limits.headersTimeoutSeconds) },
    { name: ServeEnv.bodyTimeoutMs, value: seconds(limits.bodyTimeoutSeconds) },
    {
      name: ServeEnv.requestTimeoutMs,
      value: seconds(limits.headersTimeoutSeconds + limits.bodyTimeoutSeconds + 30),
    },
  ];
}

/**
 * `spec.explain` as the server's variables: what one `:explain` request may cost. Unset, none:
 * the server's defaults are the API's, and a Deployment written before the field existed is
 * not rolled for it.
 */
export function explainEnv(explain: InferenceService['spec']['explain']): Wire<V1EnvVar>[] {
  if (!explain) return [];
  return [
    { name: ServeEnv.explainMaxRows, value: String(explain.maxRows) },
    { name: ServeEnv.explainTimeoutMs, value: String(explain.timeoutSeconds * 1000) },
    { name: ServeEnv.explainBackgroundRows, value: String(explain.backgroundRows) },
    { name: ServeEnv.explainKernelSamples, value: String(explain.kernelSamples) },
  ];
}
