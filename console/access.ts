/**
 * Who is looking, and what they may see — the console's access model, pure.
 *
 * No token, no data: every request carries a bearer token (the `Authorization` header, or the
 * HttpOnly cookie the login form sets, so a browser can use `kubectl create token`'s output).
 * The API server says whose it is (a TokenReview) and, per namespace and kind, whether that
 * user may `get` it (a SubjectAccessReview) — the way the Kubernetes dashboard and Headlamp
 * act on the viewer's rights rather than their own, except that the console reads through its
 * own informers and asks the API server only for verdicts. A viewer sees an object only if
 * they may `get` its kind in its namespace; the all-namespaces view lists only namespaces
 * where they may get something.
 *
 * This module builds the review requests, reads their answers, and filters the cache by the
 * verdicts; `access-review.ts` sends the requests and caches the verdicts.
 */
import { GROUP } from '../operator/src/api/kind.js';
import type { ConsoleCache } from './cache.js';
import { type ConsoleObjects, consoleKinds, type KindKey } from './kinds.js';

/** The cookie the login form stores the token in. */
export const TOKEN_COOKIE = 'lathe-console-token';

/** A user the API server authenticated (TokenReview `status.user`). */
export interface Viewer {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** The bearer token of a request: the `Authorization` header first, else the login cookie. */
export function bearerToken(headers: {
  authorization?: string | undefined;
  cookie?: string | undefined;
}): string | undefined {
  const header = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
  if (header) return header;
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    const value = decodeCookieValue(part.slice(eq + 1).trim());
    if (value) return value;
  }
  return undefined;
}

function decodeCookieValue(value: string): string | undefined {
  try {
    return decodeURIComponent(value) || undefined;
  } catch {
    return undefined;
  }
}

/** The `Set-Cookie` value that stores `token` for the console's pages only. */
export function tokenCookie(token: string, options: { secure: boolean; maxAgeSeconds: number }) {
  return [
    `${TOKEN_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${options.maxAgeSeconds}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/** The `Set-Cookie` value that removes the token (sign out). */
export function clearedTokenCookie(options: { secure: boolean }): string {
  return [
    `${TOKEN_COOKIE}=`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    'Max-Age=0',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/** The TokenReview that asks the API server whose `token` is. */
export function tokenReviewRequest(token: string) {
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token },
  };
}

/** The viewer a TokenReview's answer names, or undefined when the token was not accepted. */
export function viewerFromTokenReview(answer: unknown): Viewer | undefined {
  const status = (answer as { status?: Record<string, unknown> } | undefined)?.status;
  if (status?.authenticated !== true) return undefined;
  const user = status.user as Partial<Viewer> | undefined;
  if (!user || typeof user.username !== 'string' || user.username === '') return undefined;
  return {
    username: user.username,
    ...(typeof user.uid === 'string' ? { uid: user.uid } : {}),
    groups: Array.isArray(user.groups) ? user.groups.filter((g) => typeof g === 'string') : [],
    ...(user.extra && typeof user.extra === 'object' ? { extra: user.extra } : {}),
  };
}

/**
 * The SubjectAccessReview asking whether `viewer` may `get` the kind with REST name
 * `resource` in `namespace` (undefined: in every namespace).
 */
export function accessReviewRequest(viewer: Viewer, resource: string, namespace?: string) {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: viewer.username,
      groups: viewer.groups,
      ...(viewer.uid ? { uid: viewer.uid } : {}),
      ...(viewer.extra ? { extra: viewer.extra } : {}),
      resourceAttributes: {
        group: GROUP,
        resource,
        verb: 'get',
        ...(namespace !== undefined ? { namespace } : {}),
      },
    },
  };
}

/** Whether a SubjectAccessReview's answer allows the request (a denial or no answer: no). */
export function allowedByReview(answer: unknown): boolean {
  const status = (answer as { status?: { allowed?: unknown } } | undefined)?.status;
  return status?.allowed === true;
}

/** What the viewer may get: per kind, every namespace or a set of them. */
export interface Permissions {
  allows(kind: KindKey, namespace: string): boolean;
}

/** The verdicts of one viewer, per kind: all namespaces, or those listed. */
export type Verdicts = Readonly<Record<KindKey, 'all' | ReadonlySet<string>>>;

/** `Permissions` from a viewer's verdicts. */
export function permissionsOf(verdicts: Verdicts): Permissions {
  return {
    allows: (kind, namespace) => {
      const verdict = verdicts[kind];
      return verdict === 'all' || verdict.has(namespace);
    },
  };
}

/** Permissions that allow nothing (no viewer). */
export const noPermissions: Permissions = { allows: () => false };

/** Asks whether a viewer may get a kind in a namespace (undefined: in all namespaces). */
export type MayGet = (kind: KindKey, namespace: string | undefined) => Promise<boolean>;

/**
 * A viewer's verdicts for every kind in `namespaces`: one cluster-wide review per kind, and
 * one per namespace only for the kinds not allowed cluster-wide. A review that fails counts as
 * a denial (fail closed).
 */
export async function verdictsFor(
  mayGet: MayGet,
  namespaces: readonly string[],
): Promise<Verdicts> {
  const denied = () => Promise.resolve(false);
  const entries = await Promise.all(
    consoleKinds.map(async ({ key }) => {
      if (await mayGet(key, undefined).catch(denied)) return [key, 'all'] as const;
      const allowed = await Promise.all(
        namespaces.map(async (ns) => [ns, await mayGet(key, ns).catch(denied)] as const),
      );
      return [key, new Set(allowed.filter(([, ok]) => ok).map(([ns]) => ns))] as const;
    }),
  );
  return Object.fromEntries(entries) as unknown as Verdicts;
}

/** The namespaces that hold at least one cached object of any kind, sorted. */
export function cachedNamespaces(cache: ConsoleCache): string[] {
  const namespaces = new Set<string>();
  for (const { key } of consoleKinds) {
    for (const obj of cache.reader(key).list()) {
      const ns = obj.metadata?.namespace;
      if (ns) namespaces.add(ns);
    }
  }
  return [...namespaces].sort();
}

/**
 * The cache as one viewer may see it: every read goes through the viewer's permissions, so a
 * page cannot show an object its viewer may not get, whatever it asks for.
 */
export class VisibleObjects {
  readonly #cache: ConsoleCache;
  readonly #permissions: Permissions;
  readonly #namespaces: readonly string[];

  constructor(cache: ConsoleCache, permissions: Permissions, namespaces: readonly string[]) {
    this.#cache = cache;
    this.#permissions = permissions;
    this.#namespaces = namespaces.filter((ns) =>
      consoleKinds.some(({ key }) => permissions.allows(key, ns)),
    );
  }

  /** The namespaces holding objects where the viewer may get at least one kind, sorted. */
  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  /** Whether the viewer may get `kind` in `namespace`. */
  allows(kind: KindKey, namespace: string): boolean {
    return this.#permissions.allows(kind, namespace);
  }

  /** The objects of `kind` the viewer may get, in `namespace` or in every namespace. */
  list<K extends KindKey>(kind: K, namespace?: string): ConsoleObjects[K][] {
    if (namespace !== undefined) {
      return this.#permissions.allows(kind, namespace)
        ? this.#cache.reader(kind).list(namespace)
        : [];
    }
    return this.#cache
      .reader(kind)
      .list()
      .filter((o) => this.#permissions.allows(kind, o.metadata?.namespace ?? ''));
  }

  /** One object, if it exists and the viewer may get it. */
  get<K extends KindKey>(kind: K, namespace: string, name: string): ConsoleObjects[K] | undefined {
    return this.#permissions.allows(kind, namespace)
      ? this.#cache.reader(kind).get(namespace, name)
      : undefined;
  }
}

/** A viewer's identity as one string, for keying cached verdicts. */
export function viewerKey(viewer: Viewer): string {
  return JSON.stringify([
    viewer.username,
    viewer.uid ?? '',
    [...viewer.groups].sort(),
    viewer.extra ?? {},
  ]);
}
