/**
 * What makes a zod schema a Kubernetes kind: its names, printer columns and subresources,
 * and the object schema around its spec and status.
 *
 * Each kind module calls `defineKind` once; the result is what the operator parses objects
 * with and what the CRD generator reads, so the two cannot describe different APIs.
 */
import { type ZodType, z } from 'zod';
import { ObjectMetaSchema } from './common.js';

/** The API group of every Lathe kind. */
export const GROUP = 'lathe.dev';
/** The one served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of every Lathe object. */
export const API_VERSION = `${GROUP}/${VERSION}` as const;
/** Categories every kind joins: `kubectl get lathe` and `kubectl get ml` list them all. */
export const CATEGORIES = ['lathe', 'ml'] as const;

/** One `additionalPrinterColumns` entry. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0 shows in `kubectl get`; 1 only with `-o wide`. */
  priority?: 0 | 1;
  format?: string;
}

/** The `scale` subresource: which fields `kubectl scale` and autoscalers read and write. */
export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** Everything the CRD generator and the operator need to know about one kind. */
export interface KindDescriptor<Schema extends ZodType = ZodType> {
  group: typeof GROUP;
  version: typeof VERSION;
  apiVersion: typeof API_VERSION;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  categories: readonly string[];
  /** The kind's description: the top of `kubectl explain <kind>`. */
  description: string;
  printerColumns: readonly PrinterColumn[];
  scale?: ScaleSubresource;
  /** Fields usable in `kubectl get --field-selector`. */
  selectableFields: readonly string[];
  /** The zod schema of a whole object (apiVersion, kind, metadata, spec, status). */
  schema: Schema;
  spec: ZodType;
  status: ZodType;
}

/** The zod schema of a whole object of kind `kind`. */
export function resourceSchema<K extends string, Spec extends ZodType, Status extends ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION).describe(`Always ${API_VERSION}.`),
    kind: z.literal(kind).describe(`Always ${kind}.`),
    metadata: ObjectMetaSchema.describe('Standard object metadata.'),
    spec,
    status: status.optional(),
  });
}

/** The printer column every kind ends with. */
export const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

/** A printer column showing the status of one condition. */
export function conditionColumn(type: string, name = type, priority: 0 | 1 = 0): PrinterColumn {
  return {
    name,
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${type}")].status`,
    description: `Status of the ${type} condition.`,
    priority,
  };
}

/** Builds a descriptor with the names derived the conventional way (`Dataset` → `datasets`). */
export function defineKind<Schema extends ZodType>(options: {
  kind: string;
  plural: string;
  shortNames: readonly string[];
  description: string;
  printerColumns: readonly PrinterColumn[];
  scale?: ScaleSubresource;
  selectableFields?: readonly string[];
  schema: Schema;
  spec: ZodType;
  status: ZodType;
}): KindDescriptor<Schema> {
  return {
    group: GROUP,
    version: VERSION,
    apiVersion: API_VERSION,
    kind: options.kind,
    listKind: `${options.kind}List`,
    plural: options.plural,
    singular: options.kind.toLowerCase(),
    shortNames: options.shortNames,
    categories: CATEGORIES,
    description: options.description,
    printerColumns: options.printerColumns,
    ...(options.scale ? { scale: options.scale } : {}),
    selectableFields: options.selectableFields ?? [],
    schema: options.schema,
    spec: options.spec,
    status: options.status,
  };
}
