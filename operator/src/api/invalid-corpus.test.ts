import { describe, expect, it } from 'vitest';
import { transitionViolations } from './cel.js';
import { applyChanges } from './testdata/apply-changes.js';
import { loadExample } from './testdata/examples.js';
import { invalidCorpus } from './testdata/invalid-corpus.js';
import { schemaOfKind } from './testdata/schemas.js';
import { describeZodError } from './validation-errors.js';

describe('the invalid corpus', () => {
  it('has at least 40 cases with unique names, covering every kind', () => {
    expect(invalidCorpus.length).toBeGreaterThanOrEqual(40);
    expect(new Set(invalidCorpus.map((c) => c.name)).size).toBe(invalidCorpus.length);
    expect(new Set(invalidCorpus.map((c) => c.kind)).size).toBe(6);
  });

  it.each(invalidCorpus)('zod rejects: $name ($field)', (invalid) => {
    const schema = schemaOfKind[invalid.kind];
    const base = loadExample(invalid.kind);
    const changed = applyChanges(base, invalid);
    let errorText: string;
    if (invalid.operation === 'create') {
      const result = schema.safeParse(changed);
      expect(result.success, 'zod accepted an invalid manifest').toBe(false);
      errorText = result.success ? '' : describeZodError(result.error);
    } else {
      // An update case changes a valid object into another valid one; only the transition
      // rules may reject it.
      const next = schema.safeParse(changed);
      if (!next.success) {
        errorText = describeZodError(next.error);
      } else {
        const violations = transitionViolations(schema, schema.parse(base), next.data);
        expect(violations, 'no transition rule rejected the update').not.toEqual([]);
        errorText = violations.map((v) => `${v.path}: ${v.message}`).join('\n');
      }
    }
    const lines = errorText.split('\n');
    expect(
      lines.some((line) => line.startsWith(`${invalid.field}:`) || line.includes(invalid.field)),
      `no error names ${invalid.field}:\n${errorText}`,
    ).toBe(true);
    if (invalid.message) expect(errorText).toContain(invalid.message);
  });
});
