/**
 * How `npm run demo` narrates: each step announces itself (and the object to `kubectl describe`
 * if it fails), and waits on the cluster by polling `kubectl get -o json` until a condition
 * holds, so what the demo shows is what a user sees.
 */
import { kubectlOrThrow } from '../../e2e/cluster/testenv.js';

/** The namespace the demo applies its examples to. */
export const namespace = 'lathe-demo';

export type Conditions = { type: string; status: string; reason?: string; message?: string }[];

/** The step being run and the object to describe when it fails (`kind/name`, or ''). */
export const current = { step: '', inspect: '' };

/** Announces a step; `object` is what `kubectl describe` should show if it fails. */
export function step(text: string, object = ''): void {
  current.step = text;
  current.inspect = object;
  console.log(`\n==> ${text}`);
}

/** `kubectl get <kind> <name> -o json` in the demo's namespace. */
export async function getJson<T>(kind: string, name: string): Promise<T> {
  return JSON.parse(await kubectlOrThrow(['-n', namespace, 'get', kind, name, '-o', 'json'])) as T;
}

export function condition(status: { conditions?: Conditions } | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

/** Polls `probe` (which prints what changed) until it returns a value. */
export async function follow<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until InferenceService `name` is Ready and returns its Service's base URL. */
export async function servedAt(name: string): Promise<string> {
  await follow(
    async () => {
      const isvc = await getJson<{ status?: { conditions?: Conditions } }>(
        'inferenceservice',
        name,
      );
      return condition(isvc.status, 'Ready')?.status === 'True' ? isvc : undefined;
    },
    300_000,
    `InferenceService ${name} Ready`,
  );
  const clusterIP = await kubectlOrThrow([
    '-n',
    namespace,
    'get',
    'service',
    name,
    '-o',
    'jsonpath={.spec.clusterIP}',
  ]);
  return `http://${clusterIP.trim()}`;
}

/** Waits until ModelVersion `name` is verified (Ready), failing on Stalled; returns it. */
export async function verifiedModelVersion<T extends { status?: { conditions?: Conditions } }>(
  name: string,
): Promise<T> {
  return follow(
    async () => {
      const mv = await getJson<T>('modelversion', name);
      if (condition(mv.status, 'Stalled')?.status === 'True')
        throw new Error(condition(mv.status, 'Stalled')?.message);
      return condition(mv.status, 'Ready')?.status === 'True' ? mv : undefined;
    },
    120_000,
    `ModelVersion ${name} Ready`,
  );
}

/** `kubectl patch modelversion <name>` to stage production, the command printed. */
export async function promoteToProduction(name: string): Promise<void> {
  const promote = [
    '-n',
    namespace,
    'patch',
    'modelversion',
    name,
    '--type',
    'merge',
    '-p',
    '{"spec":{"stage":"production"}}',
  ];
  console.log(`$ kubectl ${promote.join(' ')}`);
  await kubectlOrThrow(promote);
}
