/**
 * Model stages: where a ModelVersion is in its life, and what an InferenceService or a
 * RetrainPolicy can follow or promote to.
 */
import { z } from 'zod';

/** Every stage a ModelVersion can be in. */
export const ModelStageSchema = z
  .enum(['none', 'staging', 'production', 'archived'])
  .describe(
    'Stage of the version: none, staging, production (at most one version per model; the operator demotes the previous one) or archived.',
  );
export type ModelStage = z.infer<typeof ModelStageSchema>;

/** The stages a service can follow or a policy can promote to. */
export const ServingStageSchema = z
  .enum(['staging', 'production'])
  .describe('A stage that is served: staging or production.');
export type ServingStage = z.infer<typeof ServingStageSchema>;
