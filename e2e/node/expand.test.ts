import { describe, expect, it } from 'vitest';
import { expandVariables } from './expand.js';

const vars: Record<string, string> = { POD: 'web-1', EMPTY: '', NESTED: '$(POD)' };
const lookup = (name: string) => vars[name];

describe('expandVariables', () => {
  it.each([
    ['plain', 'plain'],
    ['$(POD)', 'web-1'],
    ['name=$(POD)!', 'name=web-1!'],
    ['$(POD)$(POD)', 'web-1web-1'],
    ['$(EMPTY)x', 'x'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(POD)', '$(POD)'],
    ['$$$(POD)', '$web-1'],
    ['$$', '$'],
    ['a$b', 'a$b'],
    ['trailing$', 'trailing$'],
    ['$(POD', '$(POD'],
    ['$()', '$()'],
    ['$(NESTED)', '$(POD)'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax is not expanded
    ['${POD}', '${POD}'],
  ])('%s → %s', (input, expected) => {
    expect(expandVariables(input, lookup)).toBe(expected);
  });
});
