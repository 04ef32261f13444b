/**
 * The kubelet's expansion of `$(VAR)` references, re-implemented so that builder tests can
 * show what a program would receive (`kubelet-literal.ts` is the escape they check). It follows
 * Kubernetes' `third_party/forked/golang/expansion`: `$$` is one `$`, `$(NAME)` is the
 * variable's value when it is defined and kept as written when not, any other `$` is kept.
 * Test support only: nothing in the operator expands anything.
 */
import type { V1Container } from '@kubernetes/client-node';
import type { Wire } from '../../runtime/builtin-kinds.js';

/** `input` as the kubelet expands it with `variables`. */
export function kubeletExpansion(
  input: string,
  variables: Readonly<Record<string, string>>,
): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 1;
      } else {
        const name = input.slice(i + 2, close);
        out += Object.hasOwn(variables, name) ? variables[name] : `$(${name})`;
        i = close;
      }
    } else {
      out += `$${next}`;
      i += 1;
    }
  }
  return out;
}

/** What the program in `container` receives: its environment, command and args, expanded. */
export interface ProgramView {
  env: Record<string, string>;
  command: string[];
  args: string[];
}

/**
 * The container as the kubelet starts it: variables defined in order (each may refer to the
 * earlier ones), every `valueFrom` resolved to `resolved(name)` (a stand-in for a Secret's or
 * field's value), then command and args expanded with all of them.
 */
export function programView(
  container: Wire<V1Container>,
  resolved: (name: string) => string = (name) => `<value of ${name}>`,
): ProgramView {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    env[variable.name] =
      variable.value !== undefined
        ? kubeletExpansion(variable.value, env)
        : variable.valueFrom
          ? resolved(variable.name)
          : '';
  }
  const expand = (values: readonly string[] | undefined) =>
    (values ?? []).map((v) => kubeletExpansion(v, env));
  return { env, command: expand(container.command), args: expand(container.args) };
}
