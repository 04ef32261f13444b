/**
 * The argv a container runs: the image's entry point combined with the pod's `command` and
 * `args` as Kubernetes defines it (`command` replaces ENTRYPOINT, `args` replaces CMD), then
 * `$(VAR)` expanded with the container's environment.
 */
import { expandVariables } from './expand.js';
import type { ImageEntry } from './images.js';

/** Why a container cannot be created; reported as `CreateContainerError`. */
export class ContainerCommandError extends Error {}

/**
 * The argv for a container. Throws `ContainerCommandError` when there is nothing to run: the
 * image has no entry point and the container names neither `command` nor `args`.
 */
export function containerArgv(
  image: ImageEntry,
  container: { command?: string[]; args?: string[] },
  env: ReadonlyMap<string, string>,
): string[] {
  const command = container.command?.length ? container.command : undefined;
  const args = container.args?.length ? container.args : undefined;
  let argv: string[];
  if (command) argv = [...command, ...(args ?? [])];
  else if (args) argv = [...(image.entrypoint ?? []), ...args];
  else argv = [...(image.entrypoint ?? []), ...(image.defaultArgs ?? [])];
  if (argv.length === 0) {
    throw new ContainerCommandError(
      'no command specified: the image has no entry point on this node, so the container must set "command"',
    );
  }
  return argv.map((part) => expandVariables(part, (name) => env.get(name)));
}
