import { describe, expect, it } from 'vitest';
import {
  MAX_TERMINATION_MESSAGE_BYTES,
  parseResult,
  type TrainResult,
  terminationMessage,
} from './results.js';

describe('termination messages', () => {
  it('round-trips a result', () => {
    const result: TrainResult = {
      kind: 'train',
      outcome: 'succeeded',
      artifact: {
        uri: 's3://lathe/runs/ns/j/artifact/',
        digest: `sha256:${'a'.repeat(64)}`,
        format: 'tfjs',
      },
      metrics: { accuracy: 0.96 },
      backend: 'tensorflow',
      epochs: 12,
    };
    expect(parseResult('train', terminationMessage(result))).toEqual(result);
  });

  it('shortens a long failure message to fit the kubelet limit', () => {
    const text = terminationMessage({
      kind: 'ingest',
      outcome: 'failed',
      reason: 'QueryFailed',
      message: 'x'.repeat(10_000),
    });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_TERMINATION_MESSAGE_BYTES);
    expect(parseResult('ingest', text)).toMatchObject({ outcome: 'failed', reason: 'QueryFailed' });
  });

  it.each([
    undefined,
    '',
    'Error: boom',
    '{"kind":"train"}',
    '{"kind":"ingest","outcome":"succeeded"}',
  ])('ignores %j, which is no result', (message) => {
    expect(parseResult('ingest', message)).toBeUndefined();
  });

  it("round-trips the inference server's failure", () => {
    const text = terminationMessage({
      kind: 'serve',
      outcome: 'failed',
      reason: 'ArtifactInvalid',
      message: 'The artifact cannot be served (DigestMismatch): manifest.json has digest sha256:…',
    });
    expect(parseResult('serve', text)).toMatchObject({ kind: 'serve', reason: 'ArtifactInvalid' });
    expect(parseResult('train', text)).toBeUndefined();
  });
});
