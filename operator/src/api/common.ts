/**
 * Small schemas every kind shares: Kubernetes names, object references, timestamps, bounded
 * maps and the object metadata Lathe reads.
 *
 * Every string and list here is bounded, because the API server refuses CEL rules whose cost
 * it cannot bound, and because an unbounded field is an easy way to fill etcd.
 */
import { type ZodType, z } from 'zod';
import './schema-meta.js';

/** RFC 1123 label: what Kubernetes requires of most names that become DNS labels. */
export const DNS_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: what Kubernetes requires of object names. */
export const DNS_SUBDOMAIN_PATTERN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A DNS-1123 label of at most `max` (≤ 63) characters. */
export function dnsLabel(description: string, max = 63): z.ZodString {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(DNS_LABEL_PATTERN, {
      message:
        'must be a lowercase RFC 1123 label (a-z, 0-9 and "-", starting and ending alphanumeric)',
    })
    .describe(description);
}

/** A DNS-1123 subdomain: the shape of most Kubernetes object names. */
export function dnsSubdomain(description: string): z.ZodString {
  return z
    .string()
    .min(1)
    .max(253)
    .regex(DNS_SUBDOMAIN_PATTERN, {
      message: 'must be a lowercase RFC 1123 subdomain (a-z, 0-9, "-" and ".")',
    })
    .describe(description);
}

/** A free-text string with a length bound; `description` documents it in `kubectl explain`. */
export function boundedString(description: string, max: number, min = 0): z.ZodString {
  const base = z.string().max(max);
  return (min > 0 ? base.min(min) : base).describe(description);
}

/** An RFC 3339 timestamp, as `metav1.Time` serialises. */
export function timestamp(description: string) {
  return z.iso.datetime({ offset: true }).describe(description);
}

/**
 * A string-keyed map with at most `max` entries. The bound is emitted as `maxProperties` and
 * enforced by zod with the same limit.
 */
export function boundedRecord<V extends ZodType>(value: V, max: number, description: string) {
  return z
    .record(z.string().max(253), value)
    .refine((record) => Object.keys(record).length <= max, {
      message: `must have at most ${max} entries`,
    })
    .meta({ description, k8s: { maxProperties: max } });
}

/** A reference to an object of a known kind in the same namespace. */
export function localObjectReference(description: string, nameDescription = 'Name of the object.') {
  return z.object({ name: dnsSubdomain(nameDescription) }).describe(description);
}

/** A Secret in the same namespace and the key within it that holds the value. */
export function secretKeyReference(description: string, defaultKey: string) {
  return z
    .object({
      name: dnsSubdomain('Name of the Secret, in the same namespace.'),
      key: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[-._a-zA-Z0-9]+$/, { message: 'must be a valid Secret key' })
        .describe(`Key within the Secret. Defaults to "${defaultKey}".`)
        .default(defaultKey),
    })
    .describe(description);
}

/** A map of Kubernetes labels or annotations (keys and values as the API server limits them). */
export function stringMap(description: string, max = 64, valueMax = 1024) {
  return boundedRecord(z.string().max(valueMax), max, description);
}

/**
 * The metadata fields Lathe reads. The CRD leaves `metadata` to the API server; zod keeps
 * every other field (`looseObject`) so that an object read from the cluster round-trips.
 */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().max(253).optional(),
  generateName: z.string().max(253).optional(),
  namespace: z.string().max(63).optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(z.looseObject({})).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

/** `status.observedGeneration`: the `metadata.generation` the status was computed from. */
export const observedGeneration = z
  .number()
  .int()
  .min(0)
  .describe(
    'The metadata.generation this status was computed from. Status is current when it equals metadata.generation.',
  );

/**
 * A list whose items are identified by `keys` (`x-kubernetes-list-type: map`), so server-side
 * apply merges it item by item. The API server rejects two items with the same keys; zod does
 * too, with a message naming the keys.
 */
export function mapList<T extends ZodType>(
  item: T,
  keys: readonly string[],
  bounds: { min?: number; max: number },
  description: string,
) {
  const keyOf = (value: unknown) =>
    JSON.stringify(keys.map((k) => (value as Record<string, unknown>)[k]));
  return z
    .array(item)
    .min(bounds.min ?? 0)
    .max(bounds.max)
    .refine((list) => new Set(list.map(keyOf)).size === list.length, {
      message: `must not contain two items with the same ${keys.join(' and ')}`,
    })
    .meta({ description, k8s: { listType: 'map', listMapKeys: keys } });
}

/** A list of distinct scalars (`x-kubernetes-list-type: set`). */
export function setList<T extends ZodType>(
  item: T,
  bounds: { min?: number; max: number },
  description: string,
) {
  return z
    .array(item)
    .min(bounds.min ?? 0)
    .max(bounds.max)
    .refine((list) => new Set(list).size === list.length, {
      message: 'must not contain the same value twice',
    })
    .meta({ description, k8s: { listType: 'set' } });
}
