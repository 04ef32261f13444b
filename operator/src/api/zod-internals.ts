/**
 * A typed, read-only view of zod v4's schema definitions (`schema._zod.def`): the one place
 * that depends on zod's internals. Both walkers of Lathe's schemas use it — the CRD generator
 * (`crd-schema.ts`) and the property test's value generators (`testdata/arbitrary.ts`) — so a
 * zod upgrade that moves these fields breaks in one file.
 */
import type { ZodType } from 'zod';

/** A built-in check (`min_length`, `greater_than`, `string_format`, …). */
export interface ZodCheck {
  check: string;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
}

export interface ZodDef {
  type: string;
  innerType?: ZodType;
  defaultValue?: unknown;
  shape?: Record<string, ZodType>;
  element?: ZodType;
  valueType?: ZodType;
  options?: ZodType[];
  entries?: Record<string, string>;
  values?: unknown[];
  format?: string;
  checks?: { _zod: { def: ZodCheck } }[];
}

export function defOf(schema: ZodType): ZodDef {
  return schema._zod.def as unknown as ZodDef;
}

/** zod's built-in checks; custom refinements are mirrored by CEL rules or hints instead. */
export function checksOf(def: ZodDef): ZodCheck[] {
  return (def.checks ?? []).map((c) => c._zod.def).filter((c) => c.check !== 'custom');
}
