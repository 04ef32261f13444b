/**
 * A PostgreSQL query as the source: run in a read-only transaction, read through a cursor a
 * few thousand rows at a time, so a result larger than memory streams like a file.
 *
 * Errors map to the contract's reasons by SQLSTATE: bad password → SourceUnauthorized, a
 * missing database or table → SourceNotFound, any other error of the query → QueryFailed (the
 * message quotes PostgreSQL's), connection trouble → SourceUnavailable. The connection URI
 * holds a password and never appears in a message.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { IngestFailure, messageOf } from './failure.js';
import { type Cell, cellOf, type Table } from './table.js';

/** Rows fetched per round trip. */
export const CURSOR_BATCH_ROWS = 2000;

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** The contract's failure for a PostgreSQL or connection error. */
export function postgresFailure(error: unknown): IngestFailure {
  const code = (error as { code?: string }).code ?? '';
  const text = messageOf(error);
  const message = `PostgreSQL: ${text}`;
  const details = { cause: error };
  if (code === '28P01' || code === '28000') {
    return new IngestFailure(
      'SourceUnauthorized',
      `${message} (check spec.source.postgres.connectionSecretRef)`,
      details,
    );
  }
  if (code === '3D000' || code === '42P01' || code === '3F000') {
    return new IngestFailure('SourceNotFound', message, details);
  }
  if (
    /^(08|53|57)/.test(code) ||
    unavailableCodes.has(code) ||
    /Connection terminated|timeout/i.test(text)
  ) {
    return new IngestFailure('SourceUnavailable', message, details);
  }
  if (/^[0-9A-Z]{5}$/.test(code)) return new IngestFailure('QueryFailed', message, details);
  return new IngestFailure('SourceUnavailable', message, details);
}

function readBatch(
  cursor: Cursor,
): Promise<{ rows: unknown[][]; fields: { name: string }[] | undefined }> {
  return new Promise((resolve, reject) => {
    cursor.read(CURSOR_BATCH_ROWS, (error, rows, result) => {
      if (error) reject(error);
      else
        resolve({
          rows: rows as unknown[][],
          fields: (result as pg.QueryResult | undefined)?.fields,
        });
    });
  });
}

export function postgresTable(uri: string, query: string): Table {
  const columns: string[] = [];
  async function* batches(): AsyncGenerator<Cell[][]> {
    let client: pg.Client;
    try {
      client = new pg.Client({
        connectionString: uri,
        application_name: 'lathe-ingest',
        connectionTimeoutMillis: 15_000,
      });
    } catch (error) {
      throw new IngestFailure(
        'InvalidData',
        `the connection URI of spec.source.postgres.connectionSecretRef is not a valid postgres:// URI (${(error as Error).name})`,
      );
    }
    // An error on an idle client (the server went away) must not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      throw postgresFailure(error);
    }
    try {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const cursor = client.query(new Cursor(query, [], { rowMode: 'array' }));
      for (;;) {
        const { rows, fields } = await readBatch(cursor);
        if (columns.length === 0 && fields) {
          const names = fields.map((f) => f.name);
          const duplicate = names.find((n, i) => names.indexOf(n) !== i);
          if (duplicate !== undefined) {
            throw new IngestFailure(
              'InvalidData',
              `the query returns two columns named ${duplicate}; give them distinct names (AS ...)`,
              { column: duplicate },
            );
          }
          columns.push(...names);
        }
        if (rows.length === 0) break;
        yield rows.map((row) => row.map(cellOf));
      }
      await cursor.close();
      await client.query('COMMIT');
    } catch (error) {
      throw error instanceof IngestFailure ? error : postgresFailure(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { columns, batches };
}
