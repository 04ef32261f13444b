import { describe, expect, it } from 'vitest';
import { kubeletExpansion, programView } from './kubelet-expansion.js';
import { literalEnv, literalForKubelet } from './kubelet-literal.js';

const variables = { LATHE_OBJECT_STORE_SECRET_KEY: 'the-secret', A: 'a' };

describe('kubeletExpansion (the kubelet’s rules, which the escape relies on)', () => {
  it.each([
    ['$(A)', 'a'],
    ['x$(A)y', 'xay'],
    ['$(UNDEFINED)', '$(UNDEFINED)'],
    ['$$(A)', '$(A)'],
    ['$$', '$'],
    ['$x', '$x'],
    ['a$', 'a$'],
    ['$(A', '$(A'],
    ['$(LATHE_OBJECT_STORE_SECRET_KEY)', 'the-secret'],
  ])('%j expands to %j', (input, expected) => {
    expect(kubeletExpansion(input, variables)).toBe(expected);
  });
});

describe('literalForKubelet', () => {
  it.each([
    ['plain', 'plain', 'plain'],
    ['a reference', '$(LATHE_OBJECT_STORE_SECRET_KEY)', '$$(LATHE_OBJECT_STORE_SECRET_KEY)'],
    ['an escaped reference', '$$(A)', '$$$$(A)'],
    ['a lone dollar', 'price in $', 'price in $$'],
    ['a dollar before a letter', '$HOME', '$$HOME'],
    ['an unclosed reference', '$(A', '$$(A'],
    ['JSON with a reference', '{"lr":"$(A)"}', '{"lr":"$$(A)"}'],
    ['a SQL placeholder', 'select * from t where id = $1', 'select * from t where id = $$1'],
    ['empty', '', ''],
  ])('%s: %j is written %j and reaches the program unchanged', (_, value, escaped) => {
    expect(literalForKubelet(value)).toBe(escaped);
    expect(kubeletExpansion(literalForKubelet(value), variables)).toBe(value);
  });

  it('literalEnv escapes the value, not the name', () => {
    expect(literalEnv('LATHE_HP_X', '$(A)')).toEqual({ name: 'LATHE_HP_X', value: '$$(A)' });
  });
});

describe('programView', () => {
  it('resolves valueFrom, expands references to earlier variables, and keeps escapes literal', () => {
    const view = programView(
      {
        name: 'c',
        env: [
          { name: 'KEY', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          { name: 'EXPANDED', value: '$(KEY)' },
          { name: 'ESCAPED', value: literalForKubelet('$(KEY)') },
          { name: 'LATER', value: '$(AFTER)' },
          { name: 'AFTER', value: 'x' },
        ],
        command: ['$(KEY)'],
        args: [literalForKubelet('$(KEY)')],
      },
      () => 'secret',
    );
    expect(view).toEqual({
      env: { KEY: 'secret', EXPANDED: 'secret', ESCAPED: '$(KEY)', LATER: '$(AFTER)', AFTER: 'x' },
      command: ['secret'],
      args: ['$(KEY)'],
    });
  });
});
