import { describe, expect, it } from 'vitest';
import { parseKubectlTable } from './kubectl-table.js';

describe('parseKubectlTable', () => {
  it('cuts rows at the headers, keeping cells with spaces whole', () => {
    const output = [
      'NAMESPACE   NAME         PROGRESS            STATUS      AGE',
      'team-a      iris-run-1   40/40 loss=0.061    Succeeded   5m',
      'team-a      iris-run-2   <none>              Failed      12s',
      '',
    ].join('\n');
    expect(parseKubectlTable(output)).toEqual([
      {
        NAMESPACE: 'team-a',
        NAME: 'iris-run-1',
        PROGRESS: '40/40 loss=0.061',
        STATUS: 'Succeeded',
        AGE: '5m',
      },
      { NAMESPACE: 'team-a', NAME: 'iris-run-2', PROGRESS: '<none>', STATUS: 'Failed', AGE: '12s' },
    ]);
  });

  it('keeps a header of two words as one column', () => {
    const output = 'NAME   LAST RUN   READY\np      3m         True\n';
    expect(parseKubectlTable(output)).toEqual([{ NAME: 'p', 'LAST RUN': '3m', READY: 'True' }]);
  });

  it('reads an empty cell at the end of a row as empty', () => {
    expect(parseKubectlTable('NAME   URL\nx\n')).toEqual([{ NAME: 'x', URL: '' }]);
  });

  it('gives no row for "No resources found"', () => {
    expect(parseKubectlTable('No resources found in team-a namespace.\n')).toEqual([]);
    expect(parseKubectlTable('')).toEqual([]);
  });

  it('refuses text that is not a table', () => {
    expect(() => parseKubectlTable('  indented\nx')).toThrow('not a kubectl table header');
  });
});
