/**
 * How the operator obtains a pod's credentials for a grant: temporary ones from the store's STS
 * (`AssumeRole` with the grant's session policy), or, in `shared` mode (a store without STS),
 * its own key. `object-store-access.ts` writes them into the pod's Secret and rotates them.
 */
import http from 'node:http';
import https from 'node:https';
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import type { ObjectStoreConfig } from '../../../../contract/object-store.js';
import type { CredentialSettings } from '../../config.js';
import { type Grant, sessionPolicy } from './object-store-grants.js';

/** Credentials handed to a pod. `expiresAt` undefined: they do not expire (the shared key). */
export interface IssuedCredentials {
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
  expiresAt: Date | undefined;
}

/** Issues the credentials of a grant. */
export interface CredentialIssuer {
  /** `scoped` (STS) or `shared` (the operator's key). */
  readonly mode: 'scoped' | 'shared';
  /** How long issued credentials live, in ms; rotation starts when a third of it is left. */
  readonly lifetimeMs: number;
  issue(grant: Grant, sessionName: string): Promise<IssuedCredentials>;
}

/** The issuer the settings describe, over the operator's own key. */
export function credentialIssuer(
  store: ObjectStoreConfig,
  settings: CredentialSettings,
): CredentialIssuer {
  if (settings.mode === 'shared') {
    return {
      mode: 'shared',
      lifetimeMs: Number.POSITIVE_INFINITY,
      async issue() {
        return { accessKey: store.accessKey, secretKey: store.secretKey, expiresAt: undefined };
      },
    };
  }
  const stsEndpoint = settings.stsEndpoint ?? store.endpoint;
  // A connection per request, so none is left half-open by a store that restarted.
  const transportAgent = stsEndpoint.startsWith('https:')
    ? new https.Agent({ keepAlive: false })
    : new http.Agent({ keepAlive: false });
  return {
    mode: 'scoped',
    lifetimeMs: settings.durationSeconds * 1000,
    async issue(grant, sessionName) {
      const provider = new AssumeRoleProvider({
        stsEndpoint,
        accessKey: store.accessKey,
        secretKey: store.secretKey,
        region: store.region,
        durationSeconds: settings.durationSeconds,
        policy: JSON.stringify(sessionPolicy(store.bucket, grant)),
        roleSessionName: sessionName.slice(0, 64),
        transportAgent,
        ...(settings.roleArn ? { roleArn: settings.roleArn } : {}),
      });
      const issuedAt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      let credentials: Awaited<ReturnType<typeof provider.getCredentials>>;
      try {
        credentials = await Promise.race([
          provider.getCredentials(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer in ${STS_TIMEOUT_MS / 1000} s`)),
              STS_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (error) {
        throw stsError(error);
      } finally {
        clearTimeout(timer);
      }
      const sessionToken = credentials.getSessionToken();
      return {
        accessKey: credentials.getAccessKey(),
        secretKey: credentials.getSecretKey(),
        ...(sessionToken ? { sessionToken } : {}),
        expiresAt: new Date(issuedAt + settings.durationSeconds * 1000),
      };
    },
  };
}

/** How long the operator waits for the STS to answer. */
const STS_TIMEOUT_MS = 15_000;

/**
 * The error of a failed `AssumeRole`, with the reason a status shows: `CredentialsRefused` when
 * the STS answered with an error (the operator's key may not assume the role, a policy too
 * large), `StorageUnavailable` when it could not be reached (retried with backoff).
 */
function stsError(error: unknown): Error {
  const message = (error as Error).message ?? String(error);
  const refused = /Unable to obtain credentials/.test(message);
  return Object.assign(
    new Error(
      refused
        ? `The object store's STS refused temporary credentials for a pod: ${message}`
        : `The object store's STS could not be reached to issue a pod's credentials: ${message}`,
      { cause: error },
    ),
    { reason: refused ? 'CredentialsRefused' : 'StorageUnavailable' },
  );
}
