/**
 * Deterministic child names. A child's name is derived from its owner's name and what it is
 * for, so a reconcile that runs twice (a stale cache, a restart) computes the same name and
 * server-side apply finds the same object instead of creating a second one.
 */
import { createHash } from 'node:crypto';

/** A short, stable hex digest of `parts`. */
export function shortHash(...parts: readonly (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 8);
}

/**
 * `<base>-<suffix>`, at most `max` characters (63 by default: a Job's name becomes a pod
 * label value). A base too long is cut and made unique again with a hash of the whole.
 */
export function childName(base: string, suffix: string, max = 63): string {
  const name = `${base}-${suffix}`;
  if (name.length <= max) return name;
  const hash = shortHash(base);
  const room = max - suffix.length - hash.length - 2;
  return `${base.slice(0, Math.max(1, room)).replace(/[-.]+$/, '')}-${hash}-${suffix}`;
}
