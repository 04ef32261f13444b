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

const SUFFIX_MULTIPLIERS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The numeric value of a quantity (`"512Mi"` → 536870912, `"500m"` → 0.5, `2` → 2). */
export function quantityValue(q: number | string): number {
  if (typeof q === 'number') return q;
  const match = /^([0-9.]+(?:[eE][+-]?[0-9.]+)?)([numkKMGTPE]i?)?$/.exec(q.trim());
  if (!match) throw new Error(`"${q}" is not a quantity`);
  const multiplier = SUFFIX_MULTIPLIERS[match[2] ?? ''];
  if (multiplier === undefined) throw new Error(`"${q}" has an unknown suffix`);
  return Number(match[1]) * multiplier;
}
