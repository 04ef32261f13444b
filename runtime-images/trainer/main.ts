/**
 * Lathe's trainer (image `ghcr.io/lathe-dev/lathe-trainer`): trains a built-in TensorFlow.js
 * model on a prepared dataset version and saves it as a verifiable artifact. Reads its settings
 * from the environment (`TrainEnv` in the contract), writes its result to `LATHE_RESULT_PATH`
 * (the pod's termination message) and exits 0 on success, 1 on a failed run, 2 on an invalid
 * environment. See docs/trainer.md.
 */
import { pino } from 'pino';
import {
  DEFAULT_TERMINATION_MESSAGE_PATH,
  writeResult,
} from '../../operator/src/contract/results.js';
import { RESULT_PATH_ENV, RuntimeEnvError } from '../../operator/src/contract/runtime-env.js';
import { trainSettingsFromEnv } from './env.js';
import { runTraining } from './trainer.js';

const log = pino({
  base: { component: 'lathe-trainer' },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  redact: { paths: ['*.accessKey', '*.secretKey', 'accessKey', 'secretKey'], censor: '[REDACTED]' },
});

async function main(): Promise<number> {
  const resultPath = process.env[RESULT_PATH_ENV] || DEFAULT_TERMINATION_MESSAGE_PATH;
  let settings: ReturnType<typeof trainSettingsFromEnv>;
  try {
    settings = trainSettingsFromEnv(process.env);
  } catch (error) {
    if (!(error instanceof RuntimeEnvError)) throw error;
    log.error({ err: error }, 'Refused the environment');
    writeResult(
      { kind: 'train', outcome: 'failed', reason: 'InternalError', message: error.message },
      resultPath,
    );
    return 2;
  }
  const result = await runTraining(settings, log);
  writeResult(result, settings.resultPath);
  return result.outcome === 'succeeded' ? 0 : 1;
}

main().then(
  // Exit explicitly: the object-store client's keep-alive sockets would hold the process open.
  (code) => process.exit(code),
  (error) => {
    log.fatal({ err: error }, 'Crashed');
    process.exit(1);
  },
);
