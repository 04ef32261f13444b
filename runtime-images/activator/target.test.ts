import { describe, expect, it } from 'vitest';
import { inferenceServiceOf } from './target.js';

describe('inferenceServiceOf', () => {
  it.each([
    ['/v1/models/iris:predict', undefined, 'iris'],
    ['/v2/models/iris/infer', undefined, 'iris'],
    ['/v2/models/iris', 'other.team', 'iris'],
    ['/v2/models/iris/versions/3/infer', undefined, 'iris'],
    ['/v1/models/Bad_Name:predict', undefined, undefined],
    ['/v1/models/%ZZ:predict', undefined, undefined],
    ['/v2/health/ready', 'iris', 'iris'],
    ['/v2/health/ready', 'iris:80', 'iris'],
    ['/v2/health/ready', 'iris.team', 'iris'],
    ['/v2/health/ready', 'iris.team.svc', 'iris'],
    ['/v2/health/ready', 'iris.team.svc.cluster.local', 'iris'],
    ['/v2/health/ready', 'iris.team.svc.cluster.local.', 'iris'],
    ['/v2/health/ready', 'iris.other.svc.cluster.local', undefined],
    ['/v2/health/ready', 'iris.example.com', undefined],
    ['/v2/health/ready', '10.96.0.12:80', undefined],
    ['/v2/health/ready', undefined, undefined],
    ['/', '', undefined],
  ])('%s with Host %s is for %s', (path, host, expected) => {
    expect(inferenceServiceOf(path, host, 'team')).toBe(expected);
  });
});
