/**
 * A hostile client's battery against Lathe's inference server, for the cluster tests: run
 * against the server program on loopback (`runtime-images/server/hostile.itest.ts`) and through
 * an InferenceService's Service (`operator/src/controllers/inferenceservice/hostile.itest.ts`).
 *
 * Malformed and non-finite JSON, strings in numeric tensors, wrong widths and shapes,
 * 10,000-deep nesting, wrong content types, a 50 MB body, endless and trickled chunked bodies,
 * slow headers on 16 connections, left-out inputs, unknown models and versions, duplicate
 * names, and malformed, mistyped and oversized requests to `:explain` / `/explain`: every case
 * must get a 4xx (413 for size) with a JSON error within the configured timeouts, while valid
 * requests keep being answered, and predictions and explanations are answered after. The
 * client is a raw socket, so that the bytes (and their pace) are exactly the hostile ones. Test
 * support only.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { expect } from 'vitest';
import { DEFAULT_EXPLAIN_LIMITS } from '../../runtime-images/server/explain.js';
import { fixtureRows } from '../../runtime-images/server/fixture.js';

/** Where the battery is sent, and the limits the server there was given. */
export interface BatteryTarget {
  host: string;
  port: number;
  /** The model name in the paths (an InferenceService's name). */
  model: string;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxRowsPerRequest: number;
  maxTensorElements: number;
  /** Most rows one explain request may carry (`spec.explain.maxRows`); unset: the default. */
  explainMaxRows?: number;
}

/** Node checks the header timeout every quarter of it; what a trickler may overstay. */
const CHECK_SLACK_MS = 600;

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/** How the body goes out after the head. */
export type Sending =
  | { kind: 'whole'; body: string | Buffer }
  | { kind: 'trickle'; body: string; bytes: number; everyMs: number }
  | { kind: 'endless'; chunk: Buffer }
  | { kind: 'nothing' };

/**
 * Sends `head` and then the body as `sending` says, on a fresh connection; resolves with the
 * first answer, or status 0 if none came within `deadlineMs`.
 */
export function exchange(
  target: BatteryTarget,
  head: string,
  sending: Sending,
  deadlineMs = 8000,
): Promise<Answer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(target.port, target.host);
    let received = Buffer.alloc(0);
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (answer: Omit<Answer, 'ms'>) => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      resolve({ ...answer, ms: performance.now() - started });
    };
    const parse = (closed: boolean) => {
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (closed) finish({ status: 0, headers: {}, body: received.toString() });
        return;
      }
      const [statusLine, ...lines] = received.subarray(0, end).toString().split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? Number.NaN);
      const body = received.subarray(end + 4);
      if ((Number.isFinite(length) && body.length >= length) || closed) {
        finish({ status: Number(statusLine!.split(' ')[1]), headers, body: body.toString() });
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      parse(false);
    });
    socket.on('close', () => parse(true));
    socket.on('error', () => undefined);
    timers.push(setTimeout(() => finish({ status: 0, headers: {}, body: '' }), deadlineMs));
    socket.on('connect', () => {
      socket.write(head);
      if (sending.kind === 'whole') socket.write(sending.body);
      else if (sending.kind === 'trickle') {
        let offset = 0;
        const step = () => {
          if (finished || offset >= sending.body.length) return;
          const piece = sending.body.slice(offset, offset + sending.bytes);
          offset += sending.bytes;
          socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
          timers.push(setTimeout(step, sending.everyMs));
        };
        step();
      } else if (sending.kind === 'endless') {
        const frame = Buffer.concat([
          Buffer.from(`${sending.chunk.length.toString(16)}\r\n`),
          sending.chunk,
          Buffer.from('\r\n'),
        ]);
        const pump = () => {
          while (!finished && !socket.destroyed && socket.write(frame));
        };
        socket.on('drain', pump);
        pump();
      }
    });
  });
}

/** Four rows of the fixture model's raw inputs (`fixture.ts`), without the label. */
export const rows = fixtureRows('classification', 4, 3).map(({ species: _label, ...raw }) => raw);
const row = rows[0]!;

/** A request head with a body of `length` bytes (chunked when undefined). */
export function head(
  target: string,
  length: number | undefined,
  contentType: string | null = 'application/json',
): string {
  return [
    `POST ${target} HTTP/1.1`,
    'host: lathe',
    ...(contentType === null ? [] : [`content-type: ${contentType}`]),
    length === undefined ? 'transfer-encoding: chunked' : `content-length: ${length}`,
    'connection: close',
    '',
    '',
  ].join('\r\n');
}
export const json = (target: string, body: string | object, contentType?: string | null) => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    head: head(target, Buffer.byteLength(text), contentType),
    sending: { kind: 'whole', body: text } as Sending,
  };
};
const deep = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const column = (name: string, datatype: string, data: unknown[]) => ({
  name,
  datatype,
  shape: [data.length],
  data,
});
/** One V2 input per raw column, holding `records`. */
const columnsOf = (records: Record<string, unknown>[]) => [
  column(
    'length',
    'FP64',
    records.map((r) => r.length),
  ),
  column(
    'width',
    'FP64',
    records.map((r) => r.width),
  ),
  column(
    'colour',
    'BYTES',
    records.map((r) => r.colour),
  ),
  column(
    'fresh',
    'BOOL',
    records.map((r) => r.fresh),
  ),
];
const allColumns = columnsOf([row]);

/** One hostile request: what is sent, the status it must get, how long it may take. */
export interface HostileCase {
  name: string;
  head: string;
  sending: Sending;
  status: number;
  withinMs?: number;
}

/** The battery against the fixture model served as `target.model`, within `target`'s limits. */
export function hostileCases(target: BatteryTarget): HostileCase[] {
  const V1 = `/v1/models/${target.model}:predict`;
  const V2 = `/v2/models/${target.model}/infer`;
  const overElementLimit = Math.ceil((target.maxTensorElements + 1) / 6);
  const V1_EXPLAIN = `/v1/models/${target.model}:explain`;
  const V2_EXPLAIN = `/v2/models/${target.model}/explain`;
  const overExplainRows = new Array(
    (target.explainMaxRows ?? DEFAULT_EXPLAIN_LIMITS.maxRows) + 1,
  ).fill(row) as Record<string, unknown>[];
  return [
    { name: 'malformed JSON', ...json(V1, '{"instances": ['), status: 400 },
    { name: 'an empty body', ...json(V1, ''), status: 400 },
    { name: 'NaN', ...json(V1, '{"instances": [[NaN, 1, 0, 0, 1, 0]]}'), status: 400 },
    {
      name: 'Infinity',
      ...json(
        V2,
        '{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 6], "data": [Infinity, 1, 0, 0, 1, 0]}]}',
      ),
      status: 400,
    },
    {
      name: '1e999 in a V1 row',
      ...json(V1, '{"instances": [[1e999, 1, 0, 0, 1, 0]]}'),
      status: 400,
    },
    {
      name: '1e999 in a V1 record',
      ...json(V1, `{"instances": [{"length": 1e999, "width": 1, "colour": "red", "fresh": true}]}`),
      status: 400,
    },
    {
      name: '1e999 in a V2 column',
      ...json(
        V2,
        `{"inputs": [{"name": "length", "datatype": "FP64", "shape": [1], "data": [1e999]}]}`,
      ),
      status: 400,
    },
    {
      name: 'a string in a V2 FP32 tensor',
      ...json(V2, {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 6], data: [1, '2', 0, 0, 1, 0] }],
      }),
      status: 400,
    },
    {
      name: 'a string in a V1 prepared row',
      ...json(V1, { instances: [[1, 'two', 0, 0, 1, 0]] }),
      status: 400,
    },
    { name: 'a V1 row of the wrong width', ...json(V1, { instances: [[1, 2, 3]] }), status: 400 },
    {
      name: 'a V2 tensor of the wrong shape',
      ...json(V2, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }),
      status: 400,
    },
    {
      name: 'V2 data that does not fill its shape',
      ...json(V2, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 6], data: [1, 2, 3] }] }),
      status: 400,
    },
    { name: '10,000-deep V1 row', ...json(V1, `{"instances": [${deep(10_000)}]}`), status: 400 },
    {
      name: '10,000-deep V1 record',
      ...json(V1, `{"instances": [{"length": ${deepObject(10_000)}}]}`),
      status: 400,
    },
    {
      name: '10,000-deep V2 data',
      ...json(
        V2,
        `{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 6], "data": ${deep(10_000)}}]}`,
      ),
      status: 400,
    },
    {
      name: '10,000-deep V2 element',
      ...json(
        V2,
        `{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 6], "data": [1, 2, 3, 4, 5, ${deep(10_000)}]}]}`,
      ),
      status: 400,
    },
    {
      name: 'a record cell that is a list',
      ...json(V1, { instances: [{ ...row, colour: [['red']] }] }),
      status: 400,
    },
    {
      name: 'text/plain',
      ...json(V1, { instances: [row] }, 'text/plain;charset=UTF-8'),
      status: 415,
    },
    {
      name: 'a form',
      ...json(V1, { instances: [row] }, 'application/x-www-form-urlencoded'),
      status: 415,
    },
    { name: 'no content type', ...json(V1, { instances: [row] }, null), status: 415 },
    {
      name: 'a latin-1 charset',
      ...json(V2, { inputs: allColumns }, 'application/json; charset=latin1'),
      status: 415,
    },
    {
      name: 'a 50 MB body',
      head: head(V1, 50 * 1024 * 1024),
      sending: { kind: 'whole', body: Buffer.alloc(50 * 1024 * 1024, 0x20) },
      status: 413,
    },
    {
      name: 'an endless chunked body',
      head: head(V1, undefined),
      sending: { kind: 'endless', chunk: Buffer.alloc(64 * 1024, 0x20) },
      status: 413,
    },
    {
      name: 'a chunked body trickled 8 bytes at a time',
      head: head(V1, undefined),
      sending: {
        kind: 'trickle',
        body: JSON.stringify({ instances: rows }),
        bytes: 8,
        everyMs: 250,
      },
      status: 408,
      withinMs: target.bodyTimeoutMs + 1000,
    },
    { name: 'left-out V1 inputs', ...json(V1, { instances: [{ length: 5 }] }), status: 400 },
    {
      name: 'left-out columnar V1 inputs',
      ...json(V1, { inputs: { length: [5], width: [1] } }),
      status: 400,
    },
    { name: 'left-out V2 inputs', ...json(V2, { inputs: allColumns.slice(0, 1) }), status: 400 },
    {
      name: 'an unknown V1 model',
      ...json('/v1/models/tulip:predict', { instances: [row] }),
      status: 404,
    },
    {
      name: 'an unknown V2 model',
      ...json('/v2/models/tulip/infer', { inputs: allColumns }),
      status: 404,
    },
    {
      name: 'an unknown V2 version',
      ...json(`/v2/models/${target.model}/versions/9/infer`, { inputs: allColumns }),
      status: 404,
    },
    {
      name: 'duplicate V2 input names',
      ...json(V2, { inputs: [...allColumns, allColumns[0]] }),
      status: 400,
    },
    {
      name: 'too many rows',
      ...json(V1, { instances: new Array(target.maxRowsPerRequest + 1).fill(row) }),
      status: 400,
    },
    {
      name: 'a tensor over the element limit',
      ...json(V2, {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [overElementLimit, 6], data: [] }],
      }),
      status: 400,
    },
    {
      name: 'headers over 16 KiB',
      head: `GET /v2/health/live HTTP/1.1\r\nhost: lathe\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      sending: { kind: 'nothing' },
      status: 431,
    },
    { name: 'not HTTP', head: 'HELLO\r\n\r\n', sending: { kind: 'nothing' }, status: 400 },
    { name: 'malformed JSON to V1 :explain', ...json(V1_EXPLAIN, '{"instances": ['), status: 400 },
    {
      name: 'malformed JSON to V2 /explain',
      ...json(V2_EXPLAIN, '{"inputs": [{"name": "x"'),
      status: 400,
    },
    {
      name: 'a string in a V1 :explain prepared row',
      ...json(V1_EXPLAIN, { instances: [[1, 'two', 0, 0, 1, 0]] }),
      status: 400,
    },
    {
      name: 'a string in a numeric column of a V1 :explain record',
      ...json(V1_EXPLAIN, { instances: [{ ...row, length: 'long' }] }),
      status: 400,
    },
    {
      name: 'a string in a V2 /explain FP32 tensor',
      ...json(V2_EXPLAIN, {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 6], data: [1, '2', 0, 0, 1, 0] }],
      }),
      status: 400,
    },
    {
      name: 'instances that are not a list, to :explain',
      ...json(V1_EXPLAIN, { instances: 'all of them' }),
      status: 400,
    },
    {
      name: 'too many rows to V1 :explain',
      ...json(V1_EXPLAIN, { instances: overExplainRows }),
      status: 400,
    },
    {
      name: 'too many rows to V2 /explain',
      ...json(V2_EXPLAIN, { inputs: columnsOf(overExplainRows) }),
      status: 400,
    },
    ...Array.from({ length: 16 }, (_, i) => ({
      name: `slow headers, connection ${i + 1} of 16`,
      head: `POST ${V1} HTTP/1.1\r\nhost: lathe\r\n`,
      sending: { kind: 'nothing' } as Sending,
      status: 408,
      withinMs: target.headersTimeoutMs + CHECK_SLACK_MS + 400,
    })),
  ];
}

/** A valid V1 prediction of `rows`: 200 when every row got one, else the status. */
export async function validPrediction(target: BatteryTarget): Promise<number> {
  const response = await fetch(
    `http://${target.host}:${target.port}/v1/models/${target.model}:predict`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ instances: rows }),
    },
  );
  const body = (await response.json()) as { predictions?: unknown[] };
  return response.status === 200 && body.predictions?.length === rows.length
    ? 200
    : response.status;
}

/** A valid V1 explanation of `rows`: 200 when every row got one, else the status. */
export async function validExplanation(target: BatteryTarget): Promise<number> {
  const response = await fetch(
    `http://${target.host}:${target.port}/v1/models/${target.model}:explain`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ instances: rows }),
    },
  );
  const body = (await response.json()) as { explanations?: unknown[] };
  return response.status === 200 && body.explanations?.length === rows.length
    ? 200
    : response.status;
}

/**
 * Sends every case at once while a client keeps sending valid predictions, prints the table,
 * and expects each case's status, a JSON error that says nothing internal, the case's time
 * bound, every valid prediction answered during and after, and a valid explanation after.
 */
export async function expectBatteryRefusedInTime(target: BatteryTarget): Promise<void> {
  const cases = hostileCases(target);
  let hostileDone = false;
  const during: number[] = [];
  const traffic = (async () => {
    while (!hostileDone) during.push(await validPrediction(target));
  })();
  const answers = await Promise.all(cases.map((c) => exchange(target, c.head, c.sending)));
  hostileDone = true;
  await traffic;

  const table = cases.map((c, i) => {
    const a = answers[i]!;
    return `${c.name.padEnd(48)} ${String(a.status).padStart(3)} ${a.ms.toFixed(0).padStart(5)} ms ${a.body.slice(0, 90)}`;
  });
  console.log(`hostile battery (${cases.length} cases):\n${table.join('\n')}`);

  for (const [i, c] of cases.entries()) {
    const a = answers[i]!;
    expect({ case: c.name, status: a.status }).toEqual({ case: c.name, status: c.status });
    expect(a.headers['content-type'], c.name).toBe('application/json');
    const body = JSON.parse(a.body) as { error?: unknown };
    expect(typeof body.error, c.name).toBe('string');
    expect(a.body, c.name).not.toMatch(/stack|internal error/i);
    if (c.withinMs) expect(a.ms, c.name).toBeLessThan(c.withinMs);
  }
  expect(during.length).toBeGreaterThan(0);
  expect(during.every((s) => s === 200)).toBe(true);
  expect(await validPrediction(target)).toBe(200);
  expect(await validExplanation(target)).toBe(200);
}
