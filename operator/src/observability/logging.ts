/**
 * The operator's logger: pino, JSON, one event per line, with secrets redacted.
 *
 * Redaction is by path, so every place that could carry a secret (the parsed configuration, an
 * object-store client's options, a Secret's data, auth headers of a failed request) is listed
 * here once rather than trusted to each call site.
 */
import { type DestinationStream, type Level, type Logger, pino } from 'pino';

export const redactedPaths = [
  'config.objectStore.secretKey',
  'config.objectStore.accessKey',
  'config.piiMasterKey',
  'piiMasterKey',
  'objectStore.secretKey',
  'objectStore.accessKey',
  'secretKey',
  'accessKey',
  'password',
  'token',
  '*.secretKey',
  '*.accessKey',
  '*.password',
  '*.token',
  'data',
  'stringData',
  '*.data',
  '*.stringData',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
];

/** A JSON-lines logger (pino) with secrets redacted, tagged with the process's `component`. */
export function createLogger(
  level: Level,
  destination?: DestinationStream,
  component = 'lathe-operator',
): Logger {
  return pino(
    {
      level,
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactedPaths, censor: '[REDACTED]' },
    },
    destination,
  );
}
