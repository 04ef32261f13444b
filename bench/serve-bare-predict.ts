/**
 * The "bare predict" baseline of `bench:serve`, run as its own process pinned to the core the
 * server gets: the same artifact, verified and loaded by the server's own loader, called in a
 * tight loop on one prepared row at a time, with no HTTP, JSON or batching around it.
 *
 * Two forms are timed per backend and batch size, each call including making the input tensor
 * and reading the output back (what any caller must do):
 * - `forward`: the server's forward pass (`ServedModel.predict`: the layers' `apply` in
 *   inference mode, then `dataSync`) — the honest baseline for Lathe's overhead;
 * - `model.predict`: TensorFlow.js's own `LayersModel.predict` + `dataSync`, for reference.
 *
 *   tsx bench/serve-bare-predict.ts <s3 uri> <digest> <backend> [rows...]   → JSON on stdout
 */
import type { Tensor } from '@tensorflow/tfjs';
import { ObjectStore } from '../contract/object-store.js';
import type { BackendChoice } from '../contract/runtime-env.js';
import { clusterInfo } from '../e2e/cluster/testenv.js';
import { loadServedModel } from '../runtime-images/server/model.js';
import { loadTensorflow } from '../runtime-images/server/tensorflow.js';
import { timeCalls } from './stats.js';

const [uri, digest, backend = 'auto', ...rowArgs] = process.argv.slice(2);
const batchSizes = rowArgs.length > 0 ? rowArgs.map(Number) : [1];

const time = (call: () => void, iterations: number) => timeCalls(call, iterations, 2000);

const { tf, backend: used } = await loadTensorflow(backend as BackendChoice);
const served = await loadServedModel(tf, new ObjectStore(clusterInfo().minio), {
  name: 'bench',
  version: '1',
  uri: uri!,
  digest: digest!,
});
// The same weights as a LayersModel, for the model.predict reference.
const layers = await (async () => {
  const { parseS3Uri } = await import('../contract/object-store-layout.js');
  const { bucket, key } = parseS3Uri(uri!);
  const store = new ObjectStore(clusterInfo().minio);
  const modelJson = JSON.parse((await store.read(bucket, `${key}model.json`)).toString());
  const weights = await store.read(bucket, `${key}weights.bin`);
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
})();

const results: Record<string, unknown>[] = [];
for (const rows of batchSizes) {
  const x = Float32Array.from({ length: rows * served.featureCount }, (_, i) => (i % 7) / 7);
  const forward = time(() => served.predict(x, rows), rows > 1 ? 5000 : 20000);
  const predict = time(
    () =>
      tf.tidy(() =>
        (layers.predict(tf.tensor2d(x, [rows, served.featureCount])) as Tensor).dataSync(),
      ),
    rows > 1 ? 5000 : 20000,
  );
  results.push({ backend: used, rows, forward, predict });
}
process.stdout.write(`${JSON.stringify(results)}\n`);
process.exit(0);
