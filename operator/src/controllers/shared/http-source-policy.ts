/**
 * The install's HTTP-source policy (`OperatorConfig.httpSource`) as the pods that fetch a user's
 * URL read it: a Dataset's ingestion Job and a BatchPrediction's shards. The program in the pod
 * enforces it on every connection and redirect hop (`runtime-images/ingest/address-policy.ts`);
 * the operator itself never connects to a user's URL.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { IngestEnv } from '../../../../contract/runtime-env.js';
import type { HttpSourcePolicy } from '../../config.js';
import type { Wire } from '../../runtime/builtin-kinds.js';

/** The policy's variables (`IngestEnv.http*`); unset lists are left out. */
export function httpSourcePolicyEnv(policy: HttpSourcePolicy): Wire<V1EnvVar>[] {
  const lists: [string, string[]][] = [
    [IngestEnv.httpDenyCidrs, policy.denyCIDRs],
    [IngestEnv.httpAllowCidrs, policy.allowCIDRs],
    [IngestEnv.httpApiServerAddresses, policy.apiServerAddresses],
  ];
  return lists
    .filter(([, list]) => list.length > 0)
    .map(([name, list]) => ({ name, value: list.join(',') }));
}
