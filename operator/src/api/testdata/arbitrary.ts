/**
 * fast-check arbitraries derived from Lathe's zod schemas, for the property test that the
 * API server accepts every object zod accepts.
 *
 * Like the CRD generator, this walks the zod definitions; unlike it, it must produce values,
 * so each object is filtered by its own schema (which runs the CEL rules' zod predicates) and
 * strings under a CEL rule come from the schema's `examples` metadata, because random text
 * almost never satisfies a cron or duration rule.
 */
import fc from 'fast-check';
import { type ZodType, z } from 'zod';
import { checksOf, defOf, type ZodDef } from '../zod-internals.js';

const LIST_CAP = 3;
const STRING_CAP = 24;

function isOptional(schema: ZodType): boolean {
  const type = defOf(schema).type;
  return type === 'optional' || type === 'default' || type === 'prefault';
}

function stringArbitrary(schema: ZodType, def: ZodDef): fc.Arbitrary<string> {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  let pattern: RegExp | undefined;
  for (const c of checksOf(def)) {
    if (c.check === 'min_length') min = c.minimum ?? 0;
    if (c.check === 'max_length') max = c.maximum ?? max;
    if (c.check === 'string_format' && c.format === 'regex') pattern = c.pattern;
  }
  if (def.format === 'datetime') {
    return fc
      .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  const base = pattern
    ? fc.stringMatching(pattern).filter((s) => s.length >= min && s.length <= max)
    : fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max, STRING_CAP)) });
  return base.filter((s) => schema.safeParse(s).success);
}

function numberArbitrary(def: ZodDef): fc.Arbitrary<number> {
  let min = -1e6;
  let max = 1e6;
  let minExcluded = false;
  let maxExcluded = false;
  let integer = false;
  for (const c of checksOf(def)) {
    if (c.check === 'number_format') integer = true;
    if (c.check === 'greater_than') [min, minExcluded] = [c.value ?? min, !c.inclusive];
    if (c.check === 'less_than') [max, maxExcluded] = [c.value ?? max, !c.inclusive];
  }
  if (integer) {
    return fc.integer({
      min: Math.max(minExcluded ? min + 1 : min, -1e6),
      max: Math.min(maxExcluded ? max - 1 : max, 1e6),
    });
  }
  return fc.double({ min, max, minExcluded, maxExcluded, noNaN: true, noDefaultInfinity: true });
}

function coreArbitrary(schema: ZodType): fc.Arbitrary<unknown> {
  const meta = z.globalRegistry.get(schema);
  const examples = meta?.examples;
  if (Array.isArray(examples) && examples.length > 0) return fc.constantFrom(...examples);
  const def = defOf(schema);
  if (meta?.k8s?.preserveUnknownFields) {
    return fc.dictionary(fc.stringMatching(/^[a-z][a-zA-Z]{0,8}$/), fc.string({ maxLength: 8 }), {
      maxKeys: 2,
    });
  }
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'readonly':
      return arbitraryOf(def.innerType as ZodType);
    case 'string':
      return stringArbitrary(schema, def);
    case 'number':
      return numberArbitrary(def);
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries ?? {}));
    case 'literal':
      return fc.constantFrom(...(def.values ?? []));
    case 'union':
      return fc.oneof(...(def.options ?? []).map((o) => arbitraryOf(o)));
    case 'record':
      return fc
        .dictionary(
          fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,10}$/),
          arbitraryOf(def.valueType as ZodType),
          {
            maxKeys: LIST_CAP,
          },
        )
        .filter((v) => schema.safeParse(v).success);
    case 'array': {
      let min = 0;
      let max = LIST_CAP;
      for (const c of checksOf(def)) {
        if (c.check === 'min_length') min = c.minimum ?? 0;
        if (c.check === 'max_length') max = Math.min(c.maximum ?? max, LIST_CAP);
      }
      const hints = meta?.k8s;
      const item = arbitraryOf(def.element as ZodType);
      const keys = hints?.listMapKeys ?? [];
      const list =
        hints?.listType === 'map'
          ? fc.uniqueArray(item, {
              minLength: min,
              maxLength: Math.max(min, max),
              selector: (v) => JSON.stringify(keys.map((k) => (v as Record<string, unknown>)[k])),
            })
          : hints?.listType === 'set'
            ? fc.uniqueArray(item, { minLength: min, maxLength: Math.max(min, max) })
            : fc.array(item, { minLength: min, maxLength: Math.max(min, max) });
      return list.filter((v) => schema.safeParse(v).success);
    }
    case 'object': {
      const shape = def.shape ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      const requiredKeys: string[] = [];
      for (const [key, child] of Object.entries(shape)) {
        model[key] = arbitraryOf(child);
        if (!isOptional(child)) requiredKeys.push(key);
      }
      const record = fc.record(model, { requiredKeys });
      // Filtering here, not at the root, retries only the object whose rule failed.
      return record.filter((v) => schema.safeParse(v).success);
    }
    default:
      throw new Error(`No arbitrary for zod type "${def.type}"`);
  }
}

/** Values that `schema` accepts, as a user could write them (defaults left out or set). */
export function arbitraryOf(schema: ZodType): fc.Arbitrary<unknown> {
  return coreArbitrary(schema);
}
