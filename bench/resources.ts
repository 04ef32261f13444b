/**
 * What the operator benchmark reads about processes (resident memory, CPU time, from /proc)
 * and the pure arithmetic it prints (cost per object, which side limited throughput).
 */
import { readFile } from 'node:fs/promises';

/** Resident set size of `pid` in MiB (VmRSS), as the kernel and a container limit see it. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kib / 1024;
}

/** Linux reports process CPU in clock ticks of USER_HZ, 100 on every mainstream build. */
const ticksPerSecond = 100;

/** CPU seconds (user + system) `pid` has used so far; 0 when it is gone. */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command (which may contain spaces), counted from field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime + stime) ? (utime + stime) / ticksPerSecond : 0;
}

/** The whole machine's CPU time so far: busy and total seconds over all cores. */
export async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
}

/**
 * `apiserver_request_total` from the API server's /metrics text, summed by
 * "VERB resource[/subresource] code" (group and version left out).
 */
export function apiRequestCounts(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of metrics.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries(
      [...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (!labels.resource) continue;
    const what = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${labels.code}`;
    counts.set(what, (counts.get(what) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** What grew from `before` to `after`, largest first. */
export function countsSince(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): [string, number][] {
  return [...after]
    .map(([what, n]): [string, number] => [what, n - (before.get(what) ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
}

/** Least-squares slope and intercept of y over x. */
export function linearFit(points: readonly { x: number; y: number }[]): {
  slope: number;
  intercept: number;
} {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  const slope = sxx === 0 ? Number.NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** CPU use during one phase, in cores (CPU seconds per wall second). */
export interface PhaseCpu {
  apiServer: number;
  etcd: number;
  operator: number;
  /** The benchmark process itself (creating objects, watching statuses). */
  client: number;
  /** Everything on the machine, including other users of it. */
  machine: number;
  /** Cores the machine has. */
  cores: number;
  /** Whether the operator is one Node.js thread (saturates at one core) or multi-threaded. */
  singleThreaded: boolean;
  /** The phase's length, over which the cores above were averaged. */
  wallSeconds?: number;
}

/**
 * Milliseconds of CPU per object of each process in a phase (cores × wall seconds / objects),
 * or NaN without the phase's length.
 */
export function cpuPerObjectMs(
  cpu: PhaseCpu,
  objects: number,
): { operator: number; apiServer: number; etcd: number } {
  const perObject = (cores: number) =>
    cpu.wallSeconds === undefined || objects <= 0
      ? Number.NaN
      : (cores * cpu.wallSeconds * 1000) / objects;
  return {
    operator: perObject(cpu.operator),
    apiServer: perObject(cpu.apiServer),
    etcd: perObject(cpu.etcd),
  };
}

/**
 * Which side limited a phase's throughput, from where the CPU went. The rules, in order:
 * a busy machine (≥ 90% of its cores) is limited by whoever used most of it — the API server
 * with etcd, the operator, the benchmark client that creates the objects, or the rest of the
 * machine (the other cluster components, other users); otherwise a single-threaded operator at
 * ≥ 85% of a core is the limit; otherwise nothing was saturated, and the limit is the latency of
 * the round trips each worker waits for (workers × round-trip time).
 */
export function limitOf(cpu: PhaseCpu): string {
  const server = cpu.apiServer + cpu.etcd;
  const rest = Math.max(0, cpu.machine - server - cpu.operator - cpu.client);
  const figures = `API server ${cpu.apiServer.toFixed(2)} + etcd ${cpu.etcd.toFixed(2)}, operator ${cpu.operator.toFixed(2)}, benchmark client ${cpu.client.toFixed(2)}, everything else ${rest.toFixed(2)}; machine ${cpu.machine.toFixed(2)} of ${cpu.cores} cores`;
  if (cpu.machine >= 0.9 * cpu.cores) {
    const shares: [string, number][] = [
      ['the API server (with etcd)', server],
      ['the operator', cpu.operator],
      ['the benchmark client', cpu.client],
      ['the other processes on the machine', rest],
    ];
    const [who] = shares.reduce((a, b) => (b[1] > a[1] ? b : a));
    return `${who}, on a saturated machine (${figures})`;
  }
  if (cpu.singleThreaded && cpu.operator >= 0.85)
    return `the operator, its one thread saturated (${figures})`;
  return `neither side saturated: round-trip latency per worker (${figures})`;
}
