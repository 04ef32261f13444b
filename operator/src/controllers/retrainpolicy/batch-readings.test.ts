import { describe, expect, it } from 'vitest';
import type { BatchPredictionObject } from '../lathe-kinds.js';
import { newestBatchEvidence } from './batch-readings.js';

const bp = (
  name: string,
  phase: string,
  modelVersion: string,
  completionTime?: string,
  manifest = true,
): BatchPredictionObject =>
  ({
    metadata: { name },
    status: {
      phase,
      model: { modelVersion, digest: 'd' },
      ...(completionTime ? { completionTime } : {}),
      output: { uri: 's3://b/x/', ...(manifest ? { manifest: 's3://b/x/manifest.json' } : {}) },
    },
  }) as unknown as BatchPredictionObject;

describe('newestBatchEvidence', () => {
  it.each([
    {
      name: 'the newest Succeeded run of the version',
      batches: [
        bp('old', 'Succeeded', 'iris-v3', '2026-01-01T00:00:00Z'),
        bp('new', 'Succeeded', 'iris-v3', '2026-01-02T00:00:00Z'),
        bp('running', 'Running', 'iris-v3'),
      ],
      want: 'new',
    },
    {
      name: 'not a run of another version, however new',
      batches: [
        bp('mine', 'Succeeded', 'iris-v3', '2026-01-01T00:00:00Z'),
        bp('other', 'Succeeded', 'iris-v4', '2026-01-09T00:00:00Z'),
      ],
      want: 'mine',
    },
    {
      name: 'none when only a failed run or one without a manifest scored it',
      batches: [
        bp('failed', 'Failed', 'iris-v3', '2026-01-01T00:00:00Z'),
        bp('nomanifest', 'Succeeded', 'iris-v3', '2026-01-01T00:00:00Z', false),
      ],
      want: undefined,
    },
  ])('$name', ({ batches, want }) => {
    expect(newestBatchEvidence(batches, 'iris-v3')?.metadata.name).toBe(want);
  });
});
