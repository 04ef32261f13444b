/**
 * The `ghcr.io/lathe-dev/lathe-ingest` image: reads a Dataset's source, prepares, validates
 * and splits it, and writes a content-addressed dataset version to the object store. The
 * operator runs it as a Job and reads its result from the termination message
 * (`LATHE_RESULT_PATH`); the exit code says whether a retry can help (`failure.ts`).
 */
import pino from 'pino';
import { piiKeyFromEnv } from '../../contract/pii-hash.js';
import { type IngestResult, writeResult } from '../../contract/results.js';
import { RuntimeEnvError } from '../../contract/runtime-env.js';
import { exitCodeFor, IngestExitCode, IngestFailure, messageOf, redact } from './failure.js';
import { ingest, openTable } from './ingest.js';
import { type IngestSettings, resultPathFrom, secretsOf, settingsFromEnv } from './settings.js';
import { readHeaderFiles } from './sources.js';

const log = pino({ base: { program: 'lathe-ingest' }, timestamp: pino.stdTimeFunctions.isoTime });

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function report(path: string, result: IngestResult): void {
  try {
    writeResult(result, path);
  } catch (error) {
    log.error({ path, error: messageOf(error) }, 'Could not write the result');
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const resultPath = resultPathFrom(process.env);
  let settings: IngestSettings;
  let piiKey: Buffer | undefined;
  try {
    settings = settingsFromEnv(process.env);
    piiKey = piiKeyFromEnv(process.env);
  } catch (error) {
    const message = error instanceof RuntimeEnvError ? error.message : messageOf(error);
    log.error({ reason: 'InternalError' }, message);
    report(resultPath, { kind: 'ingest', outcome: 'failed', reason: 'InternalError', message });
    return IngestExitCode.invalidEnvironment;
  }
  const context = { namespace: settings.namespace, dataset: settings.name };
  let secrets = secretsOf(settings, {});
  try {
    const headers = settings.spec.source.http ? await readHeaderFiles(settings.httpHeadersDir) : {};
    secrets = secretsOf(settings, headers);
    log.info(context, 'Started ingesting the Dataset');
    const progress = (msg: string, fields: Record<string, unknown>) =>
      log.info({ ...context, ...fields }, msg);
    const outcome = await ingest(
      settings,
      await openTable(settings, headers, progress),
      progress,
      piiKey,
    );
    report(settings.resultPath, {
      kind: 'ingest',
      outcome: 'succeeded',
      version: outcome.version,
      rows: outcome.rows,
      trainRows: outcome.trainRows,
      testRows: outcome.testRows,
      reused: outcome.reused,
    });
    log.info(
      {
        ...context,
        version: outcome.version,
        reused: outcome.reused,
        sourceRows: outcome.sourceRows,
        seconds: (Date.now() - started) / 1000,
        cpuSeconds: cpuSeconds(),
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
      },
      'Ingested the Dataset',
    );
    return IngestExitCode.succeeded;
  } catch (error) {
    const failure =
      error instanceof IngestFailure
        ? error
        : new IngestFailure('InternalError', messageOf(error), { cause: error });
    const message = redact(failure.message, secrets);
    const result: IngestResult = {
      kind: 'ingest',
      outcome: 'failed',
      reason: failure.reason,
      message,
      ...(failure.rule ? { rule: failure.rule } : {}),
      ...(failure.column ? { column: failure.column } : {}),
      ...(failure.observed !== undefined ? { observed: redact(failure.observed, secrets) } : {}),
    };
    report(settings.resultPath, result);
    log.error(
      {
        ...context,
        reason: failure.reason,
        rule: failure.rule,
        column: failure.column,
        ...(failure.reason === 'InternalError'
          ? { stack: redact(String((error as Error).stack), secrets) }
          : {}),
      },
      message,
    );
    return exitCodeFor(failure.reason);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    log.fatal({ error: messageOf(error) }, 'Crashed');
    process.exitCode = IngestExitCode.failed;
  },
);
