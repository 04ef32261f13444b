import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../e2e/cluster/testenv.js';
import { imageNodeFlags } from './operators.js';

describe('imageNodeFlags', () => {
  it("are the flags of the operator image's entrypoint", () => {
    const dockerfile = readFileSync(
      path.join(repoRoot, 'runtime-images/operator/Dockerfile'),
      'utf8',
    );
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(entrypoint ?? '[]')).toEqual([
      '/usr/local/bin/node',
      ...imageNodeFlags,
      'dist/operator/src/main.js',
    ]);
  });
});
