/**
 * User text the kubelet must not expand.
 *
 * The kubelet expands `$(VAR)` in a container's `command`, `args` and `env[].value` with the
 * container's other variables, so a hyperparameter written as `$(LATHE_OBJECT_STORE_SECRET_KEY)`
 * would reach the program as the secret itself (and from there a log or a status). `$$` is the
 * kubelet's escape for one `$`, and a `$` followed by anything else is kept as it is, so
 * doubling every `$` makes the kubelet hand the program exactly the text the user wrote, whatever
 * it contains (`$`, `$$`, an unclosed `$(`).
 *
 * Every builder passes user-supplied text that reaches those three fields through
 * `literalForKubelet`; values Lathe composes itself (names, URIs of its own layout, numbers) do
 * not need it. See
 * https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import type { Wire } from '../../runtime/builtin-kinds.js';

/** `value` escaped so that the kubelet's `$(VAR)` expansion gives back `value` unchanged. */
export function literalForKubelet(value: string): string {
  return value.replaceAll('$', '$$$$');
}

/** Each of `values` escaped as `literalForKubelet` does (a user's command or args). */
export function literalsForKubelet(values: readonly string[]): string[] {
  return values.map(literalForKubelet);
}

/** An environment variable whose value is user text, passed through literally. */
export function literalEnv(name: string, value: string): Wire<V1EnvVar> {
  return { name, value: literalForKubelet(value) };
}
