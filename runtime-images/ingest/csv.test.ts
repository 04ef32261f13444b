import { describe, expect, it } from 'vitest';
import { CsvDecoder, CsvSyntaxError, decodeCsv } from './csv.js';

/** Decodes `text` fed in pieces of `size` characters, to cross every chunk boundary. */
function decodeInPieces(text: string, size: number, delimiter = ','): string[][] {
  const decoder = new CsvDecoder(delimiter);
  const records: string[][] = [];
  for (let i = 0; i < text.length; i += size)
    records.push(...decoder.write(Buffer.from(text.slice(i, i + size))).records);
  records.push(...decoder.end().records);
  return records;
}

describe('CsvDecoder', () => {
  it.each([
    [
      'plain lines',
      'a,b\n1,2\n',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'no final line break',
      'a,b\n1,2',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'CRLF line ends',
      'a,b\r\n1,2\r\n',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    ['blank lines, skipped', 'a\n\n1\n\r\n2\n', [['a'], ['1'], ['2']]],
    ['empty fields', ',x,\n', [['', 'x', '']]],
    ['a quoted delimiter', 'a,"b,c",d\n', [['a', 'b,c', 'd']]],
    ['escaped quotes', '"say ""hi""",x\n', [['say "hi"', 'x']]],
    [
      'a line break in quotes',
      '"two\nlines",x\ny,z\n',
      [
        ['two\nlines', 'x'],
        ['y', 'z'],
      ],
    ],
    [
      'a quoted field last, CRLF',
      'a,"b"\r\nc,d\r\n',
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
    ],
    ['an empty quoted field', '"",1\n', [['', '1']]],
    [
      'a leading BOM',
      '\ufeffa,b\n1,2\n',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    ['UTF-8 text', 'naïve,日本\n', [['naïve', '日本']]],
  ])('decodes %s, whatever the chunking', (_, text, expected) => {
    expect(decodeCsv(text)).toEqual(expected);
    for (const size of [1, 2, 3, 7]) expect(decodeInPieces(text, size)).toEqual(expected);
  });

  it('splits on another delimiter', () => {
    expect(decodeCsv('a;b\n"x;y";2\n', ';')).toEqual([
      ['a', 'b'],
      ['x;y', '2'],
    ]);
  });

  it('keeps multi-byte characters split across chunks', () => {
    const bytes = Buffer.from('é,ü\n');
    const decoder = new CsvDecoder(',');
    const records = [
      ...decoder.write(bytes.subarray(0, 1)).records,
      ...decoder.write(bytes.subarray(1)).records,
      ...decoder.end().records,
    ];
    expect(records).toEqual([['é', 'ü']]);
  });

  it('tells the line each record began on', () => {
    const decoder = new CsvDecoder(',');
    const batch = decoder.write('a\n"b\nc"\n\nd\n');
    expect(batch.lines).toEqual([1, 2, 5]);
  });

  it.each([
    ['an unclosed quote', 'a\n"b,c\n', 2, 'not closed'],
    ['text after a closing quote', '"a"b,c\n', 1, 'after a closing quote'],
    ['a quote inside an unquoted field', 'a,b"c\n', 1, 'inside an unquoted field'],
  ])('rejects %s, naming the line', (_, text, line, message) => {
    try {
      decodeCsv(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CsvSyntaxError);
      expect((error as CsvSyntaxError).line).toBe(line);
      expect((error as Error).message).toContain(message);
    }
  });

  it('refuses a delimiter that cannot work', () => {
    expect(() => new CsvDecoder('"')).toThrow(/delimiter/);
  });
});
