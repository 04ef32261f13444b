/**
 * A parsed RetrainPolicy for the RetrainPolicy controller's unit tests: a linear model on a
 * Dataset with the datasetChange trigger, defaults applied by the kind's schema, and whatever a
 * test changes on top. Test support only: nothing that ships imports it.
 */
import { type RetrainPolicy, RetrainPolicySchema } from '../../operator/src/api/retrainpolicy.js';

export interface RetrainPolicyFixture {
  /** Merged over `{ name: 'p', namespace: 'ns' }`. */
  metadata?: Record<string, unknown>;
  /** Merged over the spec (its `template` and `triggers` included, replaced whole). */
  spec?: Record<string, unknown>;
  /** The template's Dataset and model name (default `iris`). */
  dataset?: string;
  model?: string;
  /** The template's own metadata (labels, annotations). */
  templateMetadata?: Record<string, unknown>;
}

export function retrainPolicyFixture(fixture: RetrainPolicyFixture = {}): RetrainPolicy {
  return RetrainPolicySchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'RetrainPolicy',
    metadata: { name: 'p', namespace: 'ns', ...fixture.metadata },
    spec: {
      template: {
        ...(fixture.templateMetadata ? { metadata: fixture.templateMetadata } : {}),
        spec: {
          datasetRef: { name: fixture.dataset ?? 'iris' },
          modelName: fixture.model ?? 'iris',
          model: { builtin: { architecture: 'linear' } },
        },
      },
      triggers: { datasetChange: true },
      ...fixture.spec,
    },
  });
}
