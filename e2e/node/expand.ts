/**
 * Kubernetes' `$(VAR)` expansion, as applied to env values, `command` and `args`.
 *
 * Semantics follow k8s.io/kubernetes third_party/forked/golang/expansion: `$(NAME)` becomes
 * the value of NAME when it is defined and stays verbatim when it is not; `$$` is an escaped
 * `$` (so `$$(NAME)` yields the literal `$(NAME)`); any other `$` is kept as is.
 */

/** Expands `$(VAR)` references in `input` using `lookup`. */
export function expandVariables(
  input: string,
  lookup: (name: string) => string | undefined,
): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const char = input[i];
    const next = input[i + 1];
    if (char !== '$' || next === undefined) {
      out += char;
      continue;
    }
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close !== -1) {
        const name = input.slice(i + 2, close);
        const value = name === '' ? undefined : lookup(name);
        out += value ?? input.slice(i, close + 1);
        i = close;
        continue;
      }
    }
    out += char;
  }
  return out;
}
