/**
 * Which InferenceService a request that reached the activator is for. Several Services at zero
 * in a namespace select the same activator pods, and after kube-proxy's DNAT nothing in the
 * connection says which Service was dialled, so the request itself must: the model name in the
 * path (clients address a service's model by the service's name, KServe V1
 * `/v1/models/<name>:predict` and V2 `/v2/models/<name>/...`), else the Host header
 * (`<name>`, `<name>.<namespace>`, `<name>.<namespace>.svc...`). Pure.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MODEL_PATH = /^\/v[12]\/models\/([^/:?]+)/;

/** The InferenceService `path` and `host` address in `namespace`, or undefined. */
export function inferenceServiceOf(
  path: string,
  host: string | undefined,
  namespace: string,
): string | undefined {
  const fromPath = MODEL_PATH.exec(path)?.[1];
  if (fromPath !== undefined) {
    let name: string;
    try {
      name = decodeURIComponent(fromPath);
    } catch {
      return undefined;
    }
    return DNS_LABEL.test(name) && name.length <= 63 ? name : undefined;
  }
  if (!host) return undefined;
  const hostname = host.replace(/:\d+$/, '').toLowerCase().replace(/\.$/, '');
  const labels = hostname.split('.');
  const [name, ns, svc] = labels;
  if (!name || !DNS_LABEL.test(name) || /^\d+$/.test(name)) return undefined;
  // A name in another namespace is not this activator's to serve.
  if (labels.length === 1) return name;
  if (ns !== namespace) return undefined;
  if (labels.length === 2 || svc === 'svc') return name;
  return undefined;
}
