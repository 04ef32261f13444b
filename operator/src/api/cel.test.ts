import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { celRulesOf, fieldPathSegments, transitionViolations, withCel } from './cel.js';
import { ModelVersionSchema } from './modelversion.js';
import { loadExample } from './testdata/examples.js';

const Range = withCel(
  z.object({ min: z.number().describe('Min.'), max: z.number().describe('Max.') }),
  [
    {
      rule: 'self.min <= self.max',
      message: 'range.min must not exceed range.max',
      fieldPath: '.min',
      holds: (self) => self.min <= self.max,
    },
  ],
);

describe('withCel', () => {
  it('enforces the rule in zod with the same message, at the fieldPath', () => {
    const result = z.object({ range: Range }).safeParse({ range: { min: 2, max: 1 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ['range', 'min'],
        message: 'range.min must not exceed range.max',
      }),
    ]);
  });

  it('keeps rules attached earlier when more are added', () => {
    const more = withCel(Range, [
      {
        rule: 'self.max < 100.0',
        message: 'range.max must be below 100',
        holds: (s) => s.max < 100,
      },
    ]);
    expect(celRulesOf(more).map((r) => r.rule)).toEqual([
      'self.min <= self.max',
      'self.max < 100.0',
    ]);
    expect(celRulesOf(Range)).toHaveLength(1);
  });

  it('refuses a rule zod cannot check', () => {
    expect(() => withCel(z.string(), [{ rule: 'true', message: 'x' }])).toThrow(
      'needs a zod predicate',
    );
  });

  it.each([
    ['', []],
    ['.a', ['a']],
    ['.a.b', ['a', 'b']],
  ])('splits fieldPath %j', (path, segments) => {
    expect(fieldPathSegments(path)).toEqual(segments);
  });

  it('refuses a fieldPath it cannot mirror in zod', () => {
    expect(() => fieldPathSegments("a['b']")).toThrow('dotted path');
  });
});

describe('transitionViolations', () => {
  const created = ModelVersionSchema.parse(loadExample('ModelVersion'));

  it('accepts changing the stage and the deletion policy', () => {
    const updated = structuredClone(created);
    updated.spec.stage = 'archived';
    updated.spec.deletionPolicy = 'Delete';
    expect(transitionViolations(ModelVersionSchema, created, updated)).toEqual([]);
  });

  it('accepts setting a lineage that was not set', () => {
    const withoutLineage = structuredClone(created);
    delete withoutLineage.spec.lineage;
    expect(transitionViolations(ModelVersionSchema, withoutLineage, created)).toEqual([]);
  });

  it('reports each immutable field that changed', () => {
    const updated = structuredClone(created);
    updated.spec.artifact.uri = 's3://elsewhere/';
    updated.spec.version = 9;
    expect(transitionViolations(ModelVersionSchema, created, updated)).toEqual([
      { path: 'spec.version', message: 'spec.version is immutable' },
      { path: 'spec.artifact', message: 'spec.artifact is immutable' },
    ]);
  });
});
