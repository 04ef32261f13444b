/**
 * The RetrainPolicy controller: keeps the schedule trigger's CronJob (and the ServiceAccount,
 * Role and RoleBinding its pod runs under), starts the runs the other triggers call for — a new
 * version of the Dataset (once per version, across restarts: the version acted on is recorded
 * and the run is named after it), drift of the served inputs past the threshold (measured every
 * check interval and shown on the InferenceService), the `lathe.dev/run-now` annotation —
 * within the guards (suspend, concurrency policy, cooldown), prunes the runs' history, and
 * decides champion against challenger for every run that produced a ModelVersion.
 *
 * A decision is recorded on the challenger ModelVersion (annotation `lathe.dev/promotion`, with
 * the promotion itself in the same patch), so it is made once and the policy's status is
 * rebuilt from it.
 */

import { type DatasetStats, DatasetStatsSchema } from '../../../../contract/dataset-stats.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import {
  DatasetFile,
  datasetVersionPrefix,
  s3Uri,
} from '../../../../contract/object-store-layout.js';
import { parseResult } from '../../../../contract/results.js';
import { durationMs } from '../../api/duration.js';
import type { OperatorConfig } from '../../config.js';
import { controllerReference } from '../../runtime/apply.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { isConditionTrue, timestamp } from '../../runtime/conditions.js';
import {
  defineController,
  done,
  owns,
  type ReconcileContext,
  type Result,
  requeueAfter,
  TerminalError,
  watches,
  watchesPodsOf,
} from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { isAlreadyExists } from '../../runtime/kube-client.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../lathe-kinds.js';
import { observeJobRun, podsOfJob } from '../shared/job-run.js';
import { childName, shortHash } from '../shared/names.js';
import {
  desiredObjectStoreSecret,
  type ObjectStoreConfig,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { resolveModelVersion } from '../shared/resolve-model-version.js';
import { liveAccuracy, parseFeedbackCounts } from './accuracy.js';
import {
  desiredCronJob,
  desiredEvaluationJob,
  desiredRun,
  POLICY_LABEL,
  RUN_NOW_ANNOTATION,
  runName,
  type Trigger,
  triggerIdentity,
} from './desired.js';
import { measureDrift } from './drift.js';
import { decidePromotion } from './promotion.js';
import { sampledRecords } from './samples.js';
import {
  isFinished,
  type PolicyObservation,
  type PromotionRecord,
  retrainPolicyStatus,
} from './status.js';

/** The annotation on a challenger ModelVersion recording the decision about it (JSON). */
export const PROMOTION_ANNOTATION = 'lathe.dev/promotion';
/** Fewer sampled rows than this and drift is not judged. */
export const MIN_DRIFT_SAMPLES = 30;

export interface RetrainPolicyControllerOptions {
  store: ObjectStore | undefined;
  storeConfig: OperatorConfig['objectStore'];
  retrainImage: string;
  trainerImage: string;
}

interface DueRun {
  name: string;
  trigger: Exclude<Trigger, 'schedule'>;
  datasetVersion?: string;
  record: (markers: Markers) => void;
}

interface Markers {
  lastDatasetVersion: string | undefined;
  lastManualRun: string | undefined;
  lastDrift: PolicyObservation['lastDrift'];
  lastAccuracy: PolicyObservation['lastAccuracy'];
}

export function retrainPolicyController(options: RetrainPolicyControllerOptions) {
  const { store, storeConfig } = options;
  /** Training statistics by object-store key (immutable: a version's files never change). */
  const statsCache = new ExpiringMap<string, DatasetStats>({ maxEntries: 100 });
  /**
   * Each policy's last reading of its service's live accuracy, which the informer's copy of the
   * status may not show yet (it does within seconds: an hour is plenty).
   */
  const accuracyChecks = new ExpiringMap<
    string,
    { at: number; reading: PolicyObservation['lastAccuracy'] }
  >({ maxEntries: 10_000, maxAgeMs: 60 * 60_000 });

  return defineController<RetrainPolicyObject>({
    name: 'retrainpolicy',
    for: latheKinds.retrainPolicy,
    owns: [
      owns(kinds.cronJob, { deletes: true }),
      owns(kinds.serviceAccount, { deletes: true }),
      owns(kinds.role, { deletes: true }),
      owns(kinds.roleBinding, { deletes: true }),
      owns(latheKinds.trainingJob, { deletes: true }),
      owns(kinds.job, { deletes: true }),
    ],
    watches: [
      watchesPodsOf('RetrainPolicy'),
      watches(latheKinds.dataset, (ds, caches) =>
        caches
          .reader(latheKinds.retrainPolicy)
          .list(ds.metadata?.namespace)
          .filter((p) => p.spec.template.spec.datasetRef.name === ds.metadata?.name)
          .map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name ?? '' })),
      ),
      // A challenger that becomes verified: the policy that owns its TrainingJob decides.
      watches(latheKinds.modelVersion, (mv, caches) => {
        const tj = mv.spec.lineage?.trainingJob?.name;
        const owner = tj
          ? caches.reader(latheKinds.trainingJob).get(mv.metadata?.namespace ?? '', tj)?.metadata
              .labels?.[POLICY_LABEL]
          : undefined;
        return owner ? [{ namespace: mv.metadata?.namespace ?? '', name: owner }] : [];
      }),
      // The service a drift or accuracy trigger reads: a policy blocked until it serves a
      // version (NoReference, InferenceServiceNotReady) looks again as soon as it does.
      watches(latheKinds.inferenceService, (isvc, caches) =>
        caches
          .reader(latheKinds.retrainPolicy)
          .list(isvc.metadata?.namespace)
          .filter((p) =>
            [p.spec.triggers.drift, p.spec.triggers.accuracy].some(
              (t) => t?.inferenceServiceRef.name === isvc.metadata?.name,
            ),
          )
          .map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name ?? '' })),
      ),
    ],
    permissions: [
      ...objectStoreSecretPermissions,
      // Promoting a challenger and recording the decision on it: one merge patch.
      { apiGroups: ['lathe.dev'], resources: ['modelversions'], verbs: ['patch'] },
      // The drift measured is shown on the InferenceService (its own field, own field manager).
      { apiGroups: ['lathe.dev'], resources: ['inferenceservices/status'], verbs: ['patch'] },
    ],
    async reconcile(policy, ctx) {
      const namespace = policy.metadata.namespace ?? '';
      const name = policy.metadata.name ?? '';
      const owner = controllerReference(policy, latheKinds.retrainPolicy.resource);
      const spec = policy.spec;
      const now = ctx.now();
      const requeues: number[] = [];

      // The schedule trigger's CronJob and identity.
      if (spec.triggers.schedule) {
        const identity = triggerIdentity(policy, owner);
        await ctx.apply(kinds.serviceAccount, identity.serviceAccount);
        await ctx.apply(kinds.role, identity.role);
        await ctx.apply(kinds.roleBinding, identity.roleBinding);
        await ctx.apply(
          kinds.cronJob,
          desiredCronJob(policy, { image: options.retrainImage, owner }),
        );
      } else {
        for (const kind of [kinds.cronJob, kinds.roleBinding, kinds.role, kinds.serviceAccount]) {
          await ctx.prune(kind, policy, []);
        }
      }

      // Runs, and the concurrency policy over them.
      let runs = ctx.childrenOf(latheKinds.trainingJob, policy);
      const activeRuns = () => byCreation(runs.filter((tj) => !isFinished(tj)));
      if (activeRuns().length > 1 && spec.concurrencyPolicy !== 'Allow') {
        // Replace keeps the newest; Forbid keeps the one that was first (a schedule raced).
        const all = activeRuns();
        const extra = spec.concurrencyPolicy === 'Replace' ? all.slice(0, -1) : all.slice(1);
        for (const tj of extra) {
          await ctx.delete(latheKinds.trainingJob, tj);
          ctx.log.info(
            { run: tj.metadata.name, policy: spec.concurrencyPolicy },
            'Deleted a run the concurrency policy does not allow',
          );
        }
        runs = runs.filter((tj) => !extra.includes(tj));
      }

      // The other triggers.
      const markers: Markers = {
        lastDatasetVersion: policy.status?.lastDatasetVersion,
        lastManualRun: policy.status?.lastManualRun,
        lastDrift: policy.status?.lastDrift,
        lastAccuracy: policy.status?.lastAccuracy,
      };
      let blocked: PolicyObservation['blocked'];
      let deferred: string | undefined;
      const due: DueRun[] = [];
      if (spec.triggers.datasetChange) {
        const ds = ctx
          .reader(latheKinds.dataset)
          .get(namespace, spec.template.spec.datasetRef.name);
        const version =
          ds && isConditionTrue(ds.status?.conditions, 'Ready')
            ? ds.status?.currentVersion
            : undefined;
        if (!ds) {
          blocked = {
            reason: 'DatasetNotFound',
            message: `Dataset ${spec.template.spec.datasetRef.name} does not exist`,
          };
        } else if (version && markers.lastDatasetVersion === undefined) {
          // The version found when the policy starts watching is the baseline, not a change.
          markers.lastDatasetVersion = version;
        } else if (version && version !== markers.lastDatasetVersion) {
          due.push({
            name: runName(name, 'datasetChange', version),
            trigger: 'datasetChange',
            datasetVersion: version,
            record: (m) => {
              m.lastDatasetVersion = version;
            },
          });
        }
      }
      const request = policy.metadata.annotations?.[RUN_NOW_ANNOTATION];
      if (request && request !== markers.lastManualRun) {
        due.push({
          name: runName(name, 'manual', request),
          trigger: 'manual',
          record: (m) => {
            m.lastManualRun = request;
          },
        });
      }
      const drift = spec.triggers.drift;
      if (drift && store && storeConfig && !spec.suspend) {
        const checkMs = durationMs(drift.checkInterval);
        const lastCheck = Date.parse(markers.lastDrift?.time ?? '') || 0;
        if (now.getTime() - lastCheck >= checkMs) {
          const measured = await measureServedDrift(policy, ctx, store, storeConfig, checkMs);
          if ('blocked' in measured) blocked = measured.blocked;
          else markers.lastDrift = measured.drift;
        }
        requeues.push(
          Math.max(
            1_000,
            (Date.parse(markers.lastDrift?.time ?? '') || now.getTime()) + checkMs - now.getTime(),
          ),
        );
        const last = markers.lastDrift;
        if (last && last.value > drift.threshold && (last.samples ?? 0) >= MIN_DRIFT_SAMPLES) {
          const driftRun = runName(name, 'drift', last.time);
          if (
            !runs.some((tj) => tj.metadata.name === driftRun) &&
            policy.status?.lastTrainingJob?.name !== driftRun
          ) {
            due.push({ name: driftRun, trigger: 'drift', record: () => undefined });
          }
        }
      }

      const accuracy = spec.triggers.accuracy;
      if (accuracy && !spec.suspend) {
        const checkMs = durationMs(accuracy.checkInterval);
        const key = `${namespace}/${name}`;
        const readAt = (r: PolicyObservation['lastAccuracy']) => Date.parse(r?.time ?? '') || 0;
        const remembered = accuracyChecks.get(key);
        if (remembered && readAt(remembered.reading) > readAt(markers.lastAccuracy)) {
          markers.lastAccuracy = remembered.reading;
        }
        let lastCheck = remembered?.at ?? readAt(markers.lastAccuracy);
        if (now.getTime() - lastCheck >= checkMs) {
          const measured = await readLiveAccuracy(policy, ctx);
          if ('blocked' in measured) blocked = measured.blocked;
          else if (measured.accuracy) {
            markers.lastAccuracy = measured.accuracy;
            lastCheck = now.getTime();
            accuracyChecks.set(key, { at: lastCheck, reading: measured.accuracy });
          }
        }
        // Until a reading finds labelled rows, look again soon; after, at the check interval.
        const untilNext = lastCheck + checkMs - now.getTime();
        requeues.push(untilNext > 0 ? Math.max(1_000, untilNext) : 5_000);
        const last = markers.lastAccuracy;
        if (last && last.samples >= accuracy.minSamples && last.value < accuracy.minimum) {
          const accuracyRun = runName(name, 'accuracy', last.time);
          if (
            !runs.some((tj) => tj.metadata.name === accuracyRun) &&
            policy.status?.lastTrainingJob?.name !== accuracyRun
          ) {
            due.push({ name: accuracyRun, trigger: 'accuracy', record: () => undefined });
          }
        }
      }

      // The guards, then at most one new run per reconcile.
      const next = spec.suspend ? undefined : due[0];
      if (next) {
        const lastRun = Math.max(
          0,
          ...runs.map((tj) => Date.parse(tj.metadata.creationTimestamp ?? '') || 0),
        );
        const cooldownEnds = spec.cooldown ? lastRun + durationMs(spec.cooldown) : 0;
        const active = activeRuns();
        if (cooldownEnds > now.getTime()) {
          deferred = `a ${next.trigger} run waits for the cooldown until ${timestamp(new Date(cooldownEnds))}`;
          requeues.push(cooldownEnds - now.getTime());
        } else if (spec.concurrencyPolicy === 'Forbid' && active.length > 0) {
          deferred = `a ${next.trigger} run waits for ${active.map((tj) => tj.metadata.name).join(', ')} to finish`;
        } else {
          if (spec.concurrencyPolicy === 'Replace') {
            for (const tj of active) await ctx.delete(latheKinds.trainingJob, tj);
          }
          const created = await startRun(policy, next, owner, ctx);
          next.record(markers);
          if (created) runs = [...runs, created];
          await ctx.events.record(
            policy,
            'Normal',
            'RunStarted',
            'Retrain',
            `Started TrainingJob ${next.name} (${next.trigger}${next.datasetVersion ? `, dataset version ${next.datasetVersion}` : ''})`,
          );
          if (due.length > 1) requeues.push(1_000);
        }
      }

      // Champion against challenger.
      if (spec.promotion && store && storeConfig) {
        for (const run of byCreation(runs).reverse()) {
          if (run.status?.phase !== 'Succeeded' || !run.status.modelVersion) continue;
          await decideFor(policy, run, ctx, storeConfig, owner);
        }
      }

      await pruneHistory(policy, runs, ctx);

      const lastPromotion = newestDecision(
        ctx.reader(latheKinds.modelVersion).list(namespace),
        name,
      );
      const status = retrainPolicyStatus(
        policy,
        {
          runs,
          lastPromotion,
          lastDrift: markers.lastDrift,
          lastAccuracy: markers.lastAccuracy,
          lastDatasetVersion: markers.lastDatasetVersion,
          lastManualRun: markers.lastManualRun,
          blocked,
          deferred,
        },
        now,
      );
      await ctx.patchStatus(policy, status);
      // Refresh nextRunTime once it passes, even if that run starts nothing (Forbid, a missed
      // deadline): at most an hour ahead, well within a timer's range.
      if (status.nextRunTime) {
        requeues.push(
          Math.min(
            60 * 60_000,
            Math.max(1_000, Date.parse(status.nextRunTime) - now.getTime() + 1_000),
          ),
        );
      }
      const wait = requeues.length > 0 ? Math.min(...requeues) : undefined;
      return wait === undefined ? done() : (requeueAfter(wait) as Result);
    },
  });

  /** Measures drift of the served inputs against the served model's training data. */
  async function measureServedDrift(
    policy: RetrainPolicyObject,
    ctx: ReconcileContext<RetrainPolicyObject>,
    objectStore: ObjectStore,
    config: ObjectStoreConfig,
    windowMs: number,
  ): Promise<
    | { drift: NonNullable<PolicyObservation['lastDrift']> }
    | { blocked: NonNullable<PolicyObservation['blocked']> }
  > {
    const drift = policy.spec.triggers.drift!;
    const namespace = policy.metadata.namespace ?? '';
    const isvc = ctx
      .reader(latheKinds.inferenceService)
      .get(namespace, drift.inferenceServiceRef.name);
    if (!isvc) {
      return {
        blocked: {
          reason: 'InferenceServiceNotFound',
          message: `InferenceService ${drift.inferenceServiceRef.name} does not exist`,
        },
      };
    }
    const primary = isvc.status?.servedVersions?.find((v) => v.role === 'primary');
    const mv = primary
      ? ctx.reader(latheKinds.modelVersion).get(namespace, primary.modelVersion)
      : undefined;
    const lineage = mv?.spec.lineage?.dataset;
    if (!mv || !lineage) {
      return {
        blocked: {
          reason: 'NoReference',
          message: `InferenceService ${drift.inferenceServiceRef.name} serves no ModelVersion with dataset lineage to compare against`,
        },
      };
    }
    const statsKey = `${datasetVersionPrefix(namespace, lineage.name, lineage.version)}${DatasetFile.stats}`;
    let stats = statsCache.get(statsKey);
    if (!stats) {
      try {
        stats = DatasetStatsSchema.parse(
          JSON.parse((await objectStore.read(config.bucket, statsKey)).toString('utf8')),
        );
        statsCache.set(statsKey, stats);
      } catch (error) {
        if (!(error instanceof ObjectNotFoundError)) throw error;
        return {
          blocked: {
            reason: 'NoReference',
            message: `The training statistics s3://${config.bucket}/${statsKey} do not exist`,
          },
        };
      }
    }
    const now = ctx.now();
    const records = await sampledRecords(
      objectStore,
      config.bucket,
      namespace,
      isvc.metadata.name ?? '',
      new Date(now.getTime() - windowMs),
      now,
    );
    const report = measureDrift(stats.distributions, records, drift.metric);
    const measured = {
      time: timestamp(now),
      value: Math.round(report.value * 1e4) / 1e4,
      ...(report.feature ? { feature: report.feature } : {}),
      samples: report.samples,
      modelVersion: mv.metadata.name ?? '',
    };
    await ctx.client.patch(
      latheKinds.inferenceService.resource,
      namespace,
      isvc.metadata.name ?? '',
      'apply',
      {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: isvc.metadata.name, namespace },
        status: {
          drift: {
            time: measured.time,
            metric: drift.metric,
            value: measured.value,
            ...(report.feature ? { feature: report.feature } : {}),
            samples: report.samples,
            retrainPolicy: policy.metadata.name,
          },
        },
      },
      { fieldManager: ctx.fieldManager, force: true, subresource: 'status' },
    );
    ctx.log.info({ drift: measured }, 'Measured drift of the served inputs');
    return { drift: measured };
  }

  /** Reads the live accuracy of the served version from its ready pods' feedback counters. */
  async function readLiveAccuracy(
    policy: RetrainPolicyObject,
    ctx: ReconcileContext<RetrainPolicyObject>,
  ): Promise<
    | { accuracy: PolicyObservation['lastAccuracy'] }
    | { blocked: NonNullable<PolicyObservation['blocked']> }
  > {
    const trigger = policy.spec.triggers.accuracy!;
    const namespace = policy.metadata.namespace ?? '';
    const service = trigger.inferenceServiceRef.name;
    const isvc = ctx.reader(latheKinds.inferenceService).get(namespace, service);
    const primary = isvc?.status?.servedVersions?.find((v) => v.role === 'primary');
    if (!isvc || !primary) {
      return {
        blocked: {
          reason: 'InferenceServiceNotReady',
          message: `InferenceService ${service} serves no version yet`,
        },
      };
    }
    const pods = ctx
      .reader(kinds.pod)
      .list(namespace)
      .filter(
        (p) =>
          p.metadata?.labels?.['lathe.dev/inferenceservice'] === service &&
          p.metadata?.labels?.['lathe.dev/model-version'] === String(primary.version) &&
          p.status?.podIP &&
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
    const counts = await Promise.all(
      pods.map(async (p) => {
        try {
          const response = await fetch(`http://${p.status?.podIP}:8080/metrics`, {
            signal: AbortSignal.timeout(2_000),
          });
          return parseFeedbackCounts(await response.text());
        } catch (error) {
          ctx.log.debug(
            { err: error, pod: p.metadata?.name },
            'Could not read the feedback of a pod',
          );
          return { correct: 0, incorrect: 0 };
        }
      }),
    );
    const live = liveAccuracy(counts);
    return {
      accuracy: live
        ? {
            time: timestamp(ctx.now()),
            value: Math.round(live.value * 1e4) / 1e4,
            samples: live.samples,
            modelVersion: primary.modelVersion,
          }
        : undefined,
    };
  }

  /** Decides about the ModelVersion `run` produced, once; evaluates the champion if needed. */
  async function decideFor(
    policy: RetrainPolicyObject,
    run: TrainingJobObject,
    ctx: ReconcileContext<RetrainPolicyObject>,
    config: ObjectStoreConfig,
    owner: ReturnType<typeof controllerReference>,
  ): Promise<void> {
    const namespace = policy.metadata.namespace ?? '';
    const rule = policy.spec.promotion!;
    const mvs = ctx.reader(latheKinds.modelVersion).list(namespace);
    const challenger = mvs.find((m) => m.metadata.name === run.status?.modelVersion?.name);
    if (!challenger || challenger.metadata.annotations?.[PROMOTION_ANNOTATION]) return;
    if (!isConditionTrue(challenger.status?.conditions, 'Ready')) return;
    const resolved = resolveModelVersion(
      mvs.filter((m) => m.metadata.name !== challenger.metadata.name),
      challenger.spec.modelName,
      { stage: rule.targetStage },
    );
    const champion = resolved.ok ? resolved.modelVersion : undefined;
    const challengerValue = challenger.spec.metrics?.[rule.metric];
    const datasetVersion = challenger.spec.lineage?.dataset.version;
    let championValue: number | undefined;
    let problem: string | undefined;
    if (challengerValue === undefined) {
      problem = `${challenger.metadata.name} has no metric ${rule.metric}`;
    } else if (champion) {
      const sameSplit =
        champion.spec.lineage?.dataset.name === challenger.spec.lineage?.dataset.name &&
        champion.spec.lineage?.dataset.version === datasetVersion;
      if (sameSplit && champion.spec.metrics?.[rule.metric] !== undefined) {
        championValue = champion.spec.metrics[rule.metric];
      } else {
        const evaluated = await evaluateChampion(policy, challenger, champion, run, ctx, {
          config,
          owner,
          image: options.trainerImage,
        });
        if (evaluated === 'pending') return;
        if ('error' in evaluated) problem = evaluated.error;
        else {
          championValue = evaluated.metrics[rule.metric];
          if (championValue === undefined)
            problem = `the evaluation of ${champion.metadata.name} has no metric ${rule.metric}`;
        }
      }
    }
    const decision =
      problem !== undefined
        ? { decision: 'Rejected' as const, reason: `not compared: ${problem}` }
        : decidePromotion(
            rule,
            { modelVersion: challenger.metadata.name ?? '', value: challengerValue! },
            champion && championValue !== undefined
              ? { modelVersion: champion.metadata.name ?? '', value: championValue }
              : undefined,
            rule.targetStage,
          );
    const record: PromotionRecord = {
      time: timestamp(ctx.now()),
      decision: decision.decision,
      metric: rule.metric,
      challenger: {
        modelVersion: challenger.metadata.name ?? '',
        value: challengerValue ?? Number.NaN,
      },
      ...(champion && championValue !== undefined
        ? { champion: { modelVersion: champion.metadata.name ?? '', value: championValue } }
        : {}),
      reason: decision.reason,
      ...(datasetVersion ? { datasetVersion } : {}),
      policy: policy.metadata.name ?? '',
    };
    if (!Number.isFinite(record.challenger.value)) record.challenger.value = 0;
    await ctx.client.patch(
      latheKinds.modelVersion.resource,
      namespace,
      challenger.metadata.name ?? '',
      'merge',
      {
        metadata: {
          resourceVersion: challenger.metadata.resourceVersion,
          annotations: { [PROMOTION_ANNOTATION]: JSON.stringify(record) },
        },
        ...(decision.decision === 'Promoted' ? { spec: { stage: rule.targetStage } } : {}),
      },
      { fieldManager: ctx.fieldManager },
    );
    const note = `${decision.decision} ${challenger.metadata.name}${champion ? ` over ${champion.metadata.name}` : ''}: ${decision.reason}`;
    ctx.log.info({ decision: record }, 'Decided champion against challenger');
    await ctx.events.record(
      policy,
      decision.decision === 'Promoted' ? 'Normal' : 'Warning',
      decision.decision,
      'Promote',
      note,
    );
  }
}

/** Runs the champion's evaluation on the challenger's split; `pending` until it finished. */
async function evaluateChampion(
  policy: RetrainPolicyObject,
  challenger: ModelVersionObject,
  champion: ModelVersionObject,
  run: TrainingJobObject,
  ctx: ReconcileContext<RetrainPolicyObject>,
  {
    config,
    owner,
    image,
  }: { config: ObjectStoreConfig; owner: ReturnType<typeof controllerReference>; image: string },
): Promise<'pending' | { metrics: Record<string, number> } | { error: string }> {
  const namespace = policy.metadata.namespace ?? '';
  const lineage = challenger.spec.lineage?.dataset;
  if (!lineage) return { error: `${challenger.metadata.name} has no dataset lineage` };
  const name = childName(
    policy.metadata.name ?? '',
    `eval-${shortHash(challenger.metadata.name ?? '', champion.metadata.name ?? '')}`,
  );
  const job = ctx.childrenOf(kinds.job, policy).find((j) => j.metadata?.name === name);
  if (!job) {
    await ctx.apply(kinds.secret, desiredObjectStoreSecret(namespace, config));
    await ctx.apply(
      kinds.job,
      desiredEvaluationJob(policy, {
        name,
        champion,
        datasetUri: s3Uri(
          config.bucket,
          datasetVersionPrefix(namespace, lineage.name, lineage.version),
        ),
        task: run.status?.task ?? 'classification',
        image,
        store: config,
        owner,
      }),
    );
    ctx.log.info(
      { job: name, champion: champion.metadata.name },
      'Started the champion evaluation',
    );
    return 'pending';
  }
  const pods = ctx.reader(kinds.pod).list(namespace);
  const observed = observeJobRun(job, podsOfJob(job, pods));
  if (observed.phase === 'Pending' || observed.phase === 'Running') return 'pending';
  const result = parseResult('evaluate', observed.terminationMessage);
  await ctx.delete(kinds.job, job);
  if (result?.outcome === 'succeeded') return { metrics: result.metrics };
  return {
    error: `the evaluation of ${champion.metadata.name} on dataset version ${lineage.version} failed: ${result?.outcome === 'failed' ? `${result.reason}: ${result.message}` : observed.phase === 'Failed' ? observed.message : 'no result'}`,
  };
}

async function startRun(
  policy: RetrainPolicyObject,
  run: DueRun,
  owner: ReturnType<typeof controllerReference>,
  ctx: ReconcileContext<RetrainPolicyObject>,
): Promise<TrainingJobObject | undefined> {
  const body = desiredRun(
    policy,
    {
      name: run.name,
      trigger: run.trigger,
      ...(run.datasetVersion ? { datasetVersion: run.datasetVersion } : {}),
    },
    owner,
  );
  try {
    return await ctx.client.create<TrainingJobObject>(
      latheKinds.trainingJob.resource,
      body as TrainingJobObject,
    );
  } catch (error) {
    // Created by an earlier reconcile that did not get to record it: the same run.
    if (isAlreadyExists(error)) return undefined;
    if ((error as { statusCode?: number }).statusCode === 422) {
      throw new TerminalError(
        `spec.template is not a valid TrainingJob: ${(error as Error).message}`,
        {
          cause: error,
          reason: 'InvalidTemplate',
        },
      );
    }
    throw error;
  }
}

/** Deletes finished runs beyond the history limits; a run whose decision is pending stays. */
async function pruneHistory(
  policy: RetrainPolicyObject,
  runs: readonly TrainingJobObject[],
  ctx: ReconcileContext<RetrainPolicyObject>,
): Promise<void> {
  const finished = byCreation(runs.filter(isFinished)).reverse();
  const mvs = ctx.reader(latheKinds.modelVersion).list(policy.metadata.namespace);
  const undecided = (tj: TrainingJobObject) => {
    if (!policy.spec.promotion || !tj.status?.modelVersion) return false;
    const mv = mvs.find((m) => m.metadata.name === tj.status?.modelVersion?.name);
    return mv !== undefined && !mv.metadata.annotations?.[PROMOTION_ANNOTATION];
  };
  const succeeded = finished.filter((tj) => tj.status?.phase === 'Succeeded');
  const failed = finished.filter((tj) => tj.status?.phase === 'Failed');
  const excess = [
    ...succeeded.slice(policy.spec.successfulRunsHistoryLimit),
    ...failed.slice(policy.spec.failedRunsHistoryLimit),
  ].filter((tj) => !undecided(tj));
  for (const tj of excess) await ctx.delete(latheKinds.trainingJob, tj);
}

/** The newest decision `policy` recorded on a ModelVersion. */
function newestDecision(
  mvs: readonly ModelVersionObject[],
  policy: string,
): PromotionRecord | undefined {
  let newest: PromotionRecord | undefined;
  for (const mv of mvs) {
    const raw = mv.metadata.annotations?.[PROMOTION_ANNOTATION];
    if (!raw) continue;
    try {
      const record = JSON.parse(raw) as PromotionRecord;
      if (record.policy === policy && (!newest || record.time > newest.time)) newest = record;
    } catch {
      // Not ours to judge: an annotation someone edited by hand.
    }
  }
  return newest;
}

function byCreation(runs: readonly TrainingJobObject[]): TrainingJobObject[] {
  return [...runs].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
}
