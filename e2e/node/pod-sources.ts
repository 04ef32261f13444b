/**
 * The API objects a pod's containers and volumes draw data from: Secrets, ConfigMaps and
 * service-account tokens. `referencedSourcesOf` (pure) lists what a pod needs;
 * `fetchPodSources` reads exactly those, which is also all the Node authorizer lets a kubelet
 * read: objects referenced by pods bound to it.
 */
import type * as k8s from '@kubernetes/client-node';

/** A token request a projected volume asks for. */
export interface TokenSpec {
  audience: string | undefined;
  expirationSeconds: number;
}

/** Minted service-account token and when it expires. */
export interface MintedToken {
  token: string;
  expiresAt: Date;
}

/** Data of the sources a pod references; `null` marks an object that does not exist. */
export interface PodSources {
  secrets: Map<string, Record<string, Buffer> | null>;
  configMaps: Map<string, Record<string, Buffer> | null>;
  tokens: Map<string, MintedToken>;
}

export const defaultTokenExpirationSeconds = 3607;

export function tokenKey(spec: TokenSpec): string {
  return `${spec.audience ?? ''}/${spec.expirationSeconds}`;
}

/** Names of the Secrets and ConfigMaps and the tokens a pod's containers and volumes reference. */
export function referencedSourcesOf(pod: k8s.V1Pod): {
  secrets: Set<string>;
  configMaps: Set<string>;
  tokens: TokenSpec[];
} {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  const tokens = new Map<string, TokenSpec>();
  const spec = pod.spec;
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const from of c.envFrom ?? []) {
      if (from.secretRef?.name) secrets.add(from.secretRef.name);
      if (from.configMapRef?.name) configMaps.add(from.configMapRef.name);
    }
  }
  for (const v of spec?.volumes ?? []) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    if (v.configMap?.name) configMaps.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) {
      if (s.secret?.name) secrets.add(s.secret.name);
      if (s.configMap?.name) configMaps.add(s.configMap.name);
      if (s.serviceAccountToken) {
        const t: TokenSpec = {
          audience: s.serviceAccountToken.audience || undefined,
          expirationSeconds:
            s.serviceAccountToken.expirationSeconds ?? defaultTokenExpirationSeconds,
        };
        tokens.set(tokenKey(t), t);
      }
    }
  }
  return { secrets, configMaps, tokens: [...tokens.values()] };
}

/** The side effects `fetchPodSources` needs; 404s must resolve to `null`. */
export interface SourceReader {
  readSecret(namespace: string, name: string): Promise<Record<string, Buffer> | null>;
  readConfigMap(namespace: string, name: string): Promise<Record<string, Buffer> | null>;
  requestToken(pod: k8s.V1Pod, spec: TokenSpec): Promise<MintedToken>;
}

/** Reads every source the pod references (all in parallel). */
export async function fetchPodSources(reader: SourceReader, pod: k8s.V1Pod): Promise<PodSources> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const refs = referencedSourcesOf(pod);
  const secrets = new Map<string, Record<string, Buffer> | null>();
  const configMaps = new Map<string, Record<string, Buffer> | null>();
  const tokens = new Map<string, MintedToken>();
  await Promise.all([
    ...[...refs.secrets].map(async (name) => {
      secrets.set(name, await reader.readSecret(namespace, name));
    }),
    ...[...refs.configMaps].map(async (name) => {
      configMaps.set(name, await reader.readConfigMap(namespace, name));
    }),
    ...refs.tokens.map(async (spec) => {
      tokens.set(tokenKey(spec), await reader.requestToken(pod, spec));
    }),
  ]);
  return { secrets, configMaps, tokens };
}
