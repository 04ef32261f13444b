import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { withCel } from './cel.js';
import { toStructuralSchema } from './crd-schema.js';
import { quantity } from './quantity.js';

describe('toStructuralSchema', () => {
  it.each([
    [
      'an integer with bounds',
      z.number().int().min(0).max(10),
      { type: 'integer', minimum: 0, maximum: 10 },
    ],
    [
      'an exclusive minimum',
      z.number().gt(0),
      { type: 'number', minimum: 0, exclusiveMinimum: true },
    ],
    [
      'a bounded string with a pattern',
      z
        .string()
        .min(1)
        .max(5)
        .regex(/^[a-z]+$/),
      { type: 'string', minLength: 1, maxLength: 5, pattern: '^[a-z]+$' },
    ],
    ['a timestamp', z.iso.datetime({ offset: true }), { type: 'string', format: 'date-time' }],
    ['an enum', z.enum(['a', 'b']), { type: 'string', enum: ['a', 'b'] }],
    ['a literal', z.literal('v1'), { type: 'string', enum: ['v1'] }],
    ['a boolean with a default', z.boolean().default(true), { type: 'boolean', default: true }],
    [
      'a bounded list',
      z.array(z.string()).min(1).max(3),
      { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 3 },
    ],
    [
      'a map',
      z.record(z.string(), z.number()),
      { type: 'object', additionalProperties: { type: 'number' } },
    ],
  ])('maps %s', (_what, schema, expected) => {
    expect(toStructuralSchema(schema)).toEqual(expected);
  });

  it('maps a quantity to int-or-string with the quantity pattern', () => {
    const out = toStructuralSchema(quantity('CPU.'));
    expect(out['x-kubernetes-int-or-string']).toBe(true);
    expect(out.anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
    expect(out.type).toBeUndefined();
    expect(out.pattern).toMatch(/^\^/);
  });

  it('restates fractional bounds in CEL, which the API server truncates for integer input', () => {
    expect(
      toStructuralSchema(z.number().min(0.01).max(0.9), 'spec.f')['x-kubernetes-validations'],
    ).toEqual([
      { rule: 'self >= 0.01', message: 'spec.f must be >= 0.01' },
      { rule: 'self <= 0.9', message: 'spec.f must be <= 0.9' },
    ]);
    expect(
      toStructuralSchema(z.number().min(0).max(1))['x-kubernetes-validations'],
    ).toBeUndefined();
  });

  it('lists required fields, leaving out optional and defaulted ones', () => {
    const out = toStructuralSchema(
      z.object({
        a: z.string().describe('A.'),
        b: z.string().describe('B.').optional(),
        c: z.number().describe('C.').default(1),
      }),
    );
    expect(out.required).toEqual(['a']);
    expect(out.properties?.c?.default).toBe(1);
  });

  it('defaults an object to its fully defaulted value, so CEL rules can read nested fields', () => {
    const inner = z.object({
      min: z.number().describe('Min.').default(1),
      max: z.number().describe('Max.').default(2),
    });
    const out = toStructuralSchema(z.object({ r: inner.describe('R.').prefault({}) }));
    expect(out.properties?.r?.default).toEqual({ min: 1, max: 2 });
  });

  it('takes the outermost description', () => {
    const base = z.string().describe('inner');
    expect(toStructuralSchema(base.describe('outer').optional()).description).toBe('outer');
  });

  it('emits CEL rules with message, fieldPath and reason', () => {
    const schema = withCel(z.object({ a: z.number().describe('A.') }), [
      {
        rule: 'self.a > 0',
        message: 'a must be positive',
        fieldPath: '.a',
        reason: 'FieldValueInvalid',
        holds: (self) => self.a > 0,
      },
    ]);
    expect(toStructuralSchema(schema)['x-kubernetes-validations']).toEqual([
      {
        rule: 'self.a > 0',
        message: 'a must be positive',
        fieldPath: '.a',
        reason: 'FieldValueInvalid',
      },
    ]);
  });

  it.each([
    ['an undocumented field', z.object({ a: z.string() }), 'a: every field needs a description'],
    ['a general union', z.union([z.string(), z.boolean()]), 'a union'],
    ['a transform', z.string().transform((s) => s.length), 'pipe'],
    ['a nullable', z.string().nullable(), 'nullable'],
    ['two patterns', z.string().regex(/a/).regex(/b/), 'two patterns'],
    ['a pattern with flags', z.string().regex(/a/i), 'flags'],
    ['an email format', z.email(), 'email'],
  ])('refuses %s', (_what, schema, message) => {
    expect(() => toStructuralSchema(schema)).toThrow(message);
  });
});
