/**
 * One backend of `npm run bench:serve-backends`, in a fresh process (a process uses one
 * TensorFlow.js backend): loads the artifact in a directory through the server's own loader
 * (`servedModelOf`) on a forced backend, then times the server's forward pass
 * (`ServedModel.predict`: input tensor, `apply`, `dataSync`) at each batch size. Prints JSON on
 * stdout; exits 3 when the backend is not present.
 *
 *   tsx bench/serve-backends-worker.ts BACKEND ARTIFACT_DIR INTRA_OP_THREADS ROWS...
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256Digest } from '../contract/manifest.js';
import { ObjectNotFoundError } from '../contract/object-store.js';
import { MANIFEST_FILE } from '../contract/object-store-layout.js';
import { BackendChoiceSchema } from '../contract/runtime-env.js';
import { servedModelOf } from '../runtime-images/server/model.js';
import { BackendUnavailableError, loadTensorflow } from '../runtime-images/tensorflow/backend.js';
import { readLayersArtifact } from '../runtime-images/tensorflow/layers-artifact.js';
import { timeCalls } from './stats.js';

const [backendArg, dir, threadsArg, ...rowArgs] = process.argv.slice(2);
const choice = BackendChoiceSchema.parse(backendArg);

/** The artifact's directory as an object store (bucket and prefix ignored). */
const fileOf = (key: string) => {
  try {
    return readFileSync(path.join(dir!, path.basename(key)));
  } catch {
    throw new ObjectNotFoundError(`${key} does not exist`);
  }
};
const store = {
  read: async (_bucket: string, key: string) => fileOf(key),
  digestOf: async (_bucket: string, key: string) => {
    const bytes = fileOf(key);
    return { digest: sha256Digest(bytes), sizeBytes: bytes.length };
  },
};

const time = (call: () => void, iterations: number) => timeCalls(call, iterations, 500);

let loaded: Awaited<ReturnType<typeof loadTensorflow>>;
try {
  loaded = await loadTensorflow({ choice, gpus: 0, intraOpThreads: Number(threadsArg) });
} catch (error) {
  if (!(error instanceof BackendUnavailableError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(3);
}
const artifact = await readLayersArtifact(store, {
  uri: 's3://lathe/bench/',
  digest: sha256Digest(fileOf(MANIFEST_FILE)),
});
const served = await servedModelOf(loaded.tf, artifact, { name: 'bench', version: '1' });
const results = rowArgs.map(Number).map((rows) => {
  const x = Float32Array.from({ length: rows * served.featureCount }, (_, i) => (i % 7) / 7);
  return { rows, forward: time(() => served.predict(x, rows), rows > 1 ? 3000 : 10000) };
});
process.stdout.write(`${JSON.stringify({ backend: loaded.backend, results })}\n`);
process.exit(0);
