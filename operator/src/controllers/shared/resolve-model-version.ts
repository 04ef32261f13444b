/**
 * Which ModelVersion an InferenceService serves: a pinned version, or the version in a stage
 * (production by default). Pure: the ModelVersions of the namespace in, a verdict out.
 *
 * Only a Ready (verified) version is served. When a stage holds several Ready versions for a
 * moment (a promotion the ModelVersion controller has not settled yet), the newest promotion
 * wins, by the same rule the registry uses.
 */
import type { ServingStage } from '../../api/stage.js';
import { findCondition, isConditionTrue } from '../../runtime/conditions.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { productionWinner } from './registry.js';

export type Resolution =
  | { ok: true; modelVersion: ModelVersionObject }
  | {
      ok: false;
      /** `UnsupportedModelFormat`: a caller's own verdict (`servableResolution`). */
      reason: 'ModelNotFound' | 'ModelNotReady' | 'UnsupportedModelFormat';
      message: string;
    };

export interface VersionSelector {
  version?: number;
  stage?: ServingStage;
}

export function resolveModelVersion(
  modelVersions: readonly ModelVersionObject[],
  model: string,
  selector: VersionSelector,
): Resolution {
  const ofModel = modelVersions.filter((mv) => mv.spec.modelName === model);
  const notReady = (mv: ModelVersionObject): Resolution => {
    const ready = findCondition(mv.status?.conditions, 'Ready');
    return {
      ok: false,
      reason: 'ModelNotReady',
      message: `ModelVersion ${mv.metadata.name} is not Ready${ready ? ` (${ready.reason}: ${ready.message})` : ''}`,
    };
  };
  if (selector.version !== undefined) {
    const mv = ofModel.find((m) => m.spec.version === selector.version);
    if (!mv) {
      return {
        ok: false,
        reason: 'ModelNotFound',
        message: `No ModelVersion of model ${model} has version ${selector.version}`,
      };
    }
    return isConditionTrue(mv.status?.conditions, 'Ready')
      ? { ok: true, modelVersion: mv }
      : notReady(mv);
  }
  const stage = selector.stage ?? 'production';
  const inStage = ofModel.filter((m) => m.spec.stage === stage);
  if (inStage.length === 0) {
    return {
      ok: false,
      reason: 'ModelNotFound',
      message: `No version of model ${model} is in stage ${stage}`,
    };
  }
  const ready = inStage.filter((m) => isConditionTrue(m.status?.conditions, 'Ready'));
  const winner = productionWinner(
    ready.map((m) => ({ ...m, spec: { ...m.spec, stage: 'production' as const } })),
  );
  const chosen = ready.find((m) => m.metadata.name === winner?.metadata.name);
  return chosen ? { ok: true, modelVersion: chosen } : notReady(inStage[0]!);
}
