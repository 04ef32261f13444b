/**
 * Parsed Lathe objects for the console's tests and benchmark: the smallest valid manifest of a
 * kind (`operator/src/api/testdata/minimal.ts`), with the given names, spec fields and status,
 * parsed by the kind's schema as the informer would.
 */
import { minimalManifests } from '../../operator/src/api/testdata/minimal.js';
import { type ConsoleObjects, consoleKindOf, type KindKey } from '../kinds.js';

export interface ObjectFixture {
  namespace?: string;
  name: string;
  /** Merged over the minimal spec (top-level fields replace). */
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  generation?: number;
}

/** One parsed object of `kind`. */
export function latheObject<K extends KindKey>(kind: K, fixture: ObjectFixture): ConsoleObjects[K] {
  const spec = consoleKindOf(kind);
  const minimal = minimalManifests[spec.kind as keyof typeof minimalManifests].manifest;
  return spec.spec.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: spec.kind,
    metadata: {
      name: fixture.name,
      namespace: fixture.namespace ?? 'default',
      uid: `uid-${fixture.namespace ?? 'default'}-${fixture.name}`,
      generation: fixture.generation ?? 1,
      creationTimestamp: fixture.creationTimestamp ?? '2026-12-07T10:00:00Z',
      ...(fixture.labels ? { labels: fixture.labels } : {}),
      ...(fixture.annotations ? { annotations: fixture.annotations } : {}),
    },
    spec: { ...(minimal.spec as Record<string, unknown>), ...(fixture.spec ?? {}) },
    ...(fixture.status ? { status: fixture.status } : {}),
  });
}

/** A condition as controllers write it. */
export function condition(
  type: string,
  status: 'True' | 'False' | 'Unknown',
  reason: string,
  message = `${type} is ${status}`,
) {
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime: '2026-12-07T10:00:00Z',
    observedGeneration: 1,
  };
}
