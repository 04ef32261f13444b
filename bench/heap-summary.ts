/**
 * Where the bytes of a V8 heap snapshot go: the largest (type, constructor) groups by shallow
 * size, and the retained size of named holders — what would be freed if the objects behind a
 * property edge (a private field such as `#items`, a closure variable such as `waits`) were
 * gone. With two snapshots of the same process at different object counts, the difference
 * divided by the object count is the cost per object, by group and by holder.
 *
 *   npx tsx bench/heap-summary.ts a.heapsnapshot [b.heapsnapshot] [--objects 9000]
 *       [--holder '#items' --holder '#lastStatusWrites' ...]
 *
 * Take snapshots with `node --heapsnapshot-signal=SIGUSR2` and `kill -USR2 <pid>` (a snapshot
 * is preceded by a full GC, so it holds live objects only). `bench/operator.ts --heap-snapshots
 * DIR` does this at each object count.
 *
 * The file is not parsed with `JSON.parse` (a snapshot of a few hundred MiB is beyond V8's
 * string limit): the numeric `nodes` and `edges` arrays are scanned byte by byte into typed
 * arrays, and only the `strings` table goes through `JSON.parse`.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  nodeFields: number;
  edgeFields: number;
  nodeTypes: string[];
  edgeTypes: string[];
  /** Field offsets inside a node / edge record. */
  at: { type: number; name: number; selfSize: number; edgeCount: number };
  edgeAt: { type: number; nameOrIndex: number; toNode: number };
  nodes: Float64Array;
  edges: Uint32Array;
  strings: string[];
  /** Index of each node's first edge (in edge records, not array slots). */
  firstEdge: Uint32Array;
  nodeCount: number;
}

/** The array after `"key":` as numbers, scanning from `from`. */
function numbersAfter<A extends Float64Array | Uint32Array>(
  bytes: Buffer,
  key: string,
  make: (n: number) => A,
): A {
  const start = bytes.indexOf(`"${key}":[`);
  if (start < 0) throw new Error(`The snapshot has no "${key}" array`);
  let i = start + key.length + 4;
  const end = bytes.indexOf(']', i);
  let count = 0;
  for (let j = i; j < end; j++) if (bytes[j] === 44) count++;
  const out = make(end > i ? count + 1 : 0);
  let n = 0;
  let value = 0;
  let inNumber = false;
  for (; i <= end; i++) {
    const c = bytes[i]!;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else if (inNumber) {
      out[n++] = value;
      value = 0;
      inNumber = false;
    }
  }
  return out;
}

export function readSnapshot(file: string): Snapshot {
  const bytes = readFileSync(file);
  const headerEnd = bytes.indexOf('"nodes":[');
  const header = JSON.parse(
    `${bytes.subarray(0, headerEnd).toString('utf8').replace(/,\s*$/, '')}}`,
  ).snapshot.meta as {
    node_fields: string[];
    node_types: [string[]];
    edge_fields: string[];
    edge_types: [string[]];
  };
  const nodes = numbersAfter(bytes, 'nodes', (n) => new Float64Array(n));
  const edges = numbersAfter(bytes, 'edges', (n) => new Uint32Array(n));
  const stringsStart = bytes.indexOf('"strings":[');
  const stringsEnd = bytes.lastIndexOf(']');
  const strings = JSON.parse(
    bytes.subarray(stringsStart + '"strings":'.length, stringsEnd + 1).toString('utf8'),
  ) as string[];
  const nodeFields = header.node_fields.length;
  const edgeFields = header.edge_fields.length;
  const at = {
    type: header.node_fields.indexOf('type'),
    name: header.node_fields.indexOf('name'),
    selfSize: header.node_fields.indexOf('self_size'),
    edgeCount: header.node_fields.indexOf('edge_count'),
  };
  const nodeCount = nodes.length / nodeFields;
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let i = 0; i < nodeCount; i++)
    firstEdge[i + 1] = firstEdge[i]! + nodes[i * nodeFields + at.edgeCount]!;
  return {
    nodeFields,
    edgeFields,
    nodeTypes: header.node_types[0],
    edgeTypes: header.edge_types[0],
    at,
    edgeAt: {
      type: header.edge_fields.indexOf('type'),
      nameOrIndex: header.edge_fields.indexOf('name_or_index'),
      toNode: header.edge_fields.indexOf('to_node'),
    },
    nodes,
    edges,
    strings,
    firstEdge,
    nodeCount,
  };
}

function totalSize(s: Snapshot): number {
  let total = 0;
  for (let i = 0; i < s.nodeCount; i++) total += s.nodes[i * s.nodeFields + s.at.selfSize]!;
  return total;
}

/** Shallow size by "type name" (constructor name for objects; strings grouped as one). */
export function groups(s: Snapshot): Map<string, { count: number; bytes: number }> {
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodeCount; i++) {
    const base = i * s.nodeFields;
    const type = s.nodeTypes[s.nodes[base + s.at.type]!] ?? '?';
    const name =
      type === 'object' || type === 'closure' || type === 'native' || type === 'hidden'
        ? (s.strings[s.nodes[base + s.at.name]!] ?? '?').slice(0, 60)
        : '';
    const key = `${type}${name ? ` ${name}` : ''}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += s.nodes[base + s.at.selfSize]!;
    out.set(key, g);
  }
  return out;
}

/** Marks every node reachable from the root without passing through `excluded` or weak edges. */
function reachable(s: Snapshot, excluded: Uint8Array): Uint8Array {
  const seen = new Uint8Array(s.nodeCount);
  const weak = s.edgeTypes.indexOf('weak');
  const stack = [0];
  seen[0] = 1;
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e++) {
      const base = e * s.edgeFields;
      if (s.edges[base + s.edgeAt.type] === weak) continue;
      const to = s.edges[base + s.edgeAt.toNode]! / s.nodeFields;
      if (seen[to] || excluded[to]) continue;
      seen[to] = 1;
      stack.push(to);
    }
  }
  return seen;
}

/** Nodes that a property/internal/context edge named `name` points to. */
function holderTargets(s: Snapshot, name: string): number[] {
  const targets = new Set<number>();
  const element = s.edgeTypes.indexOf('element');
  const hidden = s.edgeTypes.indexOf('hidden');
  for (let node = 0; node < s.nodeCount; node++) {
    for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e++) {
      const base = e * s.edgeFields;
      const type = s.edges[base + s.edgeAt.type];
      if (type === element || type === hidden) continue;
      if (s.strings[s.edges[base + s.edgeAt.nameOrIndex]!] === name)
        targets.add(s.edges[base + s.edgeAt.toNode]! / s.nodeFields);
    }
  }
  return [...targets];
}

/**
 * The retained size of everything behind edges named `name`: the bytes reachable from their
 * targets that become unreachable from the root once the targets are removed.
 */
export function retainedBy(s: Snapshot, name: string): { holders: number; bytes: number } {
  const targets = holderTargets(s, name);
  const excluded = new Uint8Array(s.nodeCount);
  for (const t of targets) excluded[t] = 1;
  const live = reachable(s, excluded);
  const owned = new Uint8Array(s.nodeCount);
  const weak = s.edgeTypes.indexOf('weak');
  let bytes = 0;
  const stack = [...targets];
  for (const t of targets) owned[t] = 1;
  while (stack.length > 0) {
    const node = stack.pop()!;
    bytes += s.nodes[node * s.nodeFields + s.at.selfSize]!;
    for (let e = s.firstEdge[node]!; e < s.firstEdge[node + 1]!; e++) {
      const base = e * s.edgeFields;
      if (s.edges[base + s.edgeAt.type] === weak) continue;
      const to = s.edges[base + s.edgeAt.toNode]! / s.nodeFields;
      if (owned[to] || live[to]) continue;
      owned[to] = 1;
      stack.push(to);
    }
  }
  return { holders: targets.length, bytes };
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(1).padStart(7);

/**
 * Lines describing snapshot `b` relative to `a` (or `a` alone when `b` is undefined): live heap,
 * the largest growth by type, and the retained size of each holder; per object when `objects`
 * (the number of objects added between the two) is given.
 */
export function summarizeSnapshots(
  a: string,
  b: string | undefined,
  options: { objects?: number; holders?: readonly string[]; top?: number } = {},
): string[] {
  const lines: string[] = [];
  const snaps = (b ? [a, b] : [a]).map(readSnapshot);
  const objects = options.objects ?? 0;
  const perObject = (delta: number) =>
    objects > 0 ? `${(delta / objects).toFixed(0).padStart(6)} B/object` : '';
  const totals = snaps.map(totalSize);
  const totalDelta = totals[totals.length - 1]! - (snaps.length === 2 ? totals[0]! : 0);
  lines.push(
    `live heap ${totals.map((t) => `${mib(t)} MiB`).join(' →')}  ${perObject(totalDelta)}`,
  );
  const [first, second] = snaps.map(groups);
  const rows = [...(second ?? first)!.entries()].map(([key, g]) => {
    const before = second ? (first!.get(key) ?? { count: 0, bytes: 0 }) : { count: 0, bytes: 0 };
    return { key, count: g.count - before.count, bytes: g.bytes - before.bytes };
  });
  rows.sort((x, y) => y.bytes - x.bytes);
  lines.push(second ? 'largest growth by type (shallow):' : 'largest groups by type (shallow):');
  for (const r of rows.slice(0, options.top ?? 25)) {
    lines.push(
      `  ${mib(r.bytes)} MiB ${String(r.count).padStart(9)} nodes ${perObject(r.bytes)}  ${r.key}`,
    );
  }
  if (options.holders?.length) {
    lines.push('retained by holder (property or variable name):');
    for (const name of options.holders) {
      const sizes = snaps.map((s) => retainedBy(s, name));
      const last = sizes[sizes.length - 1]!;
      if (last.holders === 0) continue;
      const delta = last.bytes - (sizes.length === 2 ? sizes[0]!.bytes : 0);
      lines.push(
        `  ${sizes.map((x) => `${mib(x.bytes)} MiB`).join(' →')} ${perObject(delta)}  ${name} (${last.holders} holders)`,
      );
    }
  }
  return lines;
}

function main(): void {
  const args = process.argv.slice(2);
  const files: string[] = [];
  const holders: string[] = [];
  let objects = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--holder') holders.push(args[++i] ?? '');
    else if (arg === '--objects') objects = Number(args[++i]);
    else files.push(arg);
  }
  if (files.length < 1 || files.length > 2) {
    console.error(
      'usage: heap-summary.ts a.heapsnapshot [b.heapsnapshot] [--objects N] [--holder NAME ...]',
    );
    process.exit(2);
  }
  for (const line of summarizeSnapshots(files[0]!, files[1], { objects, holders }))
    console.log(line);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
