import { describe, expect, it } from 'vitest';
import { manifestFor, sha256Digest } from '../../../../contract/manifest.js';
import { ObjectNotFoundError, StorageUnavailableError } from '../../../../contract/object-store.js';
import { artifactLacksBackground } from './plan.js';

const withBackground = manifestFor({
  'model.json': Buffer.from('{}'),
  'background.json': Buffer.from('{}'),
});
const without = manifestFor({ 'model.json': Buffer.from('{}') });
const uri = 's3://lathe/models/ns/m/1/';

/** A store holding `manifest` as the artifact's manifest.json, or failing with `error`. */
const storeOf = (manifest: Buffer | Error) => ({
  read: async (bucket: string, key: string) => {
    expect([bucket, key]).toEqual(['lathe', 'models/ns/m/1/manifest.json']);
    if (manifest instanceof Error) throw manifest;
    return manifest;
  },
});

describe('artifactLacksBackground', () => {
  it.each([
    ['a manifest without background.json', without.manifest, without.digest, true],
    ['a manifest with background.json', withBackground.manifest, withBackground.digest, false],
    [
      'a manifest of another digest (the shard reports it)',
      without.manifest,
      withBackground.digest,
      false,
    ],
    ['no manifest (the shard reports it)', new ObjectNotFoundError('gone'), without.digest, false],
    ['a manifest that is not JSON', Buffer.from('{'), sha256Digest('{'), false],
  ])('%s: %s', async (_, manifest, digest, expected) => {
    expect(await artifactLacksBackground(storeOf(manifest), { uri, digest })).toBe(expected);
  });

  it('throws when the store is unavailable (the reconcile is retried)', async () => {
    await expect(
      artifactLacksBackground(storeOf(new StorageUnavailableError('down')), {
        uri,
        digest: without.digest,
      }),
    ).rejects.toThrow(StorageUnavailableError);
  });
});
