/**
 * Where the pods of a TrainingJob (or a RetrainPolicy's TrainingJobs) may run: node selector,
 * tolerations, affinity and priority class, passed through to the pod spec.
 *
 * Tolerations are typed because they are small and a typo there silently schedules nothing.
 * Affinity is deliberately opaque (`x-kubernetes-preserve-unknown-fields`): its schema is
 * large, it is copied verbatim into the pod spec, and the API server validates it fully when
 * the operator creates the Job, whose error is then reported in the TrainingJob's conditions.
 */
import { z } from 'zod';
import { dnsSubdomain, stringMap } from './common.js';

const TolerationSchema = z
  .object({
    key: z
      .string()
      .max(316)
      .describe(
        'Taint key the toleration applies to; empty with operator Exists matches all taints.',
      )
      .optional(),
    operator: z
      .enum(['Exists', 'Equal'])
      .describe('Exists matches any value; Equal matches value. Defaults to Equal.')
      .optional(),
    value: z.string().max(63).describe('Taint value the toleration matches.').optional(),
    effect: z
      .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
      .describe('Taint effect to match; empty matches all effects.')
      .optional(),
    tolerationSeconds: z
      .number()
      .int()
      .describe('For NoExecute: how long the pod stays bound after the taint appears.')
      .optional(),
  })
  .describe('A toleration, as in a Pod spec.');

/** Scheduling constraints for the pods Lathe creates. */
export const schedulingFields = {
  nodeSelector: stringMap(
    'Node labels the pods must match, e.g. nvidia.com/gpu.product.',
    32,
    63,
  ).optional(),
  tolerations: z
    .array(TolerationSchema)
    .max(32)
    .meta({
      description: 'Tolerations for the pods, as in a Pod spec (e.g. for tainted GPU nodes).',
    })
    .optional(),
  affinity: z
    .record(z.string(), z.unknown())
    .meta({
      description:
        'Affinity for the pods, as in a Pod spec (nodeAffinity, podAffinity, podAntiAffinity). Validated by the API server when the pods are created.',
      k8s: { preserveUnknownFields: true },
    })
    .optional(),
  priorityClassName: dnsSubdomain('PriorityClass of the pods.').optional(),
};
