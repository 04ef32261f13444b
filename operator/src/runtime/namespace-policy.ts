/**
 * Namespaces the operator never acts in. The operator's ClusterRole, bound cluster-wide, would let
 * it create Secrets, ServiceAccounts, Roles and workloads in `kube-system` — where a pod can run
 * with the control plane's service accounts and reach what they reach — just because somebody
 * wrote a Lathe object there. So a Lathe object in a refused namespace gets no children at all:
 * the runtime reports `Stalled=True`/`NamespaceRefused` on it before any controller code runs,
 * and `ctx.apply`/`ctx.delete` refuse a child in such a namespace whatever the controller asks.
 *
 * `kube-system` is always refused; an install adds more (`refusedNamespaces` in the chart,
 * `LATHE_REFUSED_NAMESPACES`). Pure: no I/O.
 */

/** Refused by every install, whatever its configuration says. */
export const ALWAYS_REFUSED_NAMESPACES: readonly string[] = ['kube-system'];

/** The reason of the `Stalled` condition and the Warning event. */
export const NAMESPACE_REFUSED_REASON = 'NamespaceRefused';

/** `configured` plus the always-refused namespaces, each once, in a stable order. */
export function refusedNamespaces(configured: readonly string[] = []): string[] {
  return [...new Set([...ALWAYS_REFUSED_NAMESPACES, ...configured])];
}

/**
 * Why Lathe does not act in `namespace`, or undefined when it may. `refused` is the full list
 * (see `refusedNamespaces`); the always-refused ones count even when it omits them.
 */
export function namespaceRefusal(
  namespace: string | undefined,
  refused: readonly string[],
): string | undefined {
  if (!namespace) return undefined;
  if (!ALWAYS_REFUSED_NAMESPACES.includes(namespace) && !refused.includes(namespace))
    return undefined;
  return `Lathe does not act in namespace "${namespace}": it is refused by the operator's configuration (kube-system always; others through refusedNamespaces), so nothing is created for this object`;
}
