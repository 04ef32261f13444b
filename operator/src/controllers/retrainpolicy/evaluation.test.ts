import { describe, expect, it } from 'vitest';
import type { ModelVersionObject, TrainingJobObject } from '../lathe-kinds.js';
import { evaluationImageOf } from './evaluation.js';

const trainer = 'ghcr.io/lathe-dev/lathe-trainer:0.1.0';
const sklearn = 'ghcr.io/lathe-dev/lathe-trainer-sklearn:0.1.0';

function champion(trainingJob?: {
  name: string;
  uid?: string;
  image?: string;
}): ModelVersionObject {
  return {
    metadata: { name: 'iris-v1', namespace: 'ns' },
    spec: { lineage: trainingJob ? { trainingJob } : {} },
  } as unknown as ModelVersionObject;
}

function run(uid: string, image?: string): TrainingJobObject {
  return {
    metadata: { name: 'job', namespace: 'ns', uid },
    spec: { model: image ? { custom: { image } } : { builtin: { architecture: 'mlp' } } },
  } as unknown as TrainingJobObject;
}

describe('evaluationImageOf: the image that scores a champion', () => {
  it.each([
    [
      'the custom image its lineage records',
      champion({ name: 'job', uid: 'u1', image: sklearn }),
      undefined,
      { image: sklearn, custom: true },
    ],
    [
      'the custom image of its TrainingJob, for a lineage recorded without the image',
      champion({ name: 'job', uid: 'u1' }),
      run('u1', sklearn),
      { image: sklearn, custom: true },
    ],
    [
      "Lathe's trainer for a model of the built-in trainer",
      champion({ name: 'job', uid: 'u1' }),
      run('u1'),
      { image: trainer, custom: false },
    ],
    [
      "Lathe's trainer when a TrainingJob of the same name is another run (other uid)",
      champion({ name: 'job', uid: 'u1' }),
      run('u2', sklearn),
      { image: trainer, custom: false },
    ],
    [
      "Lathe's trainer when the TrainingJob is gone",
      champion({ name: 'job', uid: 'u1' }),
      undefined,
      { image: trainer, custom: false },
    ],
    [
      "Lathe's trainer for a ModelVersion registered by hand (no lineage)",
      champion(),
      run('u1', sklearn),
      { image: trainer, custom: false },
    ],
  ])('%s', (_, model, trainingJob, expected) => {
    expect(evaluationImageOf(model, trainer, () => trainingJob)).toEqual(expected);
  });
});
