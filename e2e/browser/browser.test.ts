import { describe, expect, it } from 'vitest';
import { artifactName, describeProblems } from './browser.js';

describe('artifactName', () => {
  it.each([
    ['home', 'home'],
    ['Lineage: iris/v2', 'lineage-iris-v2'],
    ['  model comparison (all namespaces) ', 'model-comparison-all-namespaces'],
    ['../../etc/passwd', '..-..-etc-passwd'],
    ['serving_iris.v1', 'serving_iris.v1'],
    ['x'.repeat(100), 'x'.repeat(80)],
  ])('%j → %j', (name, expected) => {
    expect(artifactName(name)).toBe(expected);
  });

  it('refuses a name with nothing file-name-safe in it', () => {
    expect(() => artifactName('/// ')).toThrow('artifact name "/// " has no letter or digit');
  });
});

describe('describeProblems', () => {
  it('puts one problem on each line with its kind', () => {
    expect(
      describeProblems([
        { kind: 'console', text: 'bad' },
        { kind: 'http', text: '404 /x' },
      ]),
    ).toBe('console: bad\nhttp: 404 /x');
  });
});
