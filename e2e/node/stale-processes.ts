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
  const handled: string[] = [];
  for (const pidPath of pidFilesOf(nodeDir)) {
    killIfSameProcess(pidPath);
    rmSync(pidPath, { force: true });
    handled.push(pidPath);
  }
  return handled;
}

/**
 * SIGKILLs the process group of every live container of the pods in `namespace` (all pods when
 * undefined), as an OOM kill or a crashed machine would, while the node runs: its workers see
 * the exits and act as on any container's death (restart policy, pod phase). For failure
 * tests. Returns the pid files of the containers it killed.
 */
export function killPodContainers(nodeDir: string, namespace?: string): string[] {
  return pidFilesOf(nodeDir)
    .filter(
      (pidPath) =>
        namespace === undefined || path.basename(path.dirname(pidPath)).startsWith(`${namespace}_`),
    )
    .filter(killIfSameProcess);
}

/** Every `<podDir>/<container>.pid` under `<nodeDir>/pods`. */
function pidFilesOf(nodeDir: string): string[] {
  const podsDir = path.join(nodeDir, 'pods');
  if (!existsSync(podsDir)) return [];
  const files: string[] = [];
  for (const pod of readdirSync(podsDir)) {
    const dir = path.join(podsDir, pod);
    try {
      files.push(
        ...readdirSync(dir)
          .filter((f) => f.endsWith('.pid'))
          .map((f) => path.join(dir, f)),
      );
    } catch {
      // the pod's directory went away meanwhile
    }
  }
  return files;
}

/** Kills the recorded process group if its leader is still the recorded process (a reused pid is left alone). */
function killIfSameProcess(pidPath: string): boolean {
  try {
    const recorded = JSON.parse(readFileSync(pidPath, 'utf8')) as PidFile;
    const live = readProcStat(recorded.pid);
    if (live && live.startTicks === recorded.startTicks) {
      killGroup(recorded.pid);
      return true;
    }
  } catch {
    // unreadable: nothing we can safely kill
  }
  return false;
}
