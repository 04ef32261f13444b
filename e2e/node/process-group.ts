/**
 * Signals to a container's process group, read from /proc.
 *
 * Every container runs as `bwrap` (the group leader, started detached) whose child is the
 * container's program. bwrap's monitor process dies on SIGTERM without passing it on and
 * would then SIGKILL the program through `--die-with-parent`, so a graceful stop must signal
 * every member of the group *except* bwrap: the program shuts down, bwrap sees it exit and
 * exits with its status. SIGKILL, after the grace period, goes to the whole group.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Parses /proc/<pid>/stat: the process group (field 5) and start time in ticks (field 22). */
export function parseProcStat(stat: string): { pgrp: number; startTicks: string } | undefined {
  // The command name (field 2) is in parentheses and may contain spaces or parentheses.
  const close = stat.lastIndexOf(')');
  if (close === -1) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); field N is fields[N - 3].
  const pgrp = Number(fields[2]);
  const startTicks = fields[19];
  if (!Number.isInteger(pgrp) || startTicks === undefined) return undefined;
  return { pgrp, startTicks };
}

export function readProcStat(pid: number): { pgrp: number; startTicks: string } | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The live members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    if (readProcStat(pid)?.pgrp === pgid) members.push(pid);
  }
  return members;
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM to the group's members except its leader (bwrap); to the leader if it is alone. */
export function terminateGroup(pgid: number): void {
  const others = groupMembers(pgid).filter((pid) => pid !== pgid);
  if (others.length === 0) trySignal(pgid, 'SIGTERM');
  for (const pid of others) trySignal(pid, 'SIGTERM');
}

/** SIGKILL to the whole group. */
export function killGroup(pgid: number): void {
  trySignal(-pgid, 'SIGKILL');
}
