/**
 * The steps of an InferenceService besides the autoscaler, each owning one child kind or one
 * concern, as KServe's raw-deployment reconciler splits its sub-reconcilers. Each reads the
 * caches, applies what it owns and returns its part of the status; none writes status.
 *
 * The Deployments step is the one with a decision in it: `rollout.ts` plans, from the resolved
 * versions and the Deployments that exist (with their pods' state), which Deployments to apply
 * and which to delete, so a new version replaces the old one without a moment in which nothing
 * ready serves.
 */
import { controllerReference } from '../../runtime/apply.js';
import { type DeploymentObject, kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import { TerminalError } from '../../runtime/controller.js';
import type { Step } from '../../runtime/steps.js';
import { type InferenceServiceObject, latheKinds } from '../lathe-kinds.js';
import {
  artifactGrantPrefix,
  CredentialRole,
  grants,
  type ObjectStoreAccess,
  rotationRequeue,
} from '../shared/object-store-access.js';
import { type Resolution, resolveModelVersion } from '../shared/resolve-model-version.js';
import {
  desiredAutoscaler,
  desiredDisruptionBudget,
  desiredService,
  desiredServingDeployment,
  ServingLabel,
} from './desired.js';
import { podsOfService, versionsOfModel } from './indexes.js';
import {
  deploymentFailure,
  planRollout,
  podFailure,
  type Role,
  type ServedDeployment,
} from './rollout.js';
import { zeroAnnotations } from './scale-to-zero.js';
import { modelResolvedCondition, rolloutReadiness, type ServingFacts } from './status.js';

type ServingStep = Step<InferenceServiceObject, ServingFacts>;
type Access = ObjectStoreAccess | undefined;

const ownerOf = (isvc: InferenceServiceObject) =>
  controllerReference(isvc, latheKinds.inferenceService.resource);

/** The object store's access, or the terminal error of an operator without one. */
function configuredStore(access: Access): ObjectStoreAccess {
  if (access) return access;
  throw new TerminalError('The operator has no object store configured', {
    reason: 'StorageNotConfigured',
  });
}

/** Storage: the servers read models from the object store; without one nothing can serve. */
export function storageStep(store: Access): ServingStep {
  return {
    name: 'storage',
    async run() {
      configuredStore(store);
      return undefined;
    },
  };
}

/** The artifact formats the inference server runs (`runtime-images/server/model.ts`). */
const SERVABLE_FORMATS: readonly string[] = ['tfjs', 'onnx'];

/**
 * `resolution`, unless it resolved to a version whose artifact the inference server cannot run
 * (`joblib`, `savedmodel`, …): then `UnsupportedModelFormat`, so no Deployment is rolled out for
 * it (the version already serving keeps serving) instead of pods that exit at start.
 */
export function servableResolution(resolution: Resolution): Resolution {
  if (!resolution.ok) return resolution;
  const { metadata, spec } = resolution.modelVersion;
  if (SERVABLE_FORMATS.includes(spec.artifact.format)) return resolution;
  return {
    ok: false,
    reason: 'UnsupportedModelFormat',
    message: `ModelVersion ${metadata.name} is a ${spec.artifact.format} artifact; the inference server runs tfjs and onnx models (export the model to ONNX)`,
  };
}

/** Resolve: the ModelVersions the primary and the canary serve (`ModelResolved`). */
export const resolveStep: ServingStep = {
  name: 'resolve',
  async run(isvc, ctx) {
    const versions = versionsOfModel(isvc, ctx);
    const { model, canary: canarySpec } = isvc.spec;
    const primary = servableResolution(
      resolveModelVersion(versions, model.name, {
        ...(model.version !== undefined ? { version: model.version } : {}),
        ...(model.stage ? { stage: model.stage } : {}),
      }),
    );
    const canary = canarySpec
      ? servableResolution(
          resolveModelVersion(versions, model.name, {
            ...(canarySpec.version !== undefined ? { version: canarySpec.version } : {}),
            ...(canarySpec.stage ? { stage: canarySpec.stage } : {}),
          }),
        )
      : undefined;
    return {
      facts: { primary, ...(canary ? { canary } : {}) },
      conditions: [modelResolvedCondition(isvc, primary, canary)],
    };
  },
};

/**
 * Credentials: the servers' own object-store credentials — read the artifacts of the model's
 * versions (every version, so a pod of the version being replaced can still restart), append
 * to this service's request log — rotated before they expire.
 */
export function credentialsStep(store: Access): ServingStep {
  return {
    name: 'credentials',
    async run(isvc, ctx) {
      const access = configuredStore(store);
      const namespace = isvc.metadata.namespace ?? '';
      const artifacts = versionsOfModel(isvc, ctx)
        .map((mv) => artifactGrantPrefix(mv.spec.artifact.uri, access.store.bucket, namespace))
        .filter((prefix): prefix is string => prefix !== undefined);
      const provided = await access.provide(
        ctx,
        isvc,
        ownerOf(isvc),
        CredentialRole.serving,
        grants.serving(namespace, isvc.metadata.name ?? '', artifacts),
      );
      return rotationRequeue(provided);
    },
  };
}

/**
 * Deployments: one per served version, as `rollout.ts` plans it; a version no longer served is
 * deleted once its successor is available.
 */
export function deploymentsStep(options: { image: string; store: Access }): ServingStep {
  return {
    name: 'deployments',
    async run(isvc, ctx, facts) {
      const { spec } = isvc;
      const pods = podsOfService(isvc, ctx);
      const existing = ctx.childrenOf(kinds.deployment, isvc).map((d) => servedDeployment(d, pods));
      const primary = facts.primary;
      const canary = facts.canary;
      const plan = planRollout({
        primary: primary?.ok
          ? { modelVersion: primary.modelVersion, version: primary.modelVersion.spec.version }
          : undefined,
        canary:
          canary?.ok && spec.canary
            ? {
                modelVersion: canary.modelVersion,
                version: canary.modelVersion.spec.version,
                percent: spec.canary.trafficPercent,
                replicas: spec.canary.replicas,
              }
            : undefined,
        primaryReplicas: facts.scale ? facts.scale.primaryReplicas : spec.replicas.min,
        bounds: { min: spec.replicas.min, max: spec.replicas.max },
        existing,
        unresolvedMessage: primary && !primary.ok ? primary.message : '',
      });
      const owner = ownerOf(isvc);
      for (const planned of plan.apply) {
        await ctx.apply(
          kinds.deployment,
          desiredServingDeployment(isvc, planned, {
            image: options.image,
            store: configuredStore(options.store).store,
            owner,
          }),
        );
      }
      for (const gone of plan.delete) {
        await ctx.delete(kinds.deployment, gone.deployment);
        ctx.log.info(
          { deployment: gone.deployment.metadata?.name },
          'Removed a version no longer served',
        );
      }
      return { facts: { plan, served: existing.filter((d) => !plan.delete.includes(d)) } };
    },
  };
}

/**
 * Service: one in front of every version's pods; traffic follows ready replicas. While the
 * service is at zero (or waking) it selects the activator (`scale-to-zero.ts`).
 */
export const serviceStep: ServingStep = {
  name: 'service',
  async run(isvc, ctx, facts) {
    const zero = facts.zero
      ? { route: facts.zero.route, annotations: zeroAnnotations(facts.zero) }
      : undefined;
    await ctx.apply(kinds.service, desiredService(isvc, ownerOf(isvc), zero));
    return undefined;
  },
};

/** Disruption budget: at most one serving pod evicted at a time. */
export const disruptionBudgetStep: ServingStep = {
  name: 'disruption budget',
  async run(isvc, ctx) {
    await ctx.apply(kinds.podDisruptionBudget, desiredDisruptionBudget(isvc, ownerOf(isvc)));
    return undefined;
  },
};

/**
 * HPA: in `hpa` mode a HorizontalPodAutoscaler on the primary version's Deployment (left as it
 * is while no version resolves); in other modes none.
 */
export const hpaStep: ServingStep = {
  name: 'hpa',
  async run(isvc, ctx, facts) {
    if (isvc.spec.autoscaling?.mode !== 'hpa') {
      await ctx.prune(kinds.horizontalPodAutoscaler, isvc, []);
      return undefined;
    }
    if (facts.primary?.ok) {
      const version = facts.primary.modelVersion.spec.version;
      await ctx.apply(
        kinds.horizontalPodAutoscaler,
        desiredAutoscaler(isvc, version, ownerOf(isvc)),
      );
    }
    return undefined;
  },
};

/** Rollout verdict: whether the version the spec asks for serves (Ready), and if not why. */
export const rolloutVerdictStep: ServingStep = {
  name: 'rollout verdict',
  async run(_isvc, _ctx, facts) {
    if (!facts.primary || !facts.plan) return undefined;
    if (facts.zero?.atZero) {
      return {
        readiness: {
          state: 'ready',
          reason: 'ScaledToZero',
          message: 'Scaled to zero: the activator holds requests while a replica starts',
        },
      };
    }
    return { readiness: rolloutReadiness(facts.primary, facts.plan, facts.served ?? []) };
  },
};

/** A serving Deployment as found, with the failure its pods or its progress show. */
export function servedDeployment(
  d: DeploymentObject,
  pods: readonly PodObject[],
): ServedDeployment {
  const labels = d.metadata?.labels ?? {};
  const version = Number(labels[ServingLabel.version]);
  const own = pods.filter((p) => p.metadata?.labels?.[ServingLabel.version] === String(version));
  const failure = deploymentFailure(d) ?? podFailure(own);
  return {
    deployment: d,
    version,
    role: (labels[ServingLabel.role] === 'canary' ? 'canary' : 'primary') as Role,
    replicas: d.spec?.replicas ?? 1,
    availableReplicas: d.status?.availableReplicas ?? 0,
    readyReplicas: d.status?.readyReplicas ?? 0,
    ...(failure ? { failure } : {}),
  };
}
