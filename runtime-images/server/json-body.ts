/**
 * A request body as JSON, read defensively: the content type must say JSON, and the nesting of
 * arrays and objects is bounded before `JSON.parse` ever sees the bytes. A 10,000-deep body is
 * legal JSON that V8 parses, but everything recursive after it (`Array.prototype.flat`,
 * `JSON.stringify` in a message, a log line) overflows the stack; refusing it up front keeps
 * every later step on bounded input.
 *
 * Pure: no HTTP here; the server maps `UnsupportedMediaTypeError` to 415 and `BadRequestError`
 * to 400.
 */
import { BadRequestError } from './rows.js';

/** The body is not declared as JSON: HTTP 415 with this message. */
export class UnsupportedMediaTypeError extends Error {
  override name = 'UnsupportedMediaTypeError';
}

/** Nesting of arrays and objects a body may have unless configured otherwise. */
export const DEFAULT_MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_SQUARE = 0x5b;
const OPEN_CURLY = 0x7b;
const CLOSE_SQUARE = 0x5d;
const CLOSE_CURLY = 0x7d;

/**
 * Refuses any `Content-Type` but `application/json` (any case, parameters allowed, a `charset`
 * only if it is UTF-8). A missing header is refused too: a browser may send a body without one
 * to any site without a CORS preflight, exactly like `text/plain`.
 */
export function checkJsonContentType(header: string | undefined): void {
  if (header === undefined || header.trim() === '') {
    throw new UnsupportedMediaTypeError(
      'the request has no Content-Type; send the body as application/json',
    );
  }
  const [type, ...parameters] = header.split(';');
  const mediaType = type!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${JSON.stringify(header.slice(0, 100))} is not supported; send the body as application/json`,
    );
  }
  for (const parameter of parameters) {
    const [name, value = ''] = parameter.split('=');
    if (name!.trim().toLowerCase() !== 'charset') continue;
    const charset = value
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw new UnsupportedMediaTypeError(
        `charset ${JSON.stringify(charset.slice(0, 40))} is not supported; JSON bodies are UTF-8`,
      );
    }
  }
}

/**
 * The byte offset where `body` nests arrays and objects deeper than `maxDepth`, or -1 when it
 * does not. Brackets inside strings do not count; the scan is one pass over the bytes (UTF-8
 * never puts `"`, `\`, `[`, `]`, `{` or `}` inside a multi-byte character).
 */
export function offsetBeyondDepth(body: Uint8Array, maxDepth: number): number {
  if (body.length <= maxDepth) return -1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_SQUARE || byte === OPEN_CURLY) {
      if (++depth > maxDepth) return i;
    } else if (byte === CLOSE_SQUARE || byte === CLOSE_CURLY) depth--;
  }
  return -1;
}

/** Parses a JSON body: empty, too deeply nested or malformed is a `BadRequestError` saying which. */
export function parseJsonBody(body: Buffer, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  if (body.length === 0) throw new BadRequestError('the request body is empty; send a JSON object');
  const beyond = offsetBeyondDepth(body, maxDepth);
  if (beyond !== -1) {
    throw new BadRequestError(
      `the request body nests arrays and objects more than ${maxDepth} deep (at byte ${beyond}); the limit is ${maxDepth}`,
    );
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    // V8's message quotes at most a few characters around the position, never the body.
    throw new BadRequestError(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}
