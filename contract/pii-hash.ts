/**
 * The keyed hash of personal data (a Dataset column with `pii: Hash`), one definition for the
 * operator, ingestion, the trainer's evaluation and the inference server.
 *
 * A value is replaced by `hmac:` and the first 32 hex digits of HMAC-SHA256(namespace key,
 * value). The namespace key is HMAC-SHA256(master key, "lathe.dev/pii/v1\0" + namespace): the
 * operator holds the master key (Secret `lathe-pii-key` in its own namespace) and gives each
 * tenant namespace only its own key, through the Secret `lathe-pii` that the pods that hash read
 * with `secretKeyRef` (`PII_KEY_ENV`). So:
 *
 * - nothing stored beside the data lets anyone recompute a hash (no salt in `schema.json`, only
 *   the scheme's name): a dictionary attack needs the namespace key;
 * - the same value gives the same hash in every version of every Dataset of a namespace, and in
 *   the request log, so joins on a hashed column keep working; another namespace's hashes differ;
 * - hashing is idempotent: a value already in hash form (`isPiiHash`) is kept as it is, so data
 *   that went through Lathe once (the request log read back as a feedback source, a version's
 *   `test.raw.jsonl`) is never hashed twice.
 *
 * The honest limit: whoever can read Secrets in a namespace can read that namespace's key and
 * recompute its hashes; never the master key nor another namespace's key. Hashing is
 * pseudonymisation, not anonymisation.
 *
 * Versions written before this scheme carry a per-version `hashSalt` in `schema.json` instead;
 * they are still read (`legacySaltedHash`), so their models keep serving.
 */
import { createHash, createHmac } from 'node:crypto';

/** The scheme's name, as `schema.json` records it for a hashed column (`hash`). */
export const PII_HASH_SCHEME = 'hmac-sha256/v1';

/** The variable a pod reads its namespace's key from (hex), through `secretKeyRef`. */
export const PII_KEY_ENV = 'LATHE_PII_KEY';

/** What a hashed value starts with. */
export const PII_HASH_PREFIX = 'hmac:';

const HASHED = /^hmac:[0-9a-f]{32}$/;
const KEY_HEX = /^[0-9a-f]{64}$/;

/** Whether `value` is already a keyed PII hash (`piiHash`'s form). */
export function isPiiHash(value: string): boolean {
  return value.length === 37 && HASHED.test(value);
}

/**
 * The namespace key (32 bytes, hex) the master key derives for `namespace`. The master key is
 * the operator's secret (the chart generates 48 random characters).
 */
export function namespacePiiKey(masterKey: string, namespace: string): string {
  return createHmac('sha256', masterKey).update(`lathe.dev/pii/v1\u0000${namespace}`).digest('hex');
}

/** The keyed hash of one value (idempotent: a value in hash form is returned unchanged). */
export function piiHash(key: Buffer, value: string): string {
  if (isPiiHash(value)) return value;
  return `${PII_HASH_PREFIX}${createHmac('sha256', key).update(value).digest('hex').slice(0, 32)}`;
}

/**
 * The hash of versions written before the keyed scheme: the first 16 hex digits of
 * sha256(salt + value), with the salt `schema.json` carried. Read only, for old versions.
 */
export function legacySaltedHash(salt: string, value: string): string {
  return createHash('sha256').update(salt).update(value).digest('hex').slice(0, 16);
}

/** A hashed PII column needs a key the program was not given. */
export class PiiKeyMissingError extends Error {
  constructor(readonly column: string) {
    super(
      `column ${column} is personal data hashed with a namespace key (${PII_HASH_SCHEME}), and ${PII_KEY_ENV} is not set: the operator has no PII key configured (Secret lathe-pii-key, see docs/data-governance.md)`,
    );
    this.name = 'PiiKeyMissingError';
  }
}

/** How a column is hashed, as `schema.json` says it (`CategoricalTransform`). */
export interface HashedColumn {
  name: string;
  /** `PII_HASH_SCHEME`: keyed. */
  hash?: string | undefined;
  /** A version written before the keyed scheme: its salt. */
  hashSalt?: string | undefined;
}

/** Hashes one category text of a column (returns it unchanged for a column not hashed). */
export type PiiHashing = (column: HashedColumn, value: string) => string;

/**
 * The hashing of a program holding `key` (undefined: none given): keyed for a keyed column
 * (a value already hashed passes without a key; a raw one throws `PiiKeyMissingError`), the
 * legacy salted hash for an old version's column, nothing for a column that is not hashed.
 */
export function piiHashing(key: Buffer | undefined): PiiHashing {
  return (column, value) => {
    if (column.hash !== undefined) {
      if (isPiiHash(value)) return value;
      if (key === undefined) throw new PiiKeyMissingError(column.name);
      return piiHash(key, value);
    }
    if (column.hashSalt !== undefined) return legacySaltedHash(column.hashSalt, value);
    return value;
  };
}

/**
 * The namespace key from a program's environment (`PII_KEY_ENV`, 64 hex digits), or undefined
 * when unset. Throws naming the variable (never its value) when it is malformed.
 */
export function piiKeyFromEnv(env: Record<string, string | undefined>): Buffer | undefined {
  const text = env[PII_KEY_ENV];
  if (text === undefined || text === '') return undefined;
  if (!KEY_HEX.test(text)) throw new Error(`${PII_KEY_ENV}: must be 64 lowercase hex digits`);
  return Buffer.from(text, 'hex');
}
