/**
 * The ready serving pods of an InferenceService, as addresses the activator forwards to. A
 * Service at zero selects the activator, so its EndpointSlices say nothing about the servers:
 * the activator reads the pods themselves (the labels every version's pods carry) and keeps
 * those that are Ready and not terminating. Pure.
 */

/** A pod as the activator reads it (the fields it needs). */
export interface ServingPod {
  metadata?: { name?: string; deletionTimestamp?: string };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
  spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] };
}

export interface Endpoint {
  pod: string;
  host: string;
  port: number;
}

/** The ready, not terminating pods with an address, and their `http` port. */
export function readyEndpoints(pods: readonly ServingPod[]): Endpoint[] {
  const endpoints: Endpoint[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const host = pod.status?.podIP;
    const port = pod.spec?.containers
      ?.flatMap((c) => c.ports ?? [])
      .find((p) => p.name === 'http')?.containerPort;
    if (ready && host && port) endpoints.push({ pod: pod.metadata?.name ?? host, host, port });
  }
  return endpoints;
}
