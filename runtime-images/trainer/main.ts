/**
 * Lathe's trainer (image `ghcr.io/lathe-dev/lathe-trainer`), three modes chosen by the first
 * argument (the pod's `args`):
 * - none: trains a built-in TensorFlow.js model on a prepared dataset version and saves it as a
 *   verifiable artifact (`TrainEnv` in the contract; `runTraining`);
 * - `evaluate`: scores an existing model artifact on a dataset version's raw test rows with the
 *   model's own preparation (`EvaluateEnv`; `runEvaluation`), for a RetrainPolicy's
 *   champion/challenger decision;
 * - `batch`: scores one shard of a BatchPrediction (`BatchEnv`; `runBatchShard` in
 *   `runtime-images/batch/`), one pod of its Indexed Job.
 * Each writes its result to `LATHE_RESULT_PATH` (the pod's termination message) and exits 0 on
 * success, 1 on a failed run (the batch mode: 75 when a retry can help, `exitCodeFor`), 2 on an
 * invalid environment or arguments. See docs/trainer.md.
 */
import { pino } from 'pino';
import {
  type BatchResult,
  DEFAULT_TERMINATION_MESSAGE_PATH,
  type EvaluateResult,
  exitCodeFor,
  type TrainResult,
  writeResult,
} from '../../contract/results.js';
import { RESULT_PATH_ENV, RuntimeEnvError } from '../../contract/runtime-env.js';
import { runBatchShard } from '../batch/batch.js';
import { batchSettingsFromEnv } from '../batch/settings.js';
import { evaluateSettingsFromEnv, trainSettingsFromEnv } from './env.js';
import { runEvaluation } from './evaluate.js';
import { runTraining } from './trainer.js';

const log = pino({
  base: { component: 'lathe-trainer' },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  redact: { paths: ['*.accessKey', '*.secretKey', 'accessKey', 'secretKey'], censor: '[REDACTED]' },
});

/**
 * Reads a mode's settings, runs it and writes its result; the exit code. An invalid environment
 * is named in a failed result (exit 2) before anything is touched.
 */
async function runMode<
  S extends { resultPath: string },
  R extends TrainResult | EvaluateResult | BatchResult,
>(
  kind: R['kind'],
  readSettings: (env: NodeJS.ProcessEnv) => S,
  run: (settings: S, logger: typeof log) => Promise<R>,
  resultPath: string,
): Promise<number> {
  let settings: S;
  try {
    settings = readSettings(process.env);
  } catch (error) {
    if (!(error instanceof RuntimeEnvError)) throw error;
    log.error({ err: error }, 'Refused the environment');
    writeResult(
      { kind, outcome: 'failed', reason: 'InternalError', message: error.message },
      resultPath,
    );
    return 2;
  }
  const result = await run(settings, log);
  writeResult(result, settings.resultPath);
  if (result.outcome === 'succeeded') return 0;
  // The batch mode's Job retries a shard per index: a transient failure says so (75).
  return kind === 'batch' ? exitCodeFor(result.reason) : 1;
}

async function main(args: string[]): Promise<number> {
  const resultPath = process.env[RESULT_PATH_ENV] || DEFAULT_TERMINATION_MESSAGE_PATH;
  if (args.length === 0) return runMode('train', trainSettingsFromEnv, runTraining, resultPath);
  if (args.length === 1 && args[0] === 'evaluate') {
    return runMode('evaluate', evaluateSettingsFromEnv, runEvaluation, resultPath);
  }
  if (args.length === 1 && args[0] === 'batch') {
    return runMode('batch', batchSettingsFromEnv, runBatchShard, resultPath);
  }
  const message = `Invalid arguments ${JSON.stringify(args)}: expected none (train), "evaluate" or "batch"`;
  log.error(message);
  writeResult({ kind: 'train', outcome: 'failed', reason: 'InternalError', message }, resultPath);
  return 2;
}

main(process.argv.slice(2)).then(
  // Exit explicitly: the object-store client's keep-alive sockets would hold the process open.
  (code) => process.exit(code),
  (error) => {
    log.fatal({ err: error }, 'Crashed');
    process.exit(1);
  },
);
