/**
 * CEL validation rules that live beside the zod schema that owns them.
 *
 * A rule is written once, as CEL for the API server and as a TypeScript predicate for zod, and
 * both share the message and field path, so `kubectl apply` and the operator's parser reject
 * the same object with the same words. Transition rules (`oldSelf`) can only be checked on
 * update; zod skips them at parse time and `transitionViolations` evaluates them on demand.
 */
import { type ZodType, z } from 'zod';
import './schema-meta.js';

/** Why a rule failed, as the API server reports it (`field.ErrorType`). */
export type CelReason =
  | 'FieldValueInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate';

/**
 * One `x-kubernetes-validations` entry. The message must name the field it is about, because
 * that is what a user reads in the `kubectl apply` error.
 */
export interface CelRule {
  /** The CEL expression, evaluated with `self` bound to the value of the owning schema. */
  rule: string;
  /** The message shown to the user; names the offending field. */
  message: string;
  /** Relative path (`.min`, `.source.http`) of the field the error is reported on. */
  fieldPath?: string;
  reason?: CelReason;
  /** zod's version of `rule` for a single object. Omitted for transition rules. */
  holds?: (self: never) => boolean;
  /** zod's version of a transition rule (`oldSelf`), evaluated by `transitionViolations`. */
  holdsOnUpdate?: (self: never, oldSelf: never) => boolean;
}

/** A rule on a value of type `T`, with predicates typed for `T`. */
export interface TypedCelRule<T> extends Omit<CelRule, 'holds' | 'holdsOnUpdate'> {
  holds?: (self: T) => boolean;
  holdsOnUpdate?: (self: T, oldSelf: T) => boolean;
}

/** Splits `.a.b` into `['a', 'b']`; only dotted paths are used in Lathe's rules. */
export function fieldPathSegments(fieldPath: string | undefined): string[] {
  if (fieldPath === undefined || fieldPath === '') return [];
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(fieldPath)) {
    throw new Error(`CEL fieldPath "${fieldPath}" must be a dotted path such as ".spec.min"`);
  }
  return fieldPath.slice(1).split('.');
}

/**
 * Attaches CEL rules to `schema`: the CRD generator emits them as `x-kubernetes-validations`,
 * and zod enforces every non-transition rule with the same message and path.
 */
export function withCel<S extends ZodType>(schema: S, rules: TypedCelRule<z.output<S>>[]): S {
  for (const rule of rules) {
    if (rule.holds === undefined && rule.holdsOnUpdate === undefined) {
      throw new Error(`CEL rule "${rule.rule}" needs a zod predicate (holds or holdsOnUpdate)`);
    }
    fieldPathSegments(rule.fieldPath);
  }
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (rule.holds && !rule.holds(value as z.output<S>)) {
        ctx.addIssue({
          code: 'custom',
          message: rule.message,
          path: fieldPathSegments(rule.fieldPath),
        });
      }
    }
  }) as S;
  const existing = z.globalRegistry.get(schema)?.celRules ?? [];
  return refined.meta({ celRules: [...existing, ...(rules as CelRule[])] }) as S;
}

/** The CEL rules attached to one zod schema (not its children). */
export function celRulesOf(schema: ZodType): readonly CelRule[] {
  return z.globalRegistry.get(schema)?.celRules ?? [];
}

/** A rule that fails when `oldValue` and `newValue` differ. */
export interface TransitionViolation {
  /** Dotted path of the field, as the API server reports it. */
  path: string;
  message: string;
}

/**
 * Evaluates the transition rules (`holdsOnUpdate`) of `schema` and its nested object fields
 * for an update from `oldValue` to `newValue`, as the API server does on UPDATE. Both values
 * are expected to have been parsed by `schema`.
 */
export function transitionViolations(
  schema: ZodType,
  oldValue: unknown,
  newValue: unknown,
  path: string[] = [],
): TransitionViolation[] {
  const violations: TransitionViolation[] = [];
  // The API server only runs a transition rule when the field exists in both objects.
  if (oldValue === undefined || newValue === undefined) return violations;
  let current: ZodType = schema;
  for (;;) {
    for (const rule of celRulesOf(current)) {
      if (rule.holdsOnUpdate && !rule.holdsOnUpdate(newValue as never, oldValue as never)) {
        const at = [...path, ...fieldPathSegments(rule.fieldPath)];
        violations.push({ path: at.join('.'), message: rule.message });
      }
    }
    const def = current._zod.def as { type: string; innerType?: ZodType };
    if (def.innerType === undefined) break;
    current = def.innerType;
  }
  const def = current._zod.def as { type: string; shape?: Record<string, ZodType> };
  if (def.type === 'object' && def.shape && isRecord(oldValue) && isRecord(newValue)) {
    for (const [key, child] of Object.entries(def.shape)) {
      violations.push(...transitionViolations(child, oldValue[key], newValue[key], [...path, key]));
    }
  }
  return violations;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
