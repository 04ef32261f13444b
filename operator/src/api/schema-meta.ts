/**
 * The metadata Lathe attaches to zod schemas so that one schema can produce both the runtime
 * parser and the CRD's structural OpenAPI schema.
 *
 * zod's own metadata (`.describe()`, `.meta()`) carries descriptions; the keys declared here
 * carry what OpenAPI cannot learn from zod's checks: CEL rules (`x-kubernetes-validations`),
 * list and map semantics, and the few deliberate escapes from a fully typed schema.
 */
import type { CelRule } from './cel.js';

/** Kubernetes structural-schema extensions a zod schema can ask the CRD generator for. */
export interface StructuralHints {
  /** `x-kubernetes-int-or-string`: the schema is a union of an integer and a string. */
  intOrString?: boolean;
  /** `x-kubernetes-preserve-unknown-fields`: an opaque object passed through verbatim. */
  preserveUnknownFields?: boolean;
  /** `x-kubernetes-list-type` for arrays. */
  listType?: 'atomic' | 'set' | 'map';
  /** `x-kubernetes-list-map-keys` when `listType` is `map`. */
  listMapKeys?: readonly string[];
  /** `maxProperties` for maps; enforced in zod by `boundedRecord`. */
  maxProperties?: number;
}

declare module 'zod' {
  interface GlobalMeta {
    /** CEL rules emitted as `x-kubernetes-validations` and enforced by zod (see `withCel`). */
    celRules?: readonly CelRule[];
    /** Structural-schema extensions (see `StructuralHints`). */
    k8s?: StructuralHints;
  }
}
