/**
 * The one place the inference server gets TensorFlow.js from: the shared backend module
 * (`runtime-images/tensorflow/backend.ts`), with the order `auto` tries chosen for serving.
 *
 * Serving is not training: a request is one row, a micro-batch a few dozen, and each forward
 * pass of a small tabular model is a handful of ops, so the cost of dispatching an op decides,
 * not arithmetic. Measured on the server's own forward pass (`npm run bench:serve-backends`,
 * figures in docs/server.md), WebAssembly answered 5.6-8.2x faster than native TensorFlow at
 * batch 1 and 32, and at least as fast as plain JavaScript; so `auto` serves on WebAssembly,
 * then plain JS, and native TensorFlow is used only when asked for (`LATHE_BACKEND=tensorflow`,
 * e.g. for a model wide enough that its arithmetic outweighs the dispatches).
 *
 * Everything else in the server only uses the `tf` namespace this returns.
 */
import type { BackendChoice, TensorflowBackend } from '../../contract/runtime-env.js';
import {
  type LoadedTensorflow,
  loadTensorflow as loadSharedTensorflow,
  type Tf,
} from '../tensorflow/backend.js';

export type TensorflowJs = Tf;
export type { LoadedTensorflow };

/** What `auto` tries for serving, fastest first (by the figures in docs/server.md). */
export const SERVING_AUTO_ORDER: readonly TensorflowBackend[] = ['wasm', 'cpu'];

export interface ServingBackendOptions {
  /** TensorFlow's intra-op threads on the native backend (`intraOpThreadsFor`); default 1. */
  intraOpThreads?: number;
}

/**
 * TensorFlow.js on the backend `choice` asks for (`auto`: `SERVING_AUTO_ORDER`). A forced
 * backend that cannot be used throws `BackendUnavailableError` saying why.
 *
 * The server is not told how many GPUs its pod has: a forced `tensorflow-gpu` is tried, and the
 * shared loader still refuses it unless an NVIDIA device is visible and TensorFlow uses it.
 */
export function loadTensorflow(
  choice: BackendChoice,
  options: ServingBackendOptions = {},
): Promise<LoadedTensorflow> {
  return loadSharedTensorflow({
    choice,
    gpus: choice === 'tensorflow-gpu' ? 1 : 0,
    intraOpThreads: options.intraOpThreads ?? 1,
    autoOrder: SERVING_AUTO_ORDER,
  });
}
