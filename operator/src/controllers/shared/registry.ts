/**
 * Registry rules across the versions of one model: at most one *verified* version is in
 * `production`.
 *
 * Only verified (Ready) production versions compete: a version promoted before its artifact is
 * uploaded, or whose artifact fails verification, never demotes the one serving, and is not
 * archived either (it competes once verified). Among the competitors the newer promotion wins
 * and the others are archived. "Newer" is read from status: a version whose status does not
 * yet record it as production is being promoted now, so it is newer than any whose status
 * does; among those that record it, the later `stageTransitionTime` wins; the higher version
 * number breaks a tie (timestamps have second precision). Every replica and every reconcile
 * computes the same winner from the same objects, so two versions promoted at once settle on
 * one. Pure: the caller passes the verified production versions; the decision comes out.
 */
import type { ModelVersion } from '../../api/modelversion.js';

/** The production version among `versions` (all of one model) that stays in production. */
export function productionWinner<T extends ModelVersion>(versions: readonly T[]): T | undefined {
  const inProduction = versions.filter((mv) => mv.spec.stage === 'production');
  const promotedAt = (mv: ModelVersion) =>
    mv.status?.stage === 'production' && mv.status.stageTransitionTime
      ? Date.parse(mv.status.stageTransitionTime)
      : Number.POSITIVE_INFINITY;
  return [...inProduction].sort(
    (a, b) => promotedAt(b) - promotedAt(a) || b.spec.version - a.spec.version,
  )[0];
}

/** The versions to archive so that only `winner` stays in production. */
export function versionsToArchive<T extends ModelVersion>(versions: readonly T[], winner: T): T[] {
  return versions.filter(
    (mv) => mv.spec.stage === 'production' && mv.metadata?.name !== winner.metadata?.name,
  );
}
