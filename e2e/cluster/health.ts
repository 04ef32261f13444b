/**
 * Waiting for components to become healthy, with errors that name the component and its log.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isAlive } from './processes.js';

export interface ClientCertificate {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** GETs `url` once; resolves with the status code (self-signed serving certs are accepted). */
export function probeUrl(
  url: string,
  tls: ClientCertificate = {},
  timeoutMs = 2_000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const isHttps = url.startsWith('https:');
    const request = (isHttps ? https : http).get(
      url,
      isHttps ? { ...tls, rejectUnauthorized: false, timeout: timeoutMs } : { timeout: timeoutMs },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/** The last `lines` lines of a log file, for error messages. */
export async function tailOf(logPath: string, lines = 15): Promise<string> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Polls `check` until it returns true. Fails early if the component's process died, and on the
 * deadline; both errors name the component, quote the end of its log and say where the log is.
 */
export async function waitUntilHealthy(
  component: { name: string; pid?: number; logPath: string },
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'not checked yet';
  for (;;) {
    try {
      if (await check()) return;
      lastProblem = 'not ready yet';
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    const died = component.pid !== undefined && !(await isAlive(component.pid));
    if (died || Date.now() > deadline) {
      const why = died
        ? 'exited during start-up'
        : `was not healthy after ${timeoutMs / 1000} s (${lastProblem})`;
      throw new Error(
        `${component.name} ${why}. Its log is ${component.logPath}; the end of it:\n${await tailOf(component.logPath)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
