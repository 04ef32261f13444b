/**
 * A small JSON REST client for the Kubernetes API, on top of @kubernetes/client-node's
 * `KubeConfig` (authentication, TLS, token refresh) and `ApiTransport` (one keep-alive
 * connection pool for requests and watches).
 *
 * Why not the generated typed clients: they deserialise into classes with `Date` timestamps
 * for built-in kinds and plain JSON for custom resources, so a cache mixing both would hold two
 * shapes of the same data, and the zod schemas of Lathe's kinds expect the wire format. This
 * client keeps every object in its JSON form, exactly as the API server sent it, and exposes
 * the few verbs a controller needs, including server-side apply and subresources.
 *
 * Errors from the API server become `ApiError`, which carries the HTTP status and the
 * `Status` reason so callers can branch on NotFound / Conflict / Gone / Invalid.
 */
import * as k8s from '@kubernetes/client-node';
import { ApiTransport, type RawResponse } from './api-transport.js';
import {
  apiVersionOf,
  collectionPath,
  type KubeObject,
  objectPath,
  type ResourceType,
} from './resource.js';

/** A `Status` object as the API server returns it on failure. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

/** A failed API request. `statusCode` is the HTTP status (0 when no response was received). */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  readonly status: ApiStatus | undefined;

  constructor(
    statusCode: number,
    status: ApiStatus | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.reason = status?.reason ?? '';
    this.status = status;
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}
export const isNotFound = (e: unknown): boolean => isApiError(e) && e.statusCode === 404;
export const isConflict = (e: unknown): boolean =>
  isApiError(e) && e.statusCode === 409 && e.reason !== 'AlreadyExists';
export const isAlreadyExists = (e: unknown): boolean =>
  isApiError(e) && e.statusCode === 409 && e.reason === 'AlreadyExists';
export const isForbidden = (e: unknown): boolean => isApiError(e) && e.statusCode === 403;
export const isGone = (e: unknown): boolean => isApiError(e) && e.statusCode === 410;
/** 422: the object itself is invalid; retrying the same request cannot succeed. */
export const isInvalid = (e: unknown): boolean => isApiError(e) && e.statusCode === 422;
/** A 422 because a field that cannot change was changed (a Job's pod template, a selector). */
export const isImmutableFieldError = (e: unknown): boolean =>
  isInvalid(e) && /field is immutable|may not change once set/i.test((e as ApiError).message);

/**
 * `error` with `context` prepended to its message, keeping its type: an `ApiError` stays an
 * `ApiError` with the same status code and reason (so a 422 is still recognised as terminal
 * higher up), anything else becomes an `Error`. The original is the `cause`.
 */
export function withContext(error: unknown, context: string): Error {
  const detail = error instanceof Error ? error.message : String(error);
  if (isApiError(error)) {
    return new ApiError(error.statusCode, error.status, `${context}: ${detail}`, { cause: error });
  }
  return new Error(`${context}: ${detail}`, { cause: error });
}

export interface KubeList<T extends KubeObject = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const patchContentType: Record<PatchType, string> = {
  merge: k8s.PatchStrategy.MergePatch,
  json: k8s.PatchStrategy.JsonPatch,
  strategic: k8s.PatchStrategy.StrategicMergePatch,
  apply: k8s.PatchStrategy.ServerSideApply,
};

export interface PatchOptions {
  subresource?: string;
  fieldManager?: string;
  /** Only for `apply`: take ownership of conflicting fields. */
  force?: boolean;
}

/** A watch event as the API server sends it. `ERROR` carries a `Status` in `object`. */
export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR' | string;
  object: KubeObject;
}

export interface WatchHandle {
  abort(): void;
}

/** The API requests the runtime makes. An interface so unit tests can stand in for the server. */
export interface KubeClient {
  get<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T>;
  list<T extends KubeObject>(resource: ResourceType, options?: ListOptions): Promise<KubeList<T>>;
  create<T extends KubeObject>(resource: ResourceType, obj: KubeObject): Promise<T>;
  /** PUT; `obj.metadata.resourceVersion` makes it an optimistic-concurrency update. */
  replace<T extends KubeObject>(
    resource: ResourceType,
    obj: KubeObject,
    subresource?: string,
  ): Promise<T>;
  patch<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    options?: PatchOptions,
  ): Promise<T>;
  delete(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    options?: {
      propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
      preconditions?: { uid?: string; resourceVersion?: string };
    },
  ): Promise<void>;
  /**
   * Discovery of one API group version (`GET /apis/<group>/<version>`): the names of the
   * resources it serves (`jobsets`, `jobsets/status`), or undefined when it is not served.
   */
  servedResources(group: string, version: string): Promise<string[] | undefined>;
  /**
   * Starts a watch. `onEvent` is called once per event; `onDone` exactly once when the watch
   * ends, with the error if it failed (an HTTP error carries `statusCode`). Aborting through the
   * returned handle ends it too.
   */
  watch(
    resource: ResourceType,
    options: WatchOptions,
    onEvent: (event: WatchEvent) => void,
    onDone: (error: unknown) => void,
  ): Promise<WatchHandle>;
}

const requestTimeoutMs = 30_000;

/** `KubeClient` over HTTP(S), authenticated through a `KubeConfig` (see `ApiTransport`). */
export class HttpKubeClient implements KubeClient {
  readonly kubeConfig: k8s.KubeConfig;
  readonly #transport: ApiTransport;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.kubeConfig = kubeConfig;
    this.#transport = new ApiTransport(kubeConfig);
  }

  /** Sends one request and returns its parsed JSON body (undefined for an empty body). */
  async request<T>(
    method: string,
    path: string,
    options: {
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
      contentType?: string;
    } = {},
  ): Promise<T> {
    const target = path + queryString(options.query);
    const body =
      options.body === undefined
        ? undefined
        : {
            text: JSON.stringify(options.body),
            contentType: options.contentType ?? 'application/json',
          };
    let response: RawResponse;
    try {
      response = await this.#transport.send(method, target, body, requestTimeoutMs);
    } catch (error) {
      throw new ApiError(0, undefined, `${method} ${path} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const { statusCode: code, text } = response;
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (code >= 200 && code < 300) return parsed as T;
    const status =
      parsed !== undefined && typeof parsed === 'object' ? (parsed as ApiStatus) : undefined;
    const detail = status?.message ?? (text.slice(0, 300) || response.statusMessage || 'no body');
    throw new ApiError(code, status, `${method} ${path} failed with HTTP ${code}: ${detail}`);
  }

  get<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    return this.request<T>('GET', objectPath(resource, namespace, name));
  }

  async servedResources(group: string, version: string): Promise<string[] | undefined> {
    const path = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    try {
      const list = await this.request<{ resources?: { name?: string }[] }>('GET', path);
      return (list?.resources ?? []).flatMap((r) => (r.name ? [r.name] : []));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  list<T extends KubeObject>(
    resource: ResourceType,
    options: ListOptions = {},
  ): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', collectionPath(resource, options.namespace), {
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
      },
    });
  }

  create<T extends KubeObject>(resource: ResourceType, obj: KubeObject): Promise<T> {
    return this.request<T>('POST', collectionPath(resource, obj.metadata?.namespace), {
      body: withTypeMeta(resource, obj),
    });
  }

  replace<T extends KubeObject>(
    resource: ResourceType,
    obj: KubeObject,
    subresource?: string,
  ): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`Cannot replace a ${resource.kind} without metadata.name`);
    return this.request<T>(
      'PUT',
      objectPath(resource, obj.metadata?.namespace, name, subresource),
      {
        body: withTypeMeta(resource, obj),
      },
    );
  }

  patch<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    options: PatchOptions = {},
  ): Promise<T> {
    return this.request<T>('PATCH', objectPath(resource, namespace, name, options.subresource), {
      query: {
        fieldManager: options.fieldManager,
        force: type === 'apply' ? options.force : undefined,
      },
      body,
      contentType: patchContentType[type],
    });
  }

  async delete(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
    options: {
      propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
      preconditions?: { uid?: string; resourceVersion?: string };
    } = {},
  ): Promise<void> {
    await this.request('DELETE', objectPath(resource, namespace, name), {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', ...options },
    });
  }

  async watch(
    resource: ResourceType,
    options: WatchOptions,
    onEvent: (event: WatchEvent) => void,
    onDone: (error: unknown) => void,
  ): Promise<WatchHandle> {
    const path =
      collectionPath(resource, options.namespace) +
      queryString({
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: options.resourceVersion,
        labelSelector: options.labelSelector,
        timeoutSeconds: options.timeoutSeconds,
      });
    return await this.#transport.stream(
      path,
      (line) => {
        let event: WatchEvent;
        try {
          event = JSON.parse(line) as WatchEvent;
        } catch {
          return; // a torn line: the informer's watchdog and relist cover what it carried
        }
        onEvent(event);
      },
      onDone,
    );
  }
}

/** `?a=1&b=x` of the defined values, or '' when there are none. */
function queryString(query: Record<string, string | number | boolean | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Server-side apply and create need `apiVersion` and `kind` in the body. */
function withTypeMeta(resource: ResourceType, obj: KubeObject): KubeObject {
  return {
    ...obj,
    apiVersion: obj.apiVersion ?? apiVersionOf(resource),
    kind: obj.kind ?? resource.kind,
  };
}

export { withTypeMeta };
