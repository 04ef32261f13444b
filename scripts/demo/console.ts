/**
 * The demo's web console step: the chart started the console beside the operator (Deployment
 * and Service `lathe-console`); the demo gives the demo namespace a read-only viewer (a
 * ServiceAccount with a Role to get Lathe's kinds there) and prints the console's address and
 * the commands that open it — a port-forward and a token to sign in with (docs/console.md).
 */
import { kubectl, kubectlOrThrow } from '../../e2e/cluster/testenv.js';
import { latheRelease } from '../../e2e/kubelet/install.js';
import { latheResources } from '../../operator/src/rbac/lathe-kind-permissions.js';

/** The console's Service, as the chart names it for the demo's release. */
export const consoleService = `${latheRelease.name}-console`;
/** The ServiceAccount whose token the demo suggests signing in with. */
export const consoleViewer = 'console-viewer';

/** Creates the viewer in `namespace` (idempotent) and returns how to open the console. */
export async function prepareConsole(namespace: string): Promise<{ url: string; lines: string[] }> {
  const viewer = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: consoleViewer, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: consoleViewer, namespace },
      rules: [
        {
          apiGroups: ['lathe.dev'],
          resources: [...latheResources],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: consoleViewer, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: consoleViewer },
      subjects: [{ kind: 'ServiceAccount', name: consoleViewer, namespace }],
    },
  ];
  await kubectlOrThrow(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: viewer }),
  });
  const service = await kubectl([
    '-n',
    latheRelease.namespace,
    'get',
    'service',
    consoleService,
    '-o',
    'jsonpath={.spec.clusterIP}:{.spec.ports[?(@.name=="http")].port}',
  ]);
  // This host routes the cluster's Service addresses, so the console is reachable directly too.
  const url =
    service.code === 0 && service.stdout.trim() !== ':'
      ? `http://${service.stdout.trim()}`
      : 'http://localhost:8080';
  return {
    url,
    lines: [
      `kubectl -n ${latheRelease.namespace} port-forward svc/${consoleService} 8080:http   # then open http://localhost:8080`,
      `kubectl -n ${namespace} create token ${consoleViewer}   # paste it at /login (sees ${namespace} only)`,
    ],
  };
}
