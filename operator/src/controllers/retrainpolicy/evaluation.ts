/**
 * The champion's evaluation on the challenger's test split: an owned Job (a trainer image in
 * `evaluate` mode), named after the two ModelVersions so it is started once, read through the
 * pod index when it finished, and deleted by the promotion step once the decision it served is
 * recorded (or by the history step, if a crash came in between).
 *
 * The image is the one that trained the champion: a model from a custom image (scikit-learn,
 * PyTorch, ...) is scored by that image's own `evaluate` mode, as a KServe predictor runs the
 * framework's own runtime, and a TensorFlow.js model by Lathe's trainer. An image without an
 * evaluate mode gives no evaluate result, and the decision names the image and why.
 */

import type { FairnessSummary } from '../../../../contract/fairness/summary.js';
import { datasetVersionPrefix, s3Uri } from '../../../../contract/object-store-layout.js';
import { parseResult } from '../../../../contract/results.js';
import { type JobObject, kinds } from '../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { OwnerReference } from '../../runtime/resource.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../lathe-kinds.js';
import { cachedPodsOfJob, observeJobRun } from '../shared/job-run.js';
import { childName, shortHash } from '../shared/names.js';
import {
  artifactGrantPrefix,
  CredentialRole,
  grants,
  type ObjectStoreAccess,
} from '../shared/object-store-access.js';
import { desiredEvaluationJob } from './desired.js';
import { hasChampionRules } from './fairness-gate.js';

export type Evaluation =
  | { state: 'pending' }
  | {
      state: 'done';
      job: JobObject;
      metrics: Record<string, number>;
      /** The champion's disparities on the split, when the run asked for them. */
      fairness?: FairnessSummary | undefined;
      fairnessError?: string | undefined;
    }
  | { state: 'failed'; job: JobObject | undefined; error: string };

/** The evaluation Job's name for this challenger and champion. */
export function evaluationJobName(
  policy: string,
  challenger: ModelVersionObject,
  champion: ModelVersionObject,
): string {
  return childName(
    policy,
    `eval-${shortHash(challenger.metadata.name ?? '', champion.metadata.name ?? '')}`,
  );
}

/**
 * The image that evaluates `champion`: the custom image its lineage records, else the custom
 * image of the TrainingJob that produced it when that still exists (a ModelVersion recorded
 * before lineage kept the image), else Lathe's trainer `trainerImage`.
 */
export function evaluationImageOf(
  champion: ModelVersionObject,
  trainerImage: string,
  trainingJobOf: (name: string) => TrainingJobObject | undefined,
): { image: string; custom: boolean } {
  const lineage = champion.spec.lineage?.trainingJob;
  if (lineage?.image) return { image: lineage.image, custom: true };
  const run = lineage ? trainingJobOf(lineage.name) : undefined;
  const sameRun = run && (!lineage?.uid || run.metadata.uid === lineage.uid);
  const custom = sameRun ? run.spec.model.custom?.image : undefined;
  return custom ? { image: custom, custom: true } : { image: trainerImage, custom: false };
}

/** Starts the champion's evaluation, or reads how it ended. */
export async function evaluateChampion(
  policy: RetrainPolicyObject,
  challenger: ModelVersionObject,
  champion: ModelVersionObject,
  run: TrainingJobObject,
  ctx: ReconcileContext<RetrainPolicyObject>,
  options: { access: ObjectStoreAccess; owner: OwnerReference; image: string },
): Promise<Evaluation> {
  const namespace = policy.metadata.namespace ?? '';
  const lineage = challenger.spec.lineage?.dataset;
  if (!lineage)
    return {
      state: 'failed',
      job: undefined,
      error: `${challenger.metadata.name} has no dataset lineage`,
    };
  const name = evaluationJobName(policy.metadata.name ?? '', challenger, champion);
  const job = ctx.childrenOf(kinds.job, policy).find((j) => j.metadata?.name === name);
  const config = options.access.store;
  const evaluator = evaluationImageOf(champion, options.image, (trainingJob) =>
    ctx.reader(latheKinds.trainingJob).get(namespace, trainingJob),
  );
  if (!job) {
    const datasetVersion = datasetVersionPrefix(namespace, lineage.name, lineage.version);
    await options.access.provide(
      ctx,
      policy,
      options.owner,
      CredentialRole.evaluation,
      grants.evaluation(
        datasetVersion,
        artifactGrantPrefix(champion.spec.artifact.uri, config.bucket, namespace),
      ),
    );
    await ctx.apply(
      kinds.job,
      desiredEvaluationJob(policy, {
        name,
        champion,
        challenger: challenger.metadata.name ?? '',
        datasetUri: s3Uri(config.bucket, datasetVersion),
        task: run.status?.task ?? 'classification',
        image: evaluator.image,
        store: config,
        owner: options.owner,
        fairness: hasChampionRules(run.spec.fairness) ? run.spec.fairness : undefined,
      }),
    );
    ctx.log.info(
      { job: name, champion: champion.metadata.name, image: evaluator.image },
      'Started the champion evaluation',
    );
    return { state: 'pending' };
  }
  const observed = observeJobRun(job, cachedPodsOfJob(ctx, job));
  if (observed.phase === 'Pending' || observed.phase === 'Running') return { state: 'pending' };
  const result = parseResult('evaluate', observed.terminationMessage);
  if (result?.outcome === 'succeeded') {
    return {
      state: 'done',
      job,
      metrics: result.metrics,
      fairness: result.fairness,
      fairnessError: result.fairnessError,
    };
  }
  const image = job.spec?.template.spec?.containers[0]?.image ?? evaluator.image;
  const why =
    result?.outcome === 'failed'
      ? `${result.reason}: ${result.message}`
      : evaluator.custom
        ? `the image ${image} that trained it gave no evaluate result: it has no evaluate mode (args [evaluate], docs/trainer.md)${observed.phase === 'Failed' && observed.message ? ` (${observed.message})` : ''}`
        : observed.phase === 'Failed'
          ? observed.message
          : 'no result';
  return {
    state: 'failed',
    job,
    error: `the evaluation of ${champion.metadata.name} on dataset version ${lineage.version} failed: ${why}`,
  };
}
