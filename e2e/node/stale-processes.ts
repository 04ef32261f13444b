/**
 * Clean-up after an earlier node run that died without stopping its pods: every container
 * run leaves a pid file (`<podDir>/<container>.pid`) while it lives; at start-up the node
 * SIGKILLs the process group of each one that is still the same process (same start time,
 * so a recycled pid is never killed) and removes the files.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { PidFile } from './container-process.js';
import { killGroup, readProcStat } from './process-group.js';

/** Kills what earlier runs left under `<nodeDir>/pods`; returns the pid files it handled. */
export function killStaleProcesses(nodeDir: string): string[] {
  const podsDir = path.join(nodeDir, 'pods');
  if (!existsSync(podsDir)) return [];
  const handled: string[] = [];
  for (const pod of readdirSync(podsDir)) {
    const dir = path.join(podsDir, pod);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const file of entries.filter((f) => f.endsWith('.pid'))) {
      const pidPath = path.join(dir, file);
      try {
        const recorded = JSON.parse(readFileSync(pidPath, 'utf8')) as PidFile;
        const live = readProcStat(recorded.pid);
        if (live && live.startTicks === recorded.startTicks) killGroup(recorded.pid);
      } catch {
        // unreadable: nothing we can safely kill
      }
      rmSync(pidPath, { force: true });
      handled.push(pidPath);
    }
  }
  return handled;
}
