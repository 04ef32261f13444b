/**
 * How the ingestion program fails: one error type carrying a reason from the contract's
 * `FailureReasonSchema` (and, for a failed validation, the rule, column and observed value),
 * the exit codes (the contract's `RuntimeExitCode`), and the redaction that keeps credentials
 * out of messages.
 */
import { STATUS_CODES } from 'node:http';
import type { FailureReason } from '../../contract/results.js';

export {
  exitCodeFor,
  RuntimeExitCode as IngestExitCode,
} from '../../contract/results.js';

/** A failure with a reason a user can act on; its message quotes the underlying error. */
export class IngestFailure extends Error {
  readonly reason: FailureReason;
  readonly rule: string | undefined;
  readonly column: string | undefined;
  readonly observed: string | undefined;

  constructor(
    reason: FailureReason,
    message: string,
    details: { rule?: string; column?: string; observed?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'IngestFailure';
    this.reason = reason;
    this.rule = details.rule;
    this.column = details.column;
    this.observed = details.observed;
  }
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const text = error.message || error.name;
    return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
  }
  return String(error);
}

/**
 * `text` with every secret in `secrets` replaced by `***`, and the user-info of any URL
 * (`https://user:password@host`) removed: applied to every message the program reports, as a
 * second line of defence behind never putting a credential in one.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@');
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * The failure of an HTTP source's answer `status` to a GET of `shown` (the URL as logs may show
 * it): not found, unauthorized (naming `headersField`, the spec field holding the request's
 * headers) or unavailable.
 */
export function httpStatusFailure(
  status: number,
  shown: string,
  headersField = 'spec.source.http.headersSecretRef',
): IngestFailure {
  // The standard reason phrase, not the server's: what a source sends is never quoted.
  const phrase = STATUS_CODES[status];
  const what = `GET ${shown} answered ${status}${phrase ? ` ${phrase}` : ''}`;
  if (status === 404 || status === 410) return new IngestFailure('SourceNotFound', what);
  if (status === 401 || status === 403 || status === 407) {
    return new IngestFailure('SourceUnauthorized', `${what} (check ${headersField})`);
  }
  return new IngestFailure('SourceUnavailable', what);
}
