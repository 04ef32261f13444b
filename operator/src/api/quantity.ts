/**
 * Resource quantities and the resources block shared by TrainingJob and InferenceService.
 *
 * Quantities are `x-kubernetes-int-or-string` with the API server's own quantity grammar, so
 * `cpu: 2` and `cpu: 500m` both work, as in a Pod. GPUs are a plain count because
 * `nvidia.com/gpu` is an extended resource that only takes whole numbers.
 */
import { z } from 'zod';
import './schema-meta.js';

/** The Kubernetes quantity grammar (`resource.Quantity`), without a sign. */
export const QUANTITY_PATTERN =
  /^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/** A resource quantity: an integer or a quantity string such as `500m`, `2Gi`. */
export function quantity(description: string) {
  return z
    .union([
      z.number().int().min(0),
      z.string().max(64).regex(QUANTITY_PATTERN, {
        message: 'must be a Kubernetes quantity such as "500m", "2" or "4Gi"',
      }),
    ])
    .meta({ description, k8s: { intOrString: true } });
}

/** The most GPUs one pod may request; a bound keeps typos such as `gpu: 80` out. */
export const MAX_GPUS_PER_POD = 16;

/** CPU, memory and GPU for the pods Lathe creates. */
export const ResourcesSchema = z
  .object({
    cpu: quantity(
      'CPU request, e.g. "500m" or 2. The limit is left unset so pods may burst.',
    ).optional(),
    memory: quantity(
      'Memory request and limit, e.g. "2Gi". Requests and limits are equal so the pod is not evicted under pressure.',
    ).optional(),
    gpu: z
      .number()
      .int()
      .min(0)
      .max(MAX_GPUS_PER_POD)
      .describe(
        'Number of NVIDIA GPUs (nvidia.com/gpu), requested and limited. 0 or unset runs on CPU.',
      )
      .optional(),
  })
  .describe('Compute resources for each pod.');
export type Resources = z.infer<typeof ResourcesSchema>;
