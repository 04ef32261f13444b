import { describe, expect, it } from 'vitest';
import { IngestFailure } from './failure.js';
import { s3ClientFor } from './sources.js';

const store = {
  endpoint: 'http://minio.lathe-system:9000',
  bucket: 'lathe',
  region: 'us-east-1',
  accessKey: 'operator-key',
  secretKey: 'operator-secret',
};
const access = (own = false) => ({
  store,
  namespace: 'team-a',
  accessKey: own ? 'their-key' : undefined,
  secretKey: own ? 'their-secret' : undefined,
});

describe('s3ClientFor: the operator’s credentials read only the namespace’s prefixes', () => {
  it.each([
    ['its own sources', { bucket: 'lathe', key: 'sources/team-a/iris.csv' }],
    ['its own dataset versions', { bucket: 'lathe', prefix: 'datasets/team-a/iris/' }],
    ['shared data', { bucket: 'lathe', key: 'shared/examples/iris.csv' }],
  ])('reads %s', (_, source) => {
    expect(s3ClientFor(source, access()).isOperatorStore).toBe(true);
  });

  it.each([
    ['another namespace’s data', { bucket: 'lathe', prefix: 'datasets/team-b/' }, 'outside'],
    ['the bucket’s root', { bucket: 'lathe', prefix: 'datasets/' }, 'outside'],
    ['a dot-dot escape', { bucket: 'lathe', key: 'sources/team-a/../team-b/x.csv' }, 'outside'],
    ['another bucket', { bucket: 'private', key: 'sources/team-a/x.csv' }, 'other than'],
  ])('refuses %s without credentialsSecretRef, naming the field', (_, source, where) => {
    let thrown: unknown;
    try {
      s3ClientFor(source, access());
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(IngestFailure);
    expect(thrown).toMatchObject({ reason: 'SourceCredentialsRequired' });
    expect((thrown as Error).message).toContain(where);
    expect((thrown as Error).message).toContain('spec.source.s3.credentialsSecretRef');
    expect((thrown as Error).message).not.toContain('operator-secret');
  });

  it('reads anything the Dataset’s own credentials may, on the operator’s store too', () => {
    expect(() =>
      s3ClientFor({ bucket: 'private', prefix: 'datasets/team-b/' }, access(true)),
    ).not.toThrow();
  });

  it('sends another endpoint no operator credential, and checks nothing there', () => {
    const other = { endpoint: 'https://s3.example.com', bucket: 'public', key: 'iris.csv' };
    expect(s3ClientFor(other, access()).isOperatorStore).toBe(false);
  });
});
