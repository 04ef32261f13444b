/**
 * Renders zod validation errors the way the API server renders its own: one line per problem,
 * `<field path>: <message>`, with list indexes in brackets (`spec.columns[2].name`). The
 * operator puts this text in `InvalidSpec` conditions, so a user sees the same path either way.
 */
import type { z } from 'zod';

/** `['spec', 'columns', 2, 'name']` → `spec.columns[2].name`. */
export function fieldPathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** One line per issue: `spec.replicas.min: spec.replicas.min must be less than or equal to …`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${fieldPathOf(issue.path) || '<root>'}: ${issue.message}`)
    .join('\n');
}
