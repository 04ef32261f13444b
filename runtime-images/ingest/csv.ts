/**
 * A streaming CSV decoder (RFC 4180: quoted fields with `""` escapes and embedded delimiters
 * or line breaks, LF or CRLF line ends, a leading UTF-8 BOM dropped).
 *
 * Why not csv-parse: the ingestion target is at least pandas' rows/s, and on this program's
 * workload (many short unquoted lines) a line-at-a-time scanner built on `indexOf` is several
 * times faster (figures in docs/ingestion.md). Lines without a quote take the fast path: find
 * the line end, split on the delimiter. A line with a quote takes a character loop that may
 * span chunks. The decoder returns each chunk's records as one batch, so a caller handles a
 * batch and then awaits back-pressure once, not once per record (and the hot loop calls no
 * callback, which keeps V8's optimised code stable).
 */
import { StringDecoder } from 'node:string_decoder';

/** A malformed CSV input; `line` is the 1-based line where the record began. */
export class CsvSyntaxError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvSyntaxError';
    this.line = line;
  }
}

/** The longest record accepted, so a missing closing quote cannot take all memory. */
export const MAX_RECORD_CHARS = 8 * 1024 * 1024;

/** Records decoded from one chunk, and the 1-based line each began on. */
export interface CsvBatch {
  records: string[][];
  lines: number[];
}

/**
 * Records of a decoder made with `unsplitLines`: a line without a quote as its text, not yet
 * cut at the delimiter (a caller that reads fields in place never makes their strings), and a
 * record with a quote as its fields.
 */
export interface CsvLineBatch {
  records: (string | string[])[];
  lines: number[];
}

export class CsvDecoder {
  private readonly decoder = new StringDecoder('utf8');
  private readonly delimiter: string;
  private readonly unsplitLines: boolean;
  private batch: CsvLineBatch = { records: [], lines: [] };
  /** Text of a record not yet complete. */
  private pending = '';
  /** Line number of the next character to be parsed (1-based). */
  private line = 1;
  private started = false;

  /** `unsplitLines`: `writeLines` and `endLines` give quote-free lines uncut (`CsvLineBatch`). */
  constructor(delimiter: string, options: { unsplitLines?: boolean } = {}) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r')
      throw new Error(`the CSV delimiter must be one character other than a quote or line end`);
    this.delimiter = delimiter;
    this.unsplitLines = options.unsplitLines ?? false;
  }

  /** Decodes a chunk; returns the records it completes (a decoder without `unsplitLines`). */
  write(chunk: Buffer | string): CsvBatch {
    return this.writeLines(chunk) as CsvBatch;
  }

  /** Ends the input: returns a last record without a final line break, if any. */
  end(): CsvBatch {
    return this.endLines() as CsvBatch;
  }

  /** Decodes a chunk; returns the records it completes, as `CsvLineBatch` says. */
  writeLines(chunk: Buffer | string): CsvLineBatch {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pending.length > 0) {
      text = this.pending + text;
      // Flatten the concatenation once, so the scans below run on a flat string.
      (text as unknown as number) | 0;
    }
    this.pending = '';
    const consumed = this.parse(text, false);
    if (consumed < text.length) {
      this.pending = text.slice(consumed);
      if (this.pending.length > MAX_RECORD_CHARS) {
        throw new CsvSyntaxError(
          this.line,
          `a record is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?)`,
        );
      }
    }
    return this.takeBatch();
  }

  /** `end`, as `CsvLineBatch` says. */
  endLines(): CsvLineBatch {
    const text = this.pending + this.decoder.end();
    this.pending = '';
    if (text.length > 0) this.parse(text, true);
    return this.takeBatch();
  }

  private takeBatch(): CsvLineBatch {
    const batch = this.batch;
    this.batch = { records: [], lines: [] };
    return batch;
  }

  /** Parses complete records of `text`; returns how many characters it consumed. */
  private parse(text: string, final: boolean): number {
    const delimiter = this.delimiter;
    const { records, lines } = this.batch;
    const unsplit = this.unsplitLines;
    const length = text.length;
    let line = this.line;
    let p = 0;
    let nextQuote = text.indexOf('"');
    while (p < length) {
      let nl = text.indexOf('\n', p);
      if (nl === -1) {
        if (!final) break;
        nl = length;
      }
      if (nextQuote !== -1 && nextQuote < p) nextQuote = text.indexOf('"', p);
      if (nextQuote === -1 || nextQuote > nl) {
        // Fast path: a line without quotes.
        let end = nl;
        if (end > p && text.charCodeAt(end - 1) === 13) end--;
        if (end > p) {
          const record = text.slice(p, end);
          records.push(unsplit ? record : record.split(delimiter));
          lines.push(line);
        }
        line++;
        p = nl + 1;
        continue;
      }
      this.line = line;
      const next = this.parseQuoted(text, p, final);
      line = this.line;
      if (next === -1) break;
      p = next;
    }
    this.line = line;
    return Math.min(p, length);
  }

  /**
   * Parses one record that contains a quote, starting at `p`. Returns the index after its line
   * end, or -1 when the record continues past the end of `text` (and `final` is false).
   */
  private parseQuoted(text: string, p: number, final: boolean): number {
    const delimiter = this.delimiter;
    const length = text.length;
    const fields: string[] = [];
    const startLine = this.line;
    let lines = 0;
    let i = p;
    for (;;) {
      // At the start of a field.
      if (i < length && text[i] === '"') {
        let value = '';
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) {
            if (!final) return -1;
            throw new CsvSyntaxError(startLine, 'a quoted field is not closed');
          }
          value += text.slice(j, q);
          for (let k = j; k < q; k++) if (text.charCodeAt(k) === 10) lines++;
          if (q + 1 < length && text[q + 1] === '"') {
            value += '"';
            j = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        // After the closing quote: a delimiter, a line end or the end of input.
        if (i >= length) {
          if (!final) return -1;
          fields.push(value);
          break;
        }
        const c = text[i];
        if (c === delimiter) {
          fields.push(value);
          i++;
          continue;
        }
        if (c === '\n') {
          fields.push(value);
          i++;
          break;
        }
        if (c === '\r') {
          if (i + 1 >= length) {
            if (!final) return -1;
            fields.push(value);
            i = length;
            break;
          }
          if (text[i + 1] === '\n') {
            fields.push(value);
            i += 2;
            break;
          }
        }
        throw new CsvSyntaxError(startLine + lines, 'unexpected text after a closing quote');
      }
      // An unquoted field: up to the next delimiter or line end.
      let end = i;
      while (end < length) {
        const c = text.charCodeAt(end);
        if (c === 10 || text[end] === delimiter) break;
        if (c === 34) {
          throw new CsvSyntaxError(
            startLine + lines,
            'a quote inside an unquoted field (quote the whole field and double the quote)',
          );
        }
        end++;
      }
      if (end >= length && !final) return -1;
      if (end < length && text[end] === delimiter) {
        fields.push(text.slice(i, end));
        i = end + 1;
        continue;
      }
      let fieldEnd = end;
      if (fieldEnd > i && text.charCodeAt(fieldEnd - 1) === 13) fieldEnd--;
      fields.push(text.slice(i, fieldEnd));
      i = Math.min(end + 1, length);
      break;
    }
    this.batch.records.push(fields);
    this.batch.lines.push(startLine);
    this.line = startLine + lines + 1;
    return i;
  }
}

/** Decodes a whole CSV text (for tests and small inputs). */
export function decodeCsv(text: string, delimiter = ','): string[][] {
  const decoder = new CsvDecoder(delimiter);
  return [...decoder.write(text).records, ...decoder.end().records];
}
