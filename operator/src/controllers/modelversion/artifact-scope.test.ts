import { describe, expect, it } from 'vitest';
import { artifactToDelete } from './artifact-scope.js';

const subject = (uri: string, extra: Partial<Parameters<typeof artifactToDelete>[0]> = {}) => ({
  namespace: 'team-a',
  modelName: 'iris' as unknown,
  version: 3 as unknown,
  uri,
  ...extra,
});

describe('artifactToDelete', () => {
  it.each([['s3://lathe/models/team-a/iris/3/'], ['s3://lathe/models/team-a/iris/3']])(
    'deletes %s: the version’s own prefix',
    (uri) => {
      expect(artifactToDelete(subject(uri), 'lathe')).toEqual({
        deletable: true,
        bucket: 'lathe',
        prefix: 'models/team-a/iris/3/',
      });
    },
  );

  it.each([
    ['the whole bucket’s models', 's3://lathe/models', "not this version's own prefix"],
    ['the whole bucket', 's3://lathe/', "not this version's own prefix"],
    ['its namespace’s models', 's3://lathe/models/team-a/', "not this version's own prefix"],
    ['its model’s versions', 's3://lathe/models/team-a/iris/', "not this version's own prefix"],
    ['another namespace', 's3://lathe/models/team-b/iris/3/', "not this version's own prefix"],
    ['another version', 's3://lathe/models/team-a/iris/4/', "not this version's own prefix"],
    ['a deeper prefix', 's3://lathe/models/team-a/iris/3/x/', "not this version's own prefix"],
    ['a dot segment', 's3://lathe/models/team-a/../team-b/iris/3/', "not this version's own"],
    ['datasets', 's3://lathe/datasets/team-a/iris/3/', "not this version's own prefix"],
    ['another bucket', 's3://other/models/team-a/iris/3/', 'not in Lathe\'s bucket "lathe"'],
    ['not s3', 'gs://lathe/models/team-a/iris/3/', 'not an s3:// URI'],
  ])('keeps %s (%s)', (_, uri, why) => {
    const decision = artifactToDelete(subject(uri), 'lathe');
    expect(decision.deletable).toBe(false);
    expect(decision).toMatchObject({ reason: expect.stringContaining(why) });
  });

  it('keeps an artifact whose ModelVersion no longer says its model and version', () => {
    const decision = artifactToDelete(
      subject('s3://lathe/models/team-a/iris/3/', { version: '3' }),
      'lathe',
    );
    expect(decision.deletable).toBe(false);
  });
});
