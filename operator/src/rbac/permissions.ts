/**
 * RBAC permissions as the operator's code declares them, and their normal form.
 *
 * Each controller lists the API permissions it uses next to its code; the chart's ClusterRole
 * and leader-election Role are generated from the union of those lists
 * (`scripts/generate-rbac.ts`), so the role grants exactly what the code declares. The normal
 * form makes that union canonical: the same permissions always render to the same YAML, in
 * whatever order and grouping they were declared, so the generated template only changes when
 * a permission really does.
 */

/** One RBAC policy rule, as in `rbac.authorization.k8s.io/v1` (resource rules only). */
export type PermissionRule = {
  /** API groups; `''` is the core group. */
  apiGroups: string[];
  /** Resources, optionally with a subresource (`modelversions/status`). */
  resources: string[];
  verbs: string[];
  /** Restricts the rule to these object names. Cannot restrict `create`, `list` or `watch`. */
  resourceNames?: string[];
};

/** The RBAC wildcard; a least-privilege role never contains it. */
const wildcard = '*';

/** The verbs an RBAC rule can name for a resource. */
export const resourceVerbs = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
] as const;

/** Every place a wildcard appears in `rules`, as `rules[i].field`; empty when there is none. */
export function wildcardsIn(rules: readonly PermissionRule[]): string[] {
  const found: string[] = [];
  rules.forEach((rule, i) => {
    for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames'] as const) {
      if ((rule[field] ?? []).some((value) => value.includes(wildcard)))
        found.push(`rules[${i}].${field}`);
    }
  });
  return found;
}

/**
 * Throws when a rule cannot be part of a least-privilege role: a wildcard, an empty list, a
 * verb RBAC does not know, or `resourceNames` on a verb that names no object.
 */
export function assertValidRules(rules: readonly PermissionRule[]): void {
  const wildcards = wildcardsIn(rules);
  if (wildcards.length > 0)
    throw new Error(`Wildcards are not allowed in permissions: ${wildcards.join(', ')}`);
  rules.forEach((rule, i) => {
    const where = `rules[${i}] (${describeRule(rule)})`;
    if (rule.apiGroups.length === 0 || rule.resources.length === 0 || rule.verbs.length === 0) {
      throw new Error(`${where}: apiGroups, resources and verbs must each name at least one entry`);
    }
    const unknown = rule.verbs.filter((v) => !(resourceVerbs as readonly string[]).includes(v));
    if (unknown.length > 0) throw new Error(`${where}: unknown verb(s) ${unknown.join(', ')}`);
    if (rule.resourceNames !== undefined) {
      if (rule.resourceNames.length === 0)
        throw new Error(`${where}: resourceNames, when given, must not be empty`);
      // The authorizer sees no object name for these verbs, so a rule restricted by name
      // would silently never match them.
      const unnamed = rule.verbs.filter(
        (v) => v === 'create' || v === 'list' || v === 'watch' || v === 'deletecollection',
      );
      if (unnamed.length > 0)
        throw new Error(`${where}: resourceNames cannot restrict ${unnamed.join(', ')}`);
    }
  });
}

/** A one-line description of a rule for messages: `lathe.dev/modelversions[get,list]`. */
export function describeRule(rule: PermissionRule): string {
  const groups = rule.apiGroups.map((g) => (g === '' ? 'core' : g)).join('|');
  const names = rule.resourceNames ? `{${rule.resourceNames.join(',')}}` : '';
  return `${groups}/${rule.resources.join('|')}${names}[${rule.verbs.join(',')}]`;
}

/** One permission: a single verb on a single resource of a single group. */
interface AtomicPermission {
  apiGroup: string;
  resource: string;
  verb: string;
  /** Sorted, joined resourceNames; `undefined` for an unrestricted rule. */
  resourceNames: string | undefined;
}

const separator = '\u0000';

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareStrings);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The permissions `rules` grant, one entry per (group, resource, verb, names). */
export function atomicPermissions(rules: readonly PermissionRule[]): AtomicPermission[] {
  const seen = new Map<string, AtomicPermission>();
  for (const rule of rules) {
    const resourceNames = rule.resourceNames
      ? sortedUnique(rule.resourceNames).join(separator)
      : undefined;
    for (const apiGroup of rule.apiGroups) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) {
          const permission = { apiGroup, resource, verb, resourceNames };
          seen.set([apiGroup, resource, verb, resourceNames ?? ''].join('\n'), permission);
        }
      }
    }
  }
  return [...seen.values()];
}

/**
 * The normal form of `rules`: every permission exactly once, one API group per rule, the
 * resources of a group that share the same verbs (and the same `resourceNames`) merged into
 * one rule, every list sorted, and the rules sorted by group, then resources, then verbs.
 *
 * Two lists that grant the same permissions have the same normal form. Throws on a rule that
 * `assertValidRules` rejects.
 */
export function normaliseRules(rules: readonly PermissionRule[]): PermissionRule[] {
  assertValidRules(rules);
  // (group, names, resource) -> verbs
  const verbsByResource = new Map<
    string,
    { apiGroup: string; resourceNames: string | undefined; resource: string; verbs: Set<string> }
  >();
  for (const p of atomicPermissions(rules)) {
    const key = [p.apiGroup, p.resourceNames ?? '', p.resource].join('\n');
    const entry = verbsByResource.get(key) ?? {
      apiGroup: p.apiGroup,
      resourceNames: p.resourceNames,
      resource: p.resource,
      verbs: new Set(),
    };
    entry.verbs.add(p.verb);
    verbsByResource.set(key, entry);
  }
  // (group, names, verbs) -> resources
  const merged = new Map<string, PermissionRule>();
  for (const entry of verbsByResource.values()) {
    const verbs = sortedUnique(entry.verbs);
    const key = [entry.apiGroup, entry.resourceNames ?? '', verbs.join(',')].join('\n');
    const rule = merged.get(key) ?? {
      apiGroups: [entry.apiGroup],
      resources: [],
      verbs,
      ...(entry.resourceNames !== undefined
        ? { resourceNames: entry.resourceNames.split(separator) }
        : {}),
    };
    rule.resources.push(entry.resource);
    merged.set(key, rule);
  }
  const normal = [...merged.values()].map((rule) => ({
    ...rule,
    resources: sortedUnique(rule.resources),
  }));
  return normal.sort(compareRules);
}

function compareRules(a: PermissionRule, b: PermissionRule): number {
  const keyOf = (r: PermissionRule) => [
    r.apiGroups.join(','),
    r.resources.join(','),
    r.verbs.join(','),
    (r.resourceNames ?? []).join(','),
  ];
  const ka = keyOf(a);
  const kb = keyOf(b);
  for (let i = 0; i < ka.length; i++) {
    const c = compareStrings(ka[i] ?? '', kb[i] ?? '');
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Whether `granted` allows exactly the permissions `declared` does: nothing missing, nothing
 * extra. Returns the differences as readable lines, empty when they match.
 */
export function permissionDifferences(
  declared: readonly PermissionRule[],
  granted: readonly PermissionRule[],
): string[] {
  const keyOf = (p: AtomicPermission) =>
    `${p.apiGroup === '' ? 'core' : p.apiGroup}/${p.resource}${p.resourceNames ? `{${p.resourceNames.split(separator).join(',')}}` : ''} ${p.verb}`;
  const want = new Set(atomicPermissions(declared).map(keyOf));
  const have = new Set(atomicPermissions(granted).map(keyOf));
  return [
    ...[...want].filter((k) => !have.has(k)).map((k) => `missing: ${k}`),
    ...[...have].filter((k) => !want.has(k)).map((k) => `not declared: ${k}`),
  ].sort(compareStrings);
}

/**
 * The permissions `rules` grant that `minus` does not, one rule per permission (not
 * normalised, so it accepts any verb, wildcards included, as an API server may report them).
 */
export function permissionsNotIn(
  rules: readonly PermissionRule[],
  minus: readonly PermissionRule[],
): PermissionRule[] {
  const keyOf = (p: AtomicPermission) =>
    [p.apiGroup, p.resource, p.verb, p.resourceNames ?? ''].join('\n');
  const excluded = new Set(atomicPermissions(minus).map(keyOf));
  return atomicPermissions(rules)
    .filter((p) => !excluded.has(keyOf(p)))
    .map((p) => ({
      apiGroups: [p.apiGroup],
      resources: [p.resource],
      verbs: [p.verb],
      ...(p.resourceNames !== undefined ? { resourceNames: p.resourceNames.split(separator) } : {}),
    }));
}
