/**
 * What the server keeps of a request's raw records: never a raw value of personal data.
 *
 * A record is remembered (for feedback) and written to the request log and the labels only as
 * `loggableRecord` makes it: a column the model hashes as PII (`pii: Hash` in its Dataset) holds
 * the same keyed hash ingestion wrote (`contract/pii-hash.ts`: HMAC with the namespace key, so
 * the log joins with the dataset versions and, read back as a feedback source, is not hashed
 * twice); a column the Dataset dropped as PII (`schema.json`'s `piiDropped`) is left out even
 * when a client sends it. Keys that are not the model's inputs are left out too: a client's
 * extra field (an e-mail address, a name the Dataset never saw) is personal data nobody declared,
 * and a feedback Dataset built from the log must not grow a column per client key.
 */
import type { PiiHashing } from '../../contract/pii-hash.js';
import {
  type CategoricalTransform,
  isMissing,
  type PreparedSchema,
  parseCategoryCell,
} from '../../contract/prepared-data.js';

/** What of a record the server may keep, indexed once per model. */
export interface PiiRedaction {
  /** The model's input columns: the only keys kept. */
  inputs: ReadonlySet<string>;
  /** Hashed input columns, by name. */
  hashed: ReadonlyMap<string, CategoricalTransform>;
  dropped: ReadonlySet<string>;
  hashing: PiiHashing;
}

/** What of a record the server may keep, from the model's `schema.json`. */
export function piiRedactionOf(schema: PreparedSchema, hashing: PiiHashing): PiiRedaction {
  const hashed = new Map<string, CategoricalTransform>();
  for (const input of schema.inputs) {
    if (input.kind === 'categorical' && (input.hash !== undefined || input.hashSalt !== undefined))
      hashed.set(input.name, input);
  }
  const dropped = new Set(schema.piiDropped ?? []);
  const inputs = new Set(schema.inputs.map((input) => input.name).filter((n) => !dropped.has(n)));
  return { inputs, hashed, dropped, hashing };
}

/**
 * A raw record as the server may keep it: the model's inputs only, hashed PII columns hashed,
 * dropped ones left out. A missing cell (null, `NA`, …) is no personal data and is kept as
 * sent. With `redaction` undefined (a model without a schema) the record itself is returned.
 */
export function loggableRecord(
  redaction: PiiRedaction | undefined,
  record: Record<string, unknown> | null,
): Record<string, unknown> | null {
  if (redaction === undefined || record === null) return record;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (!redaction.inputs.has(key)) continue;
    const column = redaction.hashed.get(key);
    if (column === undefined || isMissing(value)) {
      kept[key] = value;
      continue;
    }
    kept[key] = redaction.hashing(column, parseCategoryCell(column.type, value)!);
  }
  return kept;
}

/** `loggableRecord` of each record. */
export function loggableRecords(
  redaction: PiiRedaction | undefined,
  records: readonly (Record<string, unknown> | null)[],
): (Record<string, unknown> | null)[] {
  if (redaction === undefined) return records as (Record<string, unknown> | null)[];
  return records.map((record) => loggableRecord(redaction, record));
}
