import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpill, SpillWriter, spillLine } from './files.js';
import type { Cell } from './table.js';

describe('the spill', () => {
  it.each([
    ['plain text', ['a', 'b', 'c'], 'a,b,c'],
    ['numbers, booleans and nulls', [1.5, true, null], '1.5,true,'],
    ['a comma in a cell', ['a,b', 'c'], '"a,b",c'],
    ['a quote in a cell', ['say "hi"', 'x'], '"say ""hi""",x'],
    ['a line break in a cell', ['two\nlines', 'x'], '"two\nlines",x'],
    ['one empty cell', [null], '""'],
  ] as [string, Cell[], string][])('writes %s', (_, row, line) => {
    expect(spillLine(row)).toBe(line);
  });

  it('reads back what it wrote, with missing cells empty', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-spill-'));
    try {
      const file = path.join(dir, 'spill.csv');
      const rows: Cell[][] = [
        ['a,b', 'say "hi"', 'two\nlines'],
        [1, null, false],
        [null, null, null],
        [''],
      ];
      const writer = new SpillWriter(file);
      await writer.write(rows);
      const digest = await writer.close();
      expect(digest).toMatch(/^[0-9a-f]{64}$/);
      const read: Cell[][] = [];
      for await (const batch of readSpill(file)) read.push(...batch);
      expect(read).toEqual([
        ['a,b', 'say "hi"', 'two\nlines'],
        ['1', '', 'false'],
        ['', '', ''],
        [''],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
