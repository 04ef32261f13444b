/**
 * Loads TensorFlow.js on the fastest backend present, for every program that computes with it
 * (the trainer, the inference server): native TensorFlow on a GPU (`@tensorflow/tfjs-node-gpu`),
 * native TensorFlow on the CPU (`@tensorflow/tfjs-node`), WebAssembly, then plain JavaScript.
 *
 * The native addons are not in the repository's node_modules: their install script downloads
 * libtensorflow from a Google bucket, which an air-gapped cluster cannot reach. `prepare.sh`
 * builds them from registry packages into a cache directory (an image bakes that directory in
 * and names it with `LATHE_TFJS_NODE_DIR` / `LATHE_TFJS_NODE_GPU_DIR`), and this module loads
 * them from there. Each addon brings its own `@tensorflow/tfjs`, so the namespace returned here
 * (`tf`) is the one to compute with: a program never imports `@tensorflow/tfjs` values itself,
 * only its types.
 *
 * A program uses one backend: a faster one is tried first and, when it cannot be used, the
 * reason is kept so the program can log why it runs on a slower one. (All copies of tfjs-core in
 * a process share one engine, so loading another backend later switches every copy to it.)
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfjs from '@tensorflow/tfjs';
import type { BackendChoice, TensorflowBackend } from '../../contract/runtime-env.js';

/** The TensorFlow.js namespace, whichever copy provides it. */
export type Tf = typeof tfjs;

/**
 * The values of the tensor `compute` makes, its intermediates freed by a `tidy` and the tensor
 * itself once read. Reading the values outside the tidy matters: `tidy` walks whatever its
 * function returns looking for tensors to keep, and a typed array returned from it is walked
 * element by element (a tenth of a batch shard's time at 1,024 rows of 3 outputs).
 */
export function tensorValues(tf: Pick<Tf, 'tidy'>, compute: () => tfjs.Tensor): Float32Array {
  const tensor = tf.tidy(compute);
  try {
    return tensor.dataSync() as Float32Array;
  } finally {
    tensor.dispose();
  }
}

/** A backend that was not used, and why. */
export interface SkippedBackend {
  backend: TensorflowBackend;
  reason: string;
}

export interface LoadedTensorflow {
  tf: Tf;
  backend: TensorflowBackend;
  /** Faster backends that were not used, fastest first. */
  skipped: SkippedBackend[];
}

/** Where to look for the native addons; defaults from `nativeAddonDir`. */
export interface NativeAddonDirs {
  cpu?: string;
  gpu?: string;
}

export interface LoadOptions {
  choice: BackendChoice;
  /** GPUs given to the pod (`LATHE_GPUS`): the GPU backend is tried only when > 0. */
  gpus: number;
  dirs?: NativeAddonDirs;
  /** Whether an NVIDIA device is visible (default: `/dev/nvidiactl` exists). */
  nvidiaDevicePresent?: () => boolean;
  /** TensorFlow's intra-op threads (`intraOpThreadsFor`); `TF_NUM_INTRAOP_THREADS` wins. */
  intraOpThreads?: number;
  /**
   * The backends `auto` tries, in order: the fastest first for the program's work (default
   * `TRAINING_AUTO_ORDER`; the inference server measured another order for its small batches).
   */
  autoOrder?: readonly TensorflowBackend[];
}

/** What `auto` tries for training: native TensorFlow (GPU, then CPU), WebAssembly, plain JS. */
export const TRAINING_AUTO_ORDER: readonly TensorflowBackend[] = [
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
];

/** A forced backend (`LATHE_BACKEND`) that cannot be used: the program fails with this. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

const moduleDir = path.dirname(fileURLToPath(import.meta.url));

/** `~/.cache/lathe`, or `LATHE_CACHE_DIR`, as the project's scripts resolve it. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.LATHE_CACHE_DIR ??
    path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'lathe')
  );
}

/** The cache entry `prepare.sh` builds for `variant` (same name: versions and lockfile hash). */
export function preparedAddonDir(variant: 'cpu' | 'gpu', root = cacheRoot()): string {
  const versions = Object.fromEntries(
    readFileSync(path.join(moduleDir, 'versions.env'), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const lock = readFileSync(path.join(moduleDir, `native-${variant}`, 'package-lock.json'));
  const lockHash = createHash('sha256').update(lock).digest('hex').slice(0, 12);
  return path.join(
    root,
    'tensorflow',
    `tfjs-node-${variant}-${versions.TFJS_VERSION}-tensorflow-${versions.TENSORFLOW_VERSION}-${lockHash}`,
  );
}

/**
 * Where the `variant` addon is: `LATHE_TFJS_NODE_DIR` / `LATHE_TFJS_NODE_GPU_DIR` (what an image
 * sets), else the cache entry `prepare.sh` builds; undefined when neither can be known (a
 * compiled program without the prepare files next to it, and no variable set).
 */
export function nativeAddonDir(
  variant: 'cpu' | 'gpu',
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const fromEnv = variant === 'cpu' ? env.LATHE_TFJS_NODE_DIR : env.LATHE_TFJS_NODE_GPU_DIR;
  if (fromEnv) return fromEnv;
  try {
    return preparedAddonDir(variant, cacheRoot(env));
  } catch {
    return undefined;
  }
}

/**
 * The backends to try, fastest first, and those ruled out before trying (with why). Pure: the
 * decision table of the module, tested on its own.
 */
export function backendPlan(
  choice: BackendChoice,
  gpus: number,
  autoOrder: readonly TensorflowBackend[] = TRAINING_AUTO_ORDER,
): { candidates: TensorflowBackend[]; ruledOut: SkippedBackend[] } {
  if (choice === 'tensorflow-gpu' && gpus <= 0) {
    throw new BackendUnavailableError(
      'LATHE_BACKEND=tensorflow-gpu needs a GPU, but the pod was given none (LATHE_GPUS=0): request nvidia.com/gpu, or choose another backend',
    );
  }
  if (choice !== 'auto') return { candidates: [choice], ruledOut: [] };
  if (gpus > 0 || !autoOrder.includes('tensorflow-gpu')) {
    return { candidates: [...autoOrder], ruledOut: [] };
  }
  return {
    candidates: autoOrder.filter((b) => b !== 'tensorflow-gpu'),
    ruledOut: [{ backend: 'tensorflow-gpu', reason: 'the pod was given no GPU (LATHE_GPUS=0)' }],
  };
}

/**
 * CPUs the container may use: its cgroup's CPU quota (`cpu.max` in cgroup v2, `cpu.cfs_quota_us`
 * / `cpu.cfs_period_us` in v1), rounded up, capped by the CPUs Node.js sees. Without a quota,
 * the CPUs Node.js sees.
 */
export function cpuBudget(
  readText: (file: string) => string | undefined = (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
  available = os.availableParallelism(),
): number {
  let quota: number | undefined;
  const v2 = readText('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 && v2[0] !== 'max' && Number(v2[0]) > 0 && Number(v2[1]) > 0) {
    quota = Number(v2[0]) / Number(v2[1]);
  } else {
    const limit = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'));
    const period = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
    if (limit > 0 && period > 0) quota = limit / period;
  }
  return Math.max(1, Math.min(available, quota === undefined ? available : Math.ceil(quota)));
}

/** Below this many multiply-adds in an op, splitting it across threads costs more than it saves. */
export const PARALLEL_OP_MULTIPLY_ADDS = 4 * 1024 * 1024;

/**
 * Intra-op threads for a program whose largest op does `multiplyAdds` multiply-adds (a training
 * step's largest matmul: batch x fan-in x fan-out): one below `PARALLEL_OP_MULTIPLY_ADDS`, where
 * waking a second thread costs more than the op (measured here: mlp [64, 32] trains 1.2-1.5x
 * faster on one thread at batch 64 and 512), else the CPU budget.
 */
export function intraOpThreadsFor(multiplyAdds: number, budget = cpuBudget()): number {
  return multiplyAdds < PARALLEL_OP_MULTIPLY_ADDS ? 1 : budget;
}

/**
 * TensorFlow sizes its thread pools by the host's cores, not by the pod's CPU limit, so a pod
 * limited to 2 CPUs on a 64-core node would run 64 compute threads into throttling. Unless the
 * user set them, the intra-op pool gets `intraOpThreads` (default: the CPU budget); the inter-op
 * pool serves graph functions, which eager execution (what tfjs-node does) does not run, so it
 * gets one thread.
 */
function setTensorflowThreads(intraOpThreads: number | undefined): void {
  process.env.TF_NUM_INTRAOP_THREADS ??= String(intraOpThreads ?? cpuBudget());
  process.env.TF_NUM_INTEROP_THREADS ??= '1';
}

/** The first line of an error's message: dlopen and node-gyp errors run long. */
function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}

/** Loads a native addon from a prepared directory, or says why it cannot. */
async function loadNative(
  dir: string | undefined,
  packageName: string,
  variant: 'cpu' | 'gpu',
  intraOpThreads: number | undefined,
): Promise<Tf | string> {
  if (dir === undefined) {
    const variable = variant === 'cpu' ? 'LATHE_TFJS_NODE_DIR' : 'LATHE_TFJS_NODE_GPU_DIR';
    return `${packageName} is not installed (${variable} is unset)`;
  }
  if (!existsSync(path.join(dir, 'node_modules', packageName, 'package.json'))) {
    const flag = variant === 'gpu' ? ' -- --gpu' : '';
    return `${packageName} is not built in ${dir} (run "npm run tensorflow:prepare${flag}")`;
  }
  // TensorFlow reads these when it creates its context; a value the user set wins.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  setTensorflowThreads(intraOpThreads);
  try {
    const tf = createRequire(path.join(dir, 'package.json'))(packageName) as Tf;
    // Every copy of tfjs-core in a process shares one engine (a global), so another copy may
    // have switched it since this package first selected its backend.
    if (!(await tf.setBackend('tensorflow'))) return `${packageName} did not initialise`;
    await tf.ready();
    return tf;
  } catch (error) {
    return `${packageName} did not load: ${firstLine(error)}`;
  }
}

async function loadPortable(backend: 'wasm' | 'cpu'): Promise<Tf | string> {
  try {
    const tf = (await import('@tensorflow/tfjs')) as Tf;
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(backend))) return `the ${backend} backend did not initialise`;
    await tf.ready();
    return tf;
  } catch (error) {
    return `the ${backend} backend did not load: ${firstLine(error)}`;
  }
}

/** Whether TensorFlow placed its context on a GPU (tfjs-node's binding knows). */
function usesGpu(tf: Tf): boolean {
  return (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
}

/**
 * Loads TensorFlow.js on the fastest backend `options` allow. A forced backend that cannot be
 * used throws `BackendUnavailableError`; `auto` always ends on plain JavaScript at worst.
 */
export async function loadTensorflow(options: LoadOptions): Promise<LoadedTensorflow> {
  const loaded = await loadFastest(options);
  // Programs log JSON lines; tfjs' console banners and notices would break them. (Production
  // mode only silences tfjs' console output; it changes no computation.)
  loaded.tf.enableProdMode();
  return loaded;
}

async function loadFastest(options: LoadOptions): Promise<LoadedTensorflow> {
  const { candidates, ruledOut } = backendPlan(options.choice, options.gpus, options.autoOrder);
  const dirs = options.dirs ?? {};
  const nvidiaPresent = options.nvidiaDevicePresent ?? (() => existsSync('/dev/nvidiactl'));
  const skipped: SkippedBackend[] = [...ruledOut];
  for (const backend of candidates) {
    let loaded: Tf | string;
    if (backend === 'tensorflow-gpu') {
      // Loading the CUDA build where there is no device only to fall back would leave a second
      // libtensorflow in the process; look for the device first.
      loaded = nvidiaPresent()
        ? await loadNative(
            dirs.gpu ?? nativeAddonDir('gpu'),
            '@tensorflow/tfjs-node-gpu',
            'gpu',
            options.intraOpThreads,
          )
        : 'no NVIDIA device in this container (/dev/nvidiactl is missing)';
      if (typeof loaded !== 'string') {
        if (usesGpu(loaded)) return { tf: loaded, backend, skipped };
        if (options.choice !== 'auto') {
          throw new BackendUnavailableError(
            'LATHE_BACKEND=tensorflow-gpu cannot be used: TensorFlow found no usable GPU (see its log above)',
          );
        }
        // The CUDA build runs its CPU kernels: that is the native CPU backend.
        skipped.push({ backend, reason: 'TensorFlow found no usable GPU (see its log above)' });
        return { tf: loaded, backend: 'tensorflow', skipped };
      }
    } else if (backend === 'tensorflow') {
      loaded = await loadNative(
        dirs.cpu ?? nativeAddonDir('cpu'),
        '@tensorflow/tfjs-node',
        'cpu',
        options.intraOpThreads,
      );
    } else {
      loaded = await loadPortable(backend);
    }
    if (typeof loaded !== 'string') return { tf: loaded, backend, skipped };
    if (options.choice !== 'auto') {
      throw new BackendUnavailableError(`LATHE_BACKEND=${backend} cannot be used: ${loaded}`);
    }
    skipped.push({ backend, reason: loaded });
  }
  // Unreachable with `auto` (plain JavaScript always loads), kept for the type checker.
  throw new BackendUnavailableError(
    `no TensorFlow.js backend could be used: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  );
}
