import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defineController, done, owns, watches, watchesPodsOf } from '../runtime/controller.js';
import { builtin, builtinKind, type ResourceType } from '../runtime/resource.js';
import { renderRbacTemplates } from './chart-templates.js';
import {
  clusterRoleRules,
  controllerPermissions,
  leaderElectionRoleRules,
  registeredControllers,
} from './cluster-permissions.js';
import { permissionsOf } from './derive.js';
import { latheGroup, latheResources } from './lathe-kind-permissions.js';
import {
  assertValidRules,
  normaliseRules,
  type PermissionRule,
  permissionDifferences,
  permissionsNotIn,
  wildcardsIn,
} from './permissions.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the declared permissions', () => {
  const roles = [
    ['ClusterRole', clusterRoleRules()],
    ['leader-election Role', leaderElectionRoleRules('lathe-operator-leader')],
  ] as const;

  it.each(roles)('the %s has no wildcard anywhere', (_name, rules) => {
    expect(wildcardsIn(rules)).toEqual([]);
    expect(JSON.stringify(rules)).not.toContain('*');
  });

  it.each(roles)('the %s is already in normal form', (_name, rules) => {
    expect(normaliseRules(rules)).toEqual(rules);
  });

  it('keeps leases out of the ClusterRole: leader election is namespaced', () => {
    expect(clusterRoleRules().flatMap((r) => r.resources)).not.toContain('leases');
  });

  it('lists, watches and reads no Secret but two by name; writes any only by create and a guarded patch', () => {
    const secretRules = clusterRoleRules().filter(
      (r) => r.apiGroups.includes('') && r.resources.includes('secrets'),
    );
    expect(
      secretRules.flatMap((r) => r.verbs).filter((v) => ['list', 'watch'].includes(v)),
    ).toEqual([]);
    // Reading or deleting: only the legacy object-store Secret and the PII key, by name.
    for (const rule of secretRules.filter((r) =>
      r.verbs.some((v) => v === 'get' || v === 'delete'),
    ))
      expect(['lathe-object-store', 'lathe-pii']).toEqual(
        expect.arrayContaining(rule.resourceNames ?? ['*']),
      );
    // Credentials Secrets are named after their owners: create, and patch (guarded by a label
    // test in the patch itself, and by the chart's admission policy), on any name.
    const unnamed = secretRules.filter((r) => !r.resourceNames);
    expect(new Set(unnamed.flatMap((r) => r.verbs))).toEqual(new Set(['create', 'patch']));
  });

  it('restricts the Lease get/update to the one Lease by name', () => {
    const rules = leaderElectionRoleRules('my-lease');
    expect(rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'update'],
        resourceNames: ['my-lease'],
      },
    ]);
  });

  it('names exactly the resources of the generated CRDs in crds/', () => {
    const served = readdirSync(path.join(repoRoot, 'crds'))
      .filter((f) => f.endsWith('.yaml'))
      .map(
        (f) =>
          parse(readFileSync(path.join(repoRoot, 'crds', f), 'utf8')) as {
            spec: { group: string; names: { plural: string } };
          },
      )
      .filter((crd) => crd.spec.group === latheGroup)
      .map((crd) => crd.spec.names.plural)
      .sort();
    expect(served).toEqual([...latheResources]);
  });
});

describe('the registered controllers', () => {
  const registered = registeredControllers();

  it('each have their permissions derived from their declaration', () => {
    expect(registered.length).toBeGreaterThan(0);
    expect(Object.keys(controllerPermissions()).sort()).toEqual(
      registered.map((c) => c.name).sort(),
    );
  });

  it('are granted list and watch on every kind their informers read', () => {
    const missing = registered.flatMap((c) =>
      [
        c.for,
        ...(c.owns ?? []).map((o) => o.kind),
        ...(c.watches ?? []).map((w) => w.kind),
      ].flatMap((kind) =>
        permissionDifferences(
          [
            {
              apiGroups: [kind.resource.group],
              resources: [kind.resource.plural],
              verbs: ['list', 'watch'],
            },
          ],
          clusterRoleRules(),
        )
          .filter((line) => line.startsWith('missing'))
          .map((line) => `${c.name}: ${line}`),
      ),
    );
    expect(missing).toEqual([]);
  });
});

describe('permissionsOf', () => {
  const gadget: ResourceType = {
    group: 'lathe.dev',
    version: 'v1alpha1',
    kind: 'Gadget',
    plural: 'gadgets',
    namespaced: true,
  };

  it('derives every verb from what a controller declares', () => {
    const definition = defineController({
      name: 'gadget',
      for: builtinKind(gadget),
      owns: [owns(builtinKind(builtin.job), { deletes: true }), owns(builtinKind(builtin.service))],
      watches: [watches(builtinKind(builtin.configMap), () => []), watchesPodsOf('Gadget')],
      finalizer: { name: 'x', wanted: () => true, finalize: async () => undefined },
      permissions: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
      reconcile: async () => done(),
    });
    expect(normaliseRules(permissionsOf(definition))).toEqual(
      normaliseRules([
        { apiGroups: ['lathe.dev'], resources: ['gadgets'], verbs: ['list', 'watch', 'patch'] },
        { apiGroups: ['lathe.dev'], resources: ['gadgets/status'], verbs: ['patch'] },
        { apiGroups: ['lathe.dev'], resources: ['gadgets/finalizers'], verbs: ['update'] },
        {
          apiGroups: ['batch'],
          resources: ['jobs'],
          verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
        },
        {
          apiGroups: [''],
          resources: ['services'],
          verbs: ['get', 'list', 'watch', 'create', 'patch'],
        },
        { apiGroups: [''], resources: ['configmaps', 'pods'], verbs: ['list', 'watch'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      ]),
    );
  });
});

describe('normaliseRules', () => {
  const cases: { name: string; input: PermissionRule[]; expected: PermissionRule[] }[] = [
    {
      name: 'merges resources of one group that share the same verbs, sorted',
      input: [
        { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['watch', 'list'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list', 'watch'] },
      ],
      expected: [
        {
          apiGroups: ['apps'],
          resources: ['deployments', 'statefulsets'],
          verbs: ['list', 'watch'],
        },
      ],
    },
    {
      name: 'unions the verbs a resource is given by several rules, deduplicated',
      input: [
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['list', 'watch', 'watch'] },
      ],
      expected: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      name: 'keeps resources with different verbs in separate rules',
      input: [
        { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] },
      ],
      expected: [
        { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'patch'] },
      ],
    },
    {
      name: 'splits a rule naming several groups into one rule per group, core group first',
      input: [{ apiGroups: ['apps', ''], resources: ['things'], verbs: ['get'] }],
      expected: [
        { apiGroups: [''], resources: ['things'], verbs: ['get'] },
        { apiGroups: ['apps'], resources: ['things'], verbs: ['get'] },
      ],
    },
    {
      name: 'never merges a rule restricted by name with an unrestricted one',
      input: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get'],
          resourceNames: ['b', 'a'],
        },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
      ],
      expected: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get'],
          resourceNames: ['a', 'b'],
        },
      ],
    },
    {
      name: 'is the identity on an empty list',
      input: [],
      expected: [],
    },
  ];

  it.each(cases)('$name', ({ input, expected }) => {
    expect(normaliseRules(input)).toEqual(expected);
  });

  it('gives the same result whatever the declaration order', () => {
    const rules: PermissionRule[] = [
      { apiGroups: ['lathe.dev'], resources: ['datasets/status'], verbs: ['patch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get'] },
      { apiGroups: ['lathe.dev'], resources: ['datasets'], verbs: ['watch', 'list'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['delete'] },
    ];
    expect(normaliseRules([...rules].reverse())).toEqual(normaliseRules(rules));
  });

  it('rejects what a least-privilege role cannot contain, naming the rule', () => {
    const invalid: [PermissionRule, RegExp][] = [
      [
        { apiGroups: ['*'], resources: ['pods'], verbs: ['get'] },
        /Wildcards are not allowed.*rules\[0\]\.apiGroups/,
      ],
      [{ apiGroups: [''], resources: ['*'], verbs: ['get'] }, /rules\[0\]\.resources/],
      [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }, /rules\[0\]\.verbs/],
      [{ apiGroups: [''], resources: ['pods/*'], verbs: ['get'] }, /rules\[0\]\.resources/],
      [{ apiGroups: [''], resources: [], verbs: ['get'] }, /must each name at least one entry/],
      [
        { apiGroups: [''], resources: ['pods'], verbs: ['read'] },
        /core\/pods\[read\]\): unknown verb\(s\) read/,
      ],
      [
        { apiGroups: [''], resources: ['pods'], verbs: ['list', 'get'], resourceNames: ['p'] },
        /resourceNames cannot restrict list/,
      ],
    ];
    for (const [rule, message] of invalid) {
      expect(() => normaliseRules([rule])).toThrow(message);
    }
  });
});

describe('permissionDifferences', () => {
  it('is empty for two groupings of the same permissions', () => {
    expect(
      permissionDifferences(
        [{ apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get'] }],
        [
          { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get'] },
          { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
        ],
      ),
    ).toEqual([]);
  });

  it('names what is missing and what was granted without being declared', () => {
    expect(
      permissionDifferences(
        [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list'] }],
        [
          { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
          { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        ],
      ),
    ).toEqual(['missing: batch/jobs list', 'not declared: core/secrets get']);
  });
});

describe('the generated chart templates', () => {
  it.each(Object.entries(renderRbacTemplates()))(
    '%s is what scripts/generate-rbac.ts generates (run it after changing a permission)',
    (relative, expected) => {
      expect(readFileSync(path.join(repoRoot, relative), 'utf8')).toBe(expected);
    },
  );

  it('renders the rules as YAML that parses back to the declared rules', () => {
    const template = renderRbacTemplates()['charts/lathe/templates/clusterrole.yaml'] ?? '';
    const rulesYaml = template.slice(
      template.indexOf('rules:'),
      template.lastIndexOf('{{- end }}'),
    );
    expect((parse(rulesYaml) as { rules: PermissionRule[] }).rules).toEqual(clusterRoleRules());
  });

  it('validates every rule it renders', () => {
    expect(() => assertValidRules(clusterRoleRules())).not.toThrow();
  });
});

describe('permissionsNotIn', () => {
  it('subtracts permission by permission, keeping resource names apart', () => {
    expect(
      permissionsNotIn(
        [
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
          {
            apiGroups: ['coordination.k8s.io'],
            resources: ['leases'],
            verbs: ['get'],
            resourceNames: ['l'],
          },
          {
            apiGroups: ['authorization.k8s.io'],
            resources: ['selfsubjectrulesreviews'],
            verbs: ['create'],
          },
        ],
        [
          {
            apiGroups: ['authorization.k8s.io'],
            resources: ['selfsubjectrulesreviews'],
            verbs: ['create'],
          },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
        ],
      ),
    ).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get'],
        resourceNames: ['l'],
      },
    ]);
  });
});
