/**
 * The ingestion program's settings, read from the environment the operator gives it (the
 * contract's `IngestEnv` and `ObjectStoreEnv`) and validated at start-up.
 */
import os from 'node:os';
import { z } from 'zod';
import { addressBits, parseCidrList } from '../../contract/cidr.js';
import { DEFAULT_TERMINATION_MESSAGE_PATH } from '../../contract/results.js';
import {
  IngestEnv,
  type ObjectStoreConfig,
  objectStoreFromEnv,
  parseEnv,
  RESULT_PATH_ENV,
  RuntimeEnvError,
} from '../../contract/runtime-env.js';
import { type DatasetSpec, DatasetSpecSchema } from '../../operator/src/api/dataset.js';
import type { AddressPolicy } from './address-policy.js';

export interface IngestSettings {
  namespace: string;
  name: string;
  spec: DatasetSpec;
  workDir: string;
  resultPath: string;
  store: ObjectStoreConfig;
  s3AccessKey: string | undefined;
  s3SecretKey: string | undefined;
  postgresUri: string | undefined;
  httpHeadersDir: string | undefined;
  /** Which addresses an HTTP source may connect to. */
  httpPolicy: AddressPolicy;
}

/**
 * The HTTP source's address policy: the install's CIDR lists and the API server's addresses
 * (this pod's `KUBERNETES_SERVICE_HOST` and those the operator passed). Throws
 * `RuntimeEnvError` naming a bad variable.
 */
export function httpPolicyFromEnv(env: Record<string, string | undefined>): AddressPolicy {
  const problems: string[] = [];
  const cidrs = (name: string) => {
    try {
      return parseCidrList(env[name]);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return [];
    }
  };
  const deny = cidrs(IngestEnv.httpDenyCidrs);
  const allow = cidrs(IngestEnv.httpAllowCidrs);
  const apiServer: string[] = [];
  const passed = (env[IngestEnv.httpApiServerAddresses] ?? '').split(',').map((a) => a.trim());
  for (const address of passed.filter(Boolean)) {
    try {
      addressBits(address);
      apiServer.push(address);
    } catch (error) {
      problems.push(`${IngestEnv.httpApiServerAddresses}: ${(error as Error).message}`);
    }
  }
  const serviceHost = env.KUBERNETES_SERVICE_HOST?.trim();
  if (serviceHost) {
    try {
      addressBits(serviceHost);
      apiServer.push(serviceHost);
    } catch {
      // A host name (never in a pod): nothing to compare an address with.
    }
  }
  if (problems.length > 0) throw new RuntimeEnvError(problems);
  return { apiServer, deny, allow };
}

const optional = z.string().min(1).optional();

/** Where the result goes, even when the rest of the environment is invalid. */
export function resultPathFrom(env: Record<string, string | undefined>): string {
  return env[RESULT_PATH_ENV] || DEFAULT_TERMINATION_MESSAGE_PATH;
}

/** Reads and validates the settings; throws `RuntimeEnvError` naming each bad variable. */
export function settingsFromEnv(env: Record<string, string | undefined>): IngestSettings {
  const e = parseEnv(
    z.object({
      [IngestEnv.namespace]: z.string().min(1),
      [IngestEnv.name]: z.string().min(1),
      [IngestEnv.spec]: z.string().min(1),
      [IngestEnv.workDir]: optional,
      [IngestEnv.s3AccessKey]: optional,
      [IngestEnv.s3SecretKey]: optional,
      [IngestEnv.postgresUri]: optional,
      [IngestEnv.httpHeadersDir]: optional,
    }),
    env,
  );
  let json: unknown;
  try {
    json = JSON.parse(e[IngestEnv.spec] as string);
  } catch (error) {
    throw new RuntimeEnvError([`${IngestEnv.spec}: not valid JSON (${(error as Error).message})`]);
  }
  const parsed = DatasetSpecSchema.safeParse(json);
  if (!parsed.success) {
    throw new RuntimeEnvError(
      parsed.error.issues.map(
        (i) => `${IngestEnv.spec}: spec.${i.path.map(String).join('.')}: ${i.message}`,
      ),
    );
  }
  const spec = parsed.data;
  const postgresUri = e[IngestEnv.postgresUri] as string | undefined;
  if (spec.source.postgres && !postgresUri) {
    throw new RuntimeEnvError([
      `${IngestEnv.postgresUri}: required for a postgres source (from spec.source.postgres.connectionSecretRef)`,
    ]);
  }
  return {
    namespace: e[IngestEnv.namespace] as string,
    name: e[IngestEnv.name] as string,
    spec,
    workDir: (e[IngestEnv.workDir] as string | undefined) ?? os.tmpdir(),
    resultPath: resultPathFrom(env),
    store: objectStoreFromEnv(env),
    s3AccessKey: e[IngestEnv.s3AccessKey] as string | undefined,
    s3SecretKey: e[IngestEnv.s3SecretKey] as string | undefined,
    postgresUri,
    httpHeadersDir: e[IngestEnv.httpHeadersDir] as string | undefined,
    httpPolicy: httpPolicyFromEnv(env),
  };
}

/** The values no message may show. */
export function secretsOf(settings: IngestSettings, headers: Record<string, string>): string[] {
  const secrets = [
    settings.store.secretKey,
    settings.store.accessKey,
    settings.store.sessionToken,
    settings.s3AccessKey,
    settings.s3SecretKey,
    ...Object.values(headers),
  ];
  if (settings.postgresUri) {
    secrets.push(settings.postgresUri);
    try {
      const password = decodeURIComponent(new URL(settings.postgresUri).password);
      if (password) secrets.push(password);
    } catch {
      // Not a URL: the whole value is already listed.
    }
  }
  return secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
}
