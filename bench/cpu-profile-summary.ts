/**
 * Where a process's CPU time went, from a V8 CPU profile (`node --cpu-prof`): the frames with
 * the most self time, and self time grouped by area — Node's HTTP/1.1 client, its HTTP/2
 * client, TLS and sockets, streams, JSON, client-node, zod, Lathe's own code, the garbage
 * collector. This is the summary the operator benchmark's Performance section reports before
 * and after a change.
 *
 *   npx tsx bench/cpu-profile-summary.ts CPU.…cpuprofile [--top 25] [--whole]
 *       [--objects 1000]
 *
 * By default the samples before the first second in which the process was idle (busy < 5%)
 * are left out: the operator loads its modules and syncs its caches, then waits (the
 * benchmark settles 5 s before it creates objects), so what follows is the work under load. `--whole` counts every
 * sample. `--objects N` also prints the CPU per object (the counted busy time / N).
 */
import { readFileSync } from 'node:fs';

/** The parts of a `.cpuprofile` this summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  /** Microseconds since the previous sample (the first: since `startTime`). */
  timeDeltas: number[];
}

/** Self time of one frame or one area, in milliseconds. */
export interface SelfTime {
  name: string;
  ms: number;
}

export interface ProfileSummary {
  /** Milliseconds counted: the window's samples, idle ones excluded. */
  busyMs: number;
  /** Milliseconds of the window, idle included. */
  windowMs: number;
  frames: SelfTime[];
  areas: SelfTime[];
}

/**
 * The area a frame belongs to, by its script's URL (and V8's pseudo-frames by name). The
 * first matching rule wins; the order puts the specific before the general.
 */
const areaRules: [string, (name: string, url: string) => boolean][] = [
  ['idle', (name) => name === '(idle)'],
  ['garbage collection', (name) => name === '(garbage collector)'],
  ['V8 and native (program)', (name) => name === '(program)'],
  ['Node HTTP/1.1 client', (_, url) => /node:_http_|node:http$|node:internal\/http$/.test(url)],
  ['Node HTTP/2 client', (_, url) => /node:internal\/http2|node:http2/.test(url)],
  ['TLS and sockets', (_, url) => /node:_tls|node:tls|node:net|node:internal\/(tls|net)/.test(url)],
  ['undici', (_, url) => /undici|node:internal\/deps\/undici/.test(url)],
  [
    'streams, events, timers',
    (_, url) =>
      /node:(internal\/)?(streams?|events|timers|readline)|node:internal\/(async_hooks|process\/task_queues)/.test(
        url,
      ),
  ],
  ['node-fetch', (_, url) => url.includes('node_modules/node-fetch')],
  ['client-node', (_, url) => url.includes('node_modules/@kubernetes/client-node')],
  ['zod', (_, url) => url.includes('node_modules/zod')],
  ['pino and prom-client', (_, url) => /node_modules\/(pino|prom-client|sonic-boom)/.test(url)],
  ['other packages', (_, url) => url.includes('node_modules/')],
  ['Lathe runtime', (_, url) => url.includes('/operator/src/runtime/')],
  ['Lathe controllers', (_, url) => url.includes('/operator/src/')],
  ['Node (other)', (_, url) => url.startsWith('node:')],
  ['built-ins (JSON, Buffer, RegExp…)', (_, url) => url === ''],
];

function areaOf(name: string, url: string): string {
  return areaRules.find(([, test]) => test(name, url))?.[0] ?? 'other';
}

/**
 * Index of the first sample of the first whole second in which the process was busy less than
 * 5% of the time — the end of start-up — or 0 when no second was that quiet.
 */
function firstSampleAfterStartup(profile: CpuProfile, idleNodes: Set<number>): number {
  let elapsedUs = 0;
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    elapsedUs += us;
    if (!idleNodes.has(profile.samples[i]!)) busyUs += us;
    if (elapsedUs >= 1_000_000) {
      if (busyUs < 0.05 * elapsedUs) return i + 1;
      elapsedUs = 0;
      busyUs = 0;
    }
  }
  return 0;
}

/**
 * Self time per frame and per area in the profile's window (after start-up with
 * `skipStartup`, otherwise everything). Frames are named `function (file:line)`.
 *
 * Each sample is charged the profiler's nominal interval (the median gap between samples),
 * not the gap that follows it as Chrome's profiler does: V8 samples by wall clock, so on a
 * machine with more runnable processes than cores a thread that was descheduled for 20 ms has
 * its next sample charged 20 ms it never ran. Counting samples is the CPU time.
 */
export function summarizeCpuProfile(
  profile: CpuProfile,
  options: { skipStartup: boolean; top: number },
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const idleNodes = new Set(
    profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
  );
  const from = options.skipStartup ? firstSampleAfterStartup(profile, idleNodes) : 0;
  const sortedDeltas = [...profile.timeDeltas].sort((a, b) => a - b);
  const nominalUs = sortedDeltas[sortedDeltas.length >> 1] ?? 1000;
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  let busyUs = 0;
  let windowUs = 0;
  for (let i = from; i < profile.samples.length; i++) {
    windowUs += profile.timeDeltas[i + 1] ?? 0;
    const us = nominalUs;
    const frame = byId.get(profile.samples[i]!);
    if (!frame || idleNodes.has(profile.samples[i]!)) continue;
    busyUs += us;
    const file = frame.url
      .replace(/^.*\/node_modules\//, '')
      .replace(/^file:\/\/.*?\/(dist|operator)\//, '$1/');
    const name = frame.url
      ? `${frame.functionName || '(anonymous)'} (${file}:${frame.lineNumber + 1})`
      : frame.functionName || '(anonymous)';
    frames.set(name, (frames.get(name) ?? 0) + us);
    const area = areaOf(frame.functionName, frame.url);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return {
    busyMs: busyUs / 1000,
    windowMs: windowUs / 1000,
    frames: sorted(frames).slice(0, options.top),
    areas: sorted(areas),
  };
}

/** The summary as printed lines: areas, then the top frames, each with its share of busy time. */
export function formatProfileSummary(summary: ProfileSummary, objects?: number): string[] {
  const share = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)}%`;
  const lines = [
    `busy ${summary.busyMs.toFixed(0)} ms of a ${summary.windowMs.toFixed(0)} ms window` +
      (objects ? `; ${(summary.busyMs / objects).toFixed(3)} ms per object (${objects})` : ''),
    'self time by area:',
    ...summary.areas.map((a) => `  ${share(a.ms)}  ${a.ms.toFixed(0).padStart(7)} ms  ${a.name}`),
    'top frames by self time:',
    ...summary.frames.map((f) => `  ${share(f.ms)}  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}`),
  ];
  return lines;
}

if (process.argv[1]?.endsWith('cpu-profile-summary.ts')) {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const file = args.find((a) => a.endsWith('.cpuprofile'));
  if (!file) {
    console.error(
      'Usage: tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--top N] [--whole] [--objects N]',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const objects = option('--objects') ? Number(option('--objects')) : undefined;
  const summary = summarizeCpuProfile(profile, {
    skipStartup: !args.includes('--whole'),
    top: Number(option('--top') ?? 25),
  });
  for (const line of formatProfileSummary(summary, objects)) console.log(line);
}
