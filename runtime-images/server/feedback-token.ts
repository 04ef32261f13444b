/**
 * Who may submit labels: `POST …:feedback` needs `Authorization: Bearer <token>`, the token
 * read from a file (`LATHE_FEEDBACK_TOKEN_FILE`, the InferenceService's
 * `spec.requestLogging.feedback.tokenSecretRef` mounted by the operator).
 *
 * Labels drive live accuracy, which can trigger retraining and promotion, so an anonymous
 * label is never taken: with no token configured, feedback is disabled (403, saying how to
 * enable it); a missing or wrong token is a 401. The file is looked at on every submission and
 * read again when it changed (the kubelet swaps a Secret volume's files when the Secret
 * changes), so a rotated token takes effect without a restart. Tokens are compared in constant
 * time (SHA-256 of both, then `timingSafeEqual`), so timing does not reveal a prefix.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** Whether a submission may go on; otherwise its status and a message for the client. */
export type FeedbackAuthorization =
  | { allowed: true }
  | { allowed: false; status: 401 | 403; message: string };

/** How a user enables feedback; part of the 403's message. */
export const ENABLE_FEEDBACK_HINT =
  'set spec.requestLogging.feedback.tokenSecretRef on the InferenceService (a Secret holding the token) and send "Authorization: Bearer <token>"';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** Whether `given` is `expected`, in time independent of where they differ. */
export function tokensMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** The token of a file's text: surrounding whitespace (the newline `echo` adds) is not part of it. */
export function tokenOfFile(text: string): string | undefined {
  const token = text.trim();
  return token === '' ? undefined : token;
}

/** Decides whether a submission with this `Authorization` header may go on. */
export interface FeedbackAuthorizer {
  authorize(authorization: string | undefined): Promise<FeedbackAuthorization>;
  /**
   * False when no label can ever be accepted (no token configured): the server then does not
   * remember answered requests for feedback. Unset counts as true.
   */
  readonly enabled?: boolean;
}

/** The feedback token, from the file `path` names (undefined: feedback is disabled). */
export class FeedbackTokenFile implements FeedbackAuthorizer {
  private cached: { version: string; token: string | undefined } | undefined;

  constructor(
    readonly path: string | undefined,
    private readonly onReadFailure: (error: unknown) => void = () => undefined,
  ) {}

  /** False without a token file: feedback can never be enabled without a restart. */
  get enabled(): boolean {
    return this.path !== undefined;
  }

  /** Whether `authorization` (the request's header) may submit labels. */
  async authorize(authorization: string | undefined): Promise<FeedbackAuthorization> {
    if (this.path === undefined) {
      return {
        allowed: false,
        status: 403,
        message: `feedback is disabled on this server: no token is configured; to enable it, ${ENABLE_FEEDBACK_HINT}`,
      };
    }
    const expected = await this.current();
    if (expected === undefined) {
      return {
        allowed: false,
        status: 403,
        message: `feedback is disabled on this server: its token file is missing or empty; to enable it, ${ENABLE_FEEDBACK_HINT}`,
      };
    }
    const given = bearerToken(authorization);
    if (given === undefined) {
      return {
        allowed: false,
        status: 401,
        message:
          'feedback needs "Authorization: Bearer <token>", the token in the Secret the InferenceService names in spec.requestLogging.feedback.tokenSecretRef',
      };
    }
    if (!tokensMatch(given, expected)) {
      return { allowed: false, status: 401, message: 'the bearer token is not valid' };
    }
    return { allowed: true };
  }

  /** The token now in the file, read again only when the file changed. */
  private async current(): Promise<string | undefined> {
    const path = this.path!;
    try {
      const s = await stat(path);
      const version = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      if (this.cached?.version !== version) {
        this.cached = { version, token: tokenOfFile(await readFile(path, 'utf8')) };
      }
      return this.cached.token;
    } catch (error) {
      this.cached = undefined;
      this.onReadFailure(error);
      return undefined;
    }
  }
}
