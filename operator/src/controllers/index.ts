/**
 * Every controller the operator runs. `main.ts` registers each with the manager; add a new
 * controller here (wrapped in `defineController`) and nowhere else.
 */

import type { OperatorConfig } from '../config.js';
import type { ControllerDefinition } from '../runtime/controller.js';
import type { KubeObject } from '../runtime/resource.js';

/** Builds the controllers from the operator's configuration. */
export function controllers(_config: OperatorConfig): ControllerDefinition<KubeObject>[] {
  return [];
}
