import { describe, expect, it } from 'vitest';
import { isOwnVersionPrefixShape, ModelVersionSpecSchema } from './modelversion.js';

const spec = (uri: string, deletionPolicy: 'Retain' | 'Delete') => ({
  modelName: 'iris',
  version: 3,
  artifact: { uri, format: 'tfjs', digest: `sha256:${'a'.repeat(64)}` },
  deletionPolicy,
});

describe('isOwnVersionPrefixShape', () => {
  it.each([
    ['s3://lathe/models/team-a/iris/3/', true],
    ['s3://lathe/models/team-a/iris/3', true],
    ['s3://other-bucket/models/team-a/iris/3/', true],
    ['s3://lathe/models', false],
    ['s3://lathe/models/', false],
    ['s3://lathe/models/team-a/', false],
    ['s3://lathe/models/team-a/iris/', false],
    ['s3://lathe/models/team-a/iris/4/', false],
    ['s3://lathe/models/team-a/iris/33/', false],
    ['s3://lathe/models/team-a/other/3/', false],
    ['s3://lathe/models/team-a/iris/3/extra/', false],
    ['s3://lathe/models/team-a/../team-b/iris/3/', false],
    ['s3://lathe/datasets/team-a/iris/3/', false],
    ['s3://lathe/runs/team-a/iris/3/', false],
    ['gs://lathe/models/team-a/iris/3/', false],
    ['s3://lathe/models/team-a/x/iris/3/', false],
  ])('%s → %s', (uri, ok) => {
    expect(isOwnVersionPrefixShape(uri, 'iris', 3)).toBe(ok);
  });
});

describe('ModelVersion spec: deletionPolicy Delete', () => {
  it('is accepted for the version’s own prefix', () => {
    expect(
      ModelVersionSpecSchema.safeParse(spec('s3://lathe/models/a/iris/3/', 'Delete')).success,
    ).toBe(true);
  });

  it('is refused for a parent prefix, naming deletionPolicy', () => {
    const parsed = ModelVersionSpecSchema.safeParse(spec('s3://lathe/models', 'Delete'));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues).toEqual([
      expect.objectContaining({
        path: ['deletionPolicy'],
        message: expect.stringContaining('the version’s own prefix'),
      }),
    ]);
  });

  it('Retain accepts any URI', () => {
    expect(ModelVersionSpecSchema.safeParse(spec('s3://lathe/models', 'Retain')).success).toBe(
      true,
    );
  });
});
