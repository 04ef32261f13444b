/**
 * Turns a zod schema into a structural OpenAPI v3 schema for a CustomResourceDefinition.
 *
 * `z.toJSONSchema` targets JSON Schema 2020-12 (`$ref`, `anyOf` of typed branches, `const`),
 * which the API server rejects as non-structural, so this walker maps the small subset of zod
 * that Lathe's API uses, deliberately, and throws on anything else: a new construct must be
 * given a structural meaning here before it can appear in the API. It also enforces the
 * documentation rule: every property must have a description, so `kubectl explain` is useful.
 */
import { type ZodType, z } from 'zod';
import { type CelRule, celRulesOf } from './cel.js';
import type { StructuralHints } from './schema-meta.js';
import { checksOf, defOf, type ZodCheck, type ZodDef } from './zod-internals.js';

/** A `JSONSchemaProps` of apiextensions.k8s.io/v1, restricted to what Lathe emits. */
export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  anyOf?: StructuralSchema[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: CelValidation[];
}

/** One `x-kubernetes-validations` entry as the API server reads it. */
export interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: string;
}

interface Unwrapped {
  core: ZodType;
  optional: boolean;
  defaultValue?: unknown;
  description?: string;
  rules: CelRule[];
  hints: StructuralHints;
}

function unwrap(schema: ZodType): Unwrapped {
  const out: Unwrapped = { core: schema, optional: false, rules: [], hints: {} };
  let current = schema;
  for (;;) {
    const meta = z.globalRegistry.get(current);
    out.description ??= meta?.description;
    out.hints = { ...meta?.k8s, ...out.hints };
    out.rules.push(...celRulesOf(current));
    const def = defOf(current);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'prefault') {
      out.optional = true;
      if (def.type !== 'optional' && !('defaultValue' in out) && def.innerType) {
        // A prefault ({}) is parsed by zod, filling nested defaults. The CRD gets the parsed
        // value: the API server validates a default against CEL rules before it would
        // apply the nested defaults, so `default: {}` fails rules that read those fields.
        out.defaultValue =
          def.type === 'prefault' ? def.innerType.parse(def.defaultValue) : def.defaultValue;
      }
    } else if (def.type !== 'readonly') {
      break;
    }
    if (def.innerType === undefined) break;
    current = def.innerType;
  }
  out.core = current;
  return out;
}

function unsupported(path: string, what: string): never {
  throw new Error(
    `${path || '<root>'}: ${what} has no structural OpenAPI mapping in crd-schema.ts`,
  );
}

function stringSchema(def: ZodDef, path: string): StructuralSchema {
  const out: StructuralSchema = { type: 'string' };
  // String formats (z.iso.datetime(), z.email(), …) carry their format on the def itself.
  const ownFormat =
    def.format === undefined ? [] : [{ check: 'string_format', format: def.format }];
  for (const c of [...ownFormat, ...checksOf(def)] as ZodCheck[]) {
    if (c.check === 'min_length') out.minLength = c.minimum;
    else if (c.check === 'max_length') out.maxLength = c.maximum;
    else if (c.check === 'string_format' && c.format === 'regex' && c.pattern) {
      if (out.pattern !== undefined) unsupported(path, 'a string with two patterns');
      if (c.pattern.flags !== '') unsupported(path, `a pattern with flags /${c.pattern.flags}`);
      out.pattern = c.pattern.source;
    } else if (c.check === 'string_format' && c.format === 'datetime') out.format = 'date-time';
    else unsupported(path, `string check ${c.check}${c.format ? ` (${c.format})` : ''}`);
  }
  return out;
}

function numberSchema(def: ZodDef, path: string): StructuralSchema {
  const out: StructuralSchema = { type: 'number' };
  for (const c of checksOf(def)) {
    if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32')) {
      out.type = 'integer';
    } else if (c.check === 'greater_than') {
      out.minimum = c.value;
      if (!c.inclusive) out.exclusiveMinimum = true;
    } else if (c.check === 'less_than') {
      out.maximum = c.value;
      if (!c.inclusive) out.exclusiveMaximum = true;
    } else unsupported(path, `number check ${c.check}`);
  }
  return out;
}

function lengthBounds(def: ZodDef, out: StructuralSchema, path: string): void {
  for (const c of checksOf(def)) {
    if (c.check === 'min_length') {
      if (c.minimum !== 0) out.minItems = c.minimum;
    } else if (c.check === 'max_length') out.maxItems = c.maximum;
    else unsupported(path, `array check ${c.check}`);
  }
}

function intOrStringSchema(def: ZodDef, path: string): StructuralSchema {
  const out: StructuralSchema = {
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  };
  for (const option of def.options ?? []) {
    const optionDef = defOf(option);
    if (optionDef.type === 'string') {
      const pattern = stringSchema(optionDef, path).pattern;
      if (pattern !== undefined) out.pattern = pattern;
    } else if (optionDef.type !== 'number') {
      unsupported(path, `an int-or-string union with a ${optionDef.type} branch`);
    }
  }
  return out;
}

function coreSchema(u: Unwrapped, path: string): StructuralSchema {
  const def = defOf(u.core);
  if (u.hints.preserveUnknownFields) {
    return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
  switch (def.type) {
    case 'string':
      return stringSchema(def, path);
    case 'number':
      return numberSchema(def, path);
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: Object.values(def.entries ?? {}) };
    case 'literal':
      if (!(def.values ?? []).every((v) => typeof v === 'string')) {
        unsupported(path, 'a non-string literal');
      }
      return { type: 'string', enum: [...(def.values ?? [])] };
    case 'union':
      if (!u.hints.intOrString) unsupported(path, 'a union (only int-or-string is structural)');
      return intOrStringSchema(def, path);
    case 'object': {
      const properties: Record<string, StructuralSchema> = {};
      const required: string[] = [];
      for (const [key, child] of Object.entries(def.shape ?? {})) {
        const childPath = path ? `${path}.${key}` : key;
        const childSchema = toStructuralSchema(child, childPath);
        if (childSchema.description === undefined) {
          throw new Error(`${childPath}: every field needs a description (use .describe())`);
        }
        properties[key] = childSchema;
        if (!unwrap(child).optional) required.push(key);
      }
      const out: StructuralSchema = { type: 'object', properties };
      if (required.length > 0) out.required = required;
      return out;
    }
    case 'record': {
      if (def.valueType === undefined) unsupported(path, 'a record without a value type');
      return {
        type: 'object',
        additionalProperties: toStructuralSchema(def.valueType, `${path}.*`),
      };
    }
    case 'array': {
      if (def.element === undefined) unsupported(path, 'an array without an element type');
      const out: StructuralSchema = {
        type: 'array',
        items: toStructuralSchema(def.element, `${path}[*]`),
      };
      lengthBounds(def, out, path);
      return out;
    }
    default:
      return unsupported(path, `zod type "${def.type}"`);
  }
}

/**
 * CEL twins of fractional bounds. The API server compares a JSON integer with a fractional
 * `minimum`/`maximum` after truncating the bound (observed on 1.33: `testFraction: 0` passed
 * `minimum: 0.01`), so such bounds are restated in CEL, where `self` is always a double.
 */
function fractionalBoundRules(core: StructuralSchema, path: string): CelRule[] {
  if (core.type !== 'number') return [];
  const rules: CelRule[] = [];
  const field = path || 'the value';
  if (core.minimum !== undefined && !Number.isInteger(core.minimum)) {
    const op = core.exclusiveMinimum ? '>' : '>=';
    rules.push({
      rule: `self ${op} ${core.minimum}`,
      message: `${field} must be ${op} ${core.minimum}`,
    });
  }
  if (core.maximum !== undefined && !Number.isInteger(core.maximum)) {
    const op = core.exclusiveMaximum ? '<' : '<=';
    rules.push({
      rule: `self ${op} ${core.maximum}`,
      message: `${field} must be ${op} ${core.maximum}`,
    });
  }
  return rules;
}

/**
 * The structural OpenAPI v3 schema of `schema`. `path` names the schema in errors, which
 * report any zod construct without a structural meaning and any undocumented property.
 */
export function toStructuralSchema(schema: ZodType, path = ''): StructuralSchema {
  const u = unwrap(schema);
  const core = coreSchema(u, path);
  const out: StructuralSchema = {};
  if (u.description !== undefined) out.description = u.description;
  Object.assign(out, core);
  if (u.defaultValue !== undefined) out.default = structuredClone(u.defaultValue);
  if (u.hints.maxProperties !== undefined) out.maxProperties = u.hints.maxProperties;
  if (u.hints.listType !== undefined) out['x-kubernetes-list-type'] = u.hints.listType;
  if (u.hints.listMapKeys !== undefined)
    out['x-kubernetes-list-map-keys'] = [...u.hints.listMapKeys];
  const rules = [...u.rules, ...fractionalBoundRules(core, path)];
  if (rules.length > 0) {
    out['x-kubernetes-validations'] = rules.map((r) => {
      const v: CelValidation = { rule: r.rule, message: r.message };
      if (r.fieldPath !== undefined) v.fieldPath = r.fieldPath;
      if (r.reason !== undefined) v.reason = r.reason;
      return v;
    });
  }
  return out;
}
