import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { helmValues, parseArgs } from './cli.js';

describe('npm run images arguments', () => {
  it('builds all eight by default', () => {
    expect(parseArgs([]).only).toEqual([
      'operator',
      'retrain',
      'activator',
      'ingest',
      'server',
      'trainer-sklearn',
      'trainer',
      'trainer-pytorch',
    ]);
  });

  it('takes --only, --push and skopeo destination flags', () => {
    expect(
      parseArgs(['--only', 'server,operator', '--push', 'r.example/x', '--dest-tls-verify=false']),
    ).toEqual({
      only: ['server', 'operator'],
      push: 'r.example/x',
      skopeoFlags: ['--dest-tls-verify=false'],
    });
  });

  it.each([
    [['--only', 'nope'], /--only takes a comma-separated list of operator, retrain/],
    [['--push'], /--push takes a registry/],
    [['--force'], /unknown argument --force/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('the Helm values written after --push', () => {
  it('name the pushed operator by digest and the runtime images by tag, as values.yaml keys them', () => {
    const image = (name: string) => ({
      repository: `r.example/x/lathe-${name}`,
      tag: '0.1.0',
      digest: `sha256:${name}`,
    });
    const values = parse(
      helmValues({
        operator: image('operator'),
        server: image('server'),
        'trainer-sklearn': image('trainer-sklearn'),
      }),
    );
    expect(values).toEqual({
      image: { repository: 'r.example/x/lathe-operator', tag: '0.1.0', digest: 'sha256:operator' },
      runtimeImages: { server: { repository: 'r.example/x/lathe-server', tag: '0.1.0' } },
    });
  });

  it('gives GPU TrainingJobs the CPU trainer, which falls back cleanly, when no GPU build exists', () => {
    const values = parse(
      helmValues({
        trainer: { repository: 'r.example/x/lathe-trainer', tag: '0.1.0', digest: 'sha256:t' },
      }),
    ) as { runtimeImages: Record<string, unknown> };
    expect(values.runtimeImages.trainerGpu).toEqual(values.runtimeImages.trainer);
  });
});
