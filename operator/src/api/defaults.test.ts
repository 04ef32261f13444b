import { describe, expect, it } from 'vitest';
import type { ExampleKind } from './testdata/examples.js';
import { minimalManifests } from './testdata/minimal.js';
import { schemaOfKind } from './testdata/schemas.js';

describe('defaults', () => {
  it.each(Object.keys(minimalManifests) as ExampleKind[])(
    'a minimal %s is defaulted as documented',
    (kind) => {
      const { manifest, defaultedSpec } = minimalManifests[kind];
      const parsed = schemaOfKind[kind].parse(manifest) as { spec: unknown };
      expect(parsed.spec).toEqual(defaultedSpec);
    },
  );

  it('keeps a value the user set over the default', () => {
    const { manifest } = minimalManifests.InferenceService;
    const parsed = schemaOfKind.InferenceService.parse({
      ...manifest,
      spec: { model: { name: 'm' }, replicas: { max: 3 } },
    }) as { spec: { replicas: unknown } };
    expect(parsed.spec.replicas).toEqual({ min: 1, max: 3 });
  });
});
