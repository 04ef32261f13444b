/**
 * Reading an inference server's Prometheus `/metrics` from its pod, for the controllers that
 * judge a served version by its counters: the InferenceService's autoscaler (load) and the
 * RetrainPolicy's accuracy trigger (feedback rows). The pods are reached by IP on the serving
 * port, with a short timeout so one slow replica never holds a reconcile.
 *
 * What the pods are and how their labels read is the InferenceService's (`inferenceservice/
 * desired.ts`); this module only knows the server's port and how to ask.
 */

/** The port the inference server listens on (`LATHE_PORT` as InferenceService pods set it). */
export const SERVER_PORT = 8080;
/** How long one scrape may take. */
export const SCRAPE_TIMEOUT_MS = 2_000;

/** The metrics URL of the server in the pod at `podIP`. */
export function serverMetricsUrl(podIP: string): string {
  return `http://${podIP}:${SERVER_PORT}/metrics`;
}

/** Reads `url` as Prometheus text; throws on a non-2xx answer or after the timeout. */
export async function scrapeMetrics(url: string, timeoutMs = SCRAPE_TIMEOUT_MS): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return await response.text();
}
