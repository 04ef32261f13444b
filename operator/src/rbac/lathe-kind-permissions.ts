/**
 * The API group and resource names of the six Lathe kinds, spelled out so RBAC rules and tests
 * can name them; `permissions.test.ts` checks they match the generated CRDs.
 */

/** The API group of every Lathe kind. */
export const latheGroup = 'lathe.dev';

/** The resource (plural) names of the six Lathe kinds. */
export const latheResources = [
  'batchpredictions',
  'datasets',
  'inferenceservices',
  'modelversions',
  'retrainpolicies',
  'trainingjobs',
] as const;
