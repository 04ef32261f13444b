import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { manifestFor } from '../../contract/manifest.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Runs the scikit-learn trainer's manifest writer (Python, standard library only) on `files`. */
function pythonManifest(files: Record<string, Buffer>): { manifest: Buffer; digest: string } {
  const program = `
import base64, json, sys
from lathe_sklearn.manifest import manifest_for
files = {p: base64.b64decode(b) for p, b in json.load(sys.stdin).items()}
manifest, digest = manifest_for(files)
print(json.dumps({"manifest": base64.b64encode(manifest).decode(), "digest": digest}))
`;
  const input = JSON.stringify(
    Object.fromEntries(Object.entries(files).map(([p, b]) => [p, b.toString('base64')])),
  );
  const out = JSON.parse(
    execFileSync('python3', ['-c', program], { cwd: here, input, encoding: 'utf8' }),
  ) as { manifest: string; digest: string };
  return { manifest: Buffer.from(out.manifest, 'base64'), digest: out.digest };
}

describe('the scikit-learn trainer writes the manifest the operator verifies', () => {
  it('reproduces the bytes and digest pinned in the contract (manifest.test.ts)', () => {
    const files = {
      'weights.bin': Buffer.from([0, 1, 2, 3]),
      'model.json': Buffer.from('{"format":"layers-model"}'),
      'sub/dir/a.txt': Buffer.from('hello\n'),
    };
    const python = pythonManifest(files);
    expect(python.digest).toBe(
      'sha256:ba60a024c75427b2036ee12fad7fa5bf27029fe0b359a81d94e0798baf6f3e3f',
    );
    expect(python.manifest.equals(manifestFor(files).manifest)).toBe(true);
  });

  it('agrees with the TypeScript writer on names that need care', () => {
    const files = {
      'model.joblib': Buffer.alloc(1000, 7),
      'B.json': Buffer.from('upper case sorts first'),
      'données/é.csv': Buffer.from('non-ASCII path'),
      'a b/"quoted".txt': Buffer.from('space and quotes'),
      'metrics.json': Buffer.from('{}\n'),
    };
    const python = pythonManifest(files);
    const typescript = manifestFor(files);
    expect(python.manifest.toString('utf8')).toBe(typescript.manifest.toString('utf8'));
    expect(python.digest).toBe(typescript.digest);
  });
});
