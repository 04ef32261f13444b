/**
 * The shared Python runtime package (`lathe_runtime`) against the TypeScript contract it
 * mirrors: the manifest's bytes and digest, and reading a dataset version checked against its
 * manifest. Runs the system python3: these parts need only the standard library.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { manifestFor } from '../../contract/manifest.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Runs the Python trainers' manifest writer (standard library only) on `files`. */
function pythonManifest(files: Record<string, Buffer>): { manifest: Buffer; digest: string } {
  const program = `
import base64, json, sys
from lathe_runtime.manifest import manifest_for
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

describe('the Python trainers write the manifest the operator verifies', () => {
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

/**
 * Runs the Python trainers' `read_dataset` on a dataset version held in memory; returns the files it
 * read, or the contract reason and message it failed with.
 */
function pythonReadDataset(
  files: Record<string, Buffer>,
  version: string,
): { files?: string[]; reason?: string; message?: string } {
  const program = `
import base64, json, sys
from lathe_runtime.dataset import read_dataset
from lathe_runtime.contract import ContractError
request = json.load(sys.stdin)
objects = {k: base64.b64decode(v) for k, v in request["files"].items()}
class Store:
    def read(self, bucket, key):
        name = key.rsplit("/", 1)[-1]
        if name not in objects:
            raise FileNotFoundError(key)
        return objects[name]
try:
    got = read_dataset(Store(), "s3://lathe/datasets/ns/iris/" + request["version"] + "/", request["version"])
    print(json.dumps({"files": sorted(got)}))
except ContractError as error:
    print(json.dumps({"reason": error.reason, "message": str(error)}))
`;
  const input = JSON.stringify({
    version,
    files: Object.fromEntries(Object.entries(files).map(([p, b]) => [p, b.toString('base64')])),
  });
  return JSON.parse(
    execFileSync('python3', ['-c', program], { cwd: here, input, encoding: 'utf8' }),
  );
}

describe('the Python trainers verify the dataset version before training', () => {
  const data = {
    'schema.json': Buffer.from('{"task":"classification"}'),
    'train.csv': Buffer.from('a,y\n1,0\n'),
    'test.csv': Buffer.from('a,y\n2,1\n'),
  };
  const { manifest, digest } = manifestFor(data);
  const version = digest.slice('sha256:'.length, 'sha256:'.length + 16);

  it('reads a version whose files and manifest are those ingestion wrote', () => {
    expect(pythonReadDataset({ ...data, 'manifest.json': manifest }, version)).toEqual({
      files: ['schema.json', 'test.csv', 'train.csv'],
    });
  });

  it('stops at an overwritten file, naming it (DatasetTampered)', () => {
    const got = pythonReadDataset(
      { ...data, 'train.csv': Buffer.from('a,y\n9,1\n'), 'manifest.json': manifest },
      version,
    );
    expect(got.reason).toBe('DatasetTampered');
    expect(got.message).toContain('train.csv');
  });

  it('stops at a manifest rewritten to match overwritten files (the version name pins it)', () => {
    const forged = { ...data, 'train.csv': Buffer.from('a,y\n9,1\n') };
    const got = pythonReadDataset(
      { ...forged, 'manifest.json': manifestFor(forged).manifest },
      version,
    );
    expect(got.reason).toBe('DatasetTampered');
    expect(got.message).toContain('manifest.json');
  });
});
