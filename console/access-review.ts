/**
 * The two questions the console asks the API server — whose token is this (TokenReview), and
 * may this user get that kind there (SubjectAccessReview) — with their answers kept briefly,
 * as the API server's own webhook authenticator and authorizer cache theirs
 * (`--authentication-token-webhook-cache-ttl`, `--authorization-webhook-cache-authorized-ttl`).
 *
 * Answers live 30 s by default in bounded maps (`ExpiringMap`): a revoked RoleBinding or token
 * stops working within that time, and a page with many tables costs a handful of reviews per
 * viewer per 30 s instead of one per row. A request already in flight is shared, so a burst of
 * page loads asks once. A failed review is not cached (the next request asks again) and
 * denies (fail closed).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ExpiringMap } from '../operator/src/runtime/expiring-map.js';
import {
  accessReviewRequest,
  allowedByReview,
  tokenReviewRequest,
  type Viewer,
  viewerFromTokenReview,
  viewerKey,
} from './access.js';
import { consoleKindOf, type KindKey } from './kinds.js';

/** Sends one JSON request to the API server (`HttpKubeClient.request`). */
export type ApiRequest = (
  method: string,
  path: string,
  options: { body: unknown },
) => Promise<unknown>;

/** Whose tokens are, and what they may get. */
export interface AccessReviewer {
  /** The viewer `token` belongs to, or undefined when the API server does not accept it. */
  viewerOf(token: string): Promise<Viewer | undefined>;
  /** Whether `viewer` may get `kind` in `namespace` (undefined: in every namespace). */
  mayGet(viewer: Viewer, kind: KindKey, namespace: string | undefined): Promise<boolean>;
}

export interface KubeAccessReviewerOptions {
  request: ApiRequest;
  log: Logger;
  /** How long an answer is kept. Default 30 s. */
  ttlMs?: number;
  /** Answers kept at most, per question. Default 10,000. */
  maxEntries?: number;
  now?: () => number;
}

/** `AccessReviewer` through the API server's review APIs. */
export class KubeAccessReviewer implements AccessReviewer {
  readonly #request: ApiRequest;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #viewers: ExpiringMap<string, Promise<Viewer | undefined>>;
  readonly #verdicts: ExpiringMap<string, Promise<boolean>>;

  constructor(options: KubeAccessReviewerOptions) {
    this.#request = options.request;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    const bounds = { maxEntries: options.maxEntries ?? 10_000, maxAgeMs: options.ttlMs ?? 30_000 };
    this.#viewers = new ExpiringMap(bounds);
    this.#verdicts = new ExpiringMap(bounds);
  }

  viewerOf(token: string): Promise<Viewer | undefined> {
    // The map holds a digest of the token, never the token itself.
    const key = createHash('sha256').update(token).digest('hex');
    return this.#remembered(this.#viewers, key, async () =>
      viewerFromTokenReview(
        await this.#request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
          body: tokenReviewRequest(token),
        }),
      ),
    );
  }

  mayGet(viewer: Viewer, kind: KindKey, namespace: string | undefined): Promise<boolean> {
    const resource = consoleKindOf(kind).plural;
    const key = `${viewerKey(viewer)}\n${resource}\n${namespace ?? '*'}`;
    return this.#remembered(this.#verdicts, key, async () =>
      allowedByReview(
        await this.#request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          body: accessReviewRequest(viewer, resource, namespace),
        }),
      ),
    );
  }

  #remembered<V>(map: ExpiringMap<string, Promise<V>>, key: string, ask: () => Promise<V>) {
    const now = this.#now();
    const known = map.get(key, now);
    if (known) return known;
    const answer = ask();
    map.set(key, answer, now);
    answer.catch((err: unknown) => {
      map.delete(key);
      this.#log.warn({ err }, 'Failed to review a console request; denying it');
    });
    return answer;
  }
}
