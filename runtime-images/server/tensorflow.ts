/**
 * The one place the inference server gets TensorFlow.js from.
 *
 * Until the shared backend module (`runtime-images/tensorflow/`, native TensorFlow built from
 * the PyPI wheel, WebAssembly, plain JS) lands, this loads `@tensorflow/tfjs` with the
 * WebAssembly or plain-JS backend. Swapping in the shared module is this one function: return
 * what it selects. Everything else in the server only uses the `tf` namespace this returns.
 *
 * `auto` picks WebAssembly: for the small tabular models Lathe serves, at the small batches
 * micro-batching makes, it measured faster than the plain-JS backend (bench/serve.ts prints
 * both), and it needs nothing native.
 */
import * as tf from '@tensorflow/tfjs';
// Registers the `wasm` backend; its Node build finds its .wasm files beside itself.
import '@tensorflow/tfjs-backend-wasm';
import type { BackendChoice } from '../../operator/src/contract/runtime-env.js';

export type TensorflowJs = typeof tf;

export interface LoadedTensorflow {
  tf: TensorflowJs;
  /** The backend in use: `wasm` or `cpu` here. */
  backend: string;
}

/** TensorFlow.js on the backend `choice` asks for; throws naming a backend it cannot provide. */
export async function loadTensorflow(choice: BackendChoice): Promise<LoadedTensorflow> {
  if (choice === 'tensorflow' || choice === 'tensorflow-gpu') {
    throw new Error(
      `LATHE_BACKEND=${choice} needs native TensorFlow, which this server build does not include; use auto, wasm or cpu`,
    );
  }
  const wanted = choice === 'auto' ? 'wasm' : choice;
  if (!(await tf.setBackend(wanted)))
    throw new Error(`TensorFlow.js backend ${wanted} failed to start`);
  await tf.ready();
  return { tf, backend: tf.getBackend() };
}
