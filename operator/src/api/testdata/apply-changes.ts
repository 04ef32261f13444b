/**
 * Applies an `InvalidCase`'s changes to a manifest: dotted paths, numeric segments index
 * lists, missing intermediate objects are created.
 */
import type { InvalidCase } from './invalid-corpus.js';

type Node = Record<string, unknown> | unknown[];

function child(node: Node, segment: string): unknown {
  return Array.isArray(node) ? node[Number(segment)] : node[segment];
}

function assign(node: Node, segment: string, value: unknown): void {
  if (Array.isArray(node)) node[Number(segment)] = value;
  else node[segment] = value;
}

function parentOf(root: Node, path: string, create: boolean): [Node, string] | undefined {
  const segments = path.split('.');
  const last = segments.pop() as string;
  let node: Node = root;
  for (const segment of segments) {
    let next = child(node, segment);
    if (next === undefined && create) {
      next = {};
      assign(node, segment, next);
    }
    if (typeof next !== 'object' || next === null) return undefined;
    node = next as Node;
  }
  return [node, last];
}

/** A copy of `manifest` with the case's `remove` and `set` applied, in that order. */
export function applyChanges<T extends Record<string, unknown>>(
  manifest: T,
  change: Pick<InvalidCase, 'set' | 'remove'>,
): T {
  const copy = structuredClone(manifest);
  for (const path of change.remove ?? []) {
    const found = parentOf(copy, path, false);
    if (!found) throw new Error(`Nothing to remove at ${path}`);
    const [node, last] = found;
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  }
  for (const [path, value] of Object.entries(change.set ?? {})) {
    const found = parentOf(copy, path, true);
    if (!found) throw new Error(`Cannot set ${path}`);
    assign(found[0], found[1], structuredClone(value));
  }
  return copy;
}
