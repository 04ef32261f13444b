import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  backendPlan,
  cacheRoot,
  cpuBudget,
  intraOpThreadsFor,
  loadTensorflow,
  nativeAddonDir,
  preparedAddonDir,
  tensorValues,
} from './backend.js';

describe('backendPlan', () => {
  it.each([
    ['auto', 0, ['tensorflow', 'wasm', 'cpu'], ['tensorflow-gpu']],
    ['auto', 1, ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'], []],
    ['tensorflow', 2, ['tensorflow'], []],
    ['wasm', 0, ['wasm'], []],
    ['cpu', 0, ['cpu'], []],
    ['tensorflow-gpu', 1, ['tensorflow-gpu'], []],
  ] as const)('%s with %d GPUs tries %j', (choice, gpus, candidates, ruledOut) => {
    const plan = backendPlan(choice, gpus);
    expect(plan.candidates).toEqual(candidates);
    expect(plan.ruledOut.map((s) => s.backend)).toEqual(ruledOut);
  });

  it.each([
    [0, ['wasm', 'cpu'], []],
    [1, ['wasm', 'cpu'], []],
  ] as const)(
    'auto in another order (%d GPUs) tries exactly that order',
    (gpus, candidates, ruledOut) => {
      const plan = backendPlan('auto', gpus, ['wasm', 'cpu']);
      expect(plan.candidates).toEqual(candidates);
      expect(plan.ruledOut.map((s) => s.backend)).toEqual(ruledOut);
      // A forced backend is tried whatever the order says.
      expect(backendPlan('tensorflow', gpus, ['wasm', 'cpu']).candidates).toEqual(['tensorflow']);
    },
  );

  it('refuses a forced GPU backend without GPUs, saying what to do', () => {
    expect(() => backendPlan('tensorflow-gpu', 0)).toThrow(
      /needs a GPU, but the pod was given none \(LATHE_GPUS=0\): request nvidia.com\/gpu/,
    );
  });
});

describe('cpuBudget', () => {
  const files = (entries: Record<string, string>) => (file: string) => entries[file];
  it.each([
    ['no cgroup files', {}, 8],
    ['cgroup v2 without a limit', { '/sys/fs/cgroup/cpu.max': 'max 100000\n' }, 8],
    ['cgroup v2, 2 CPUs', { '/sys/fs/cgroup/cpu.max': '200000 100000\n' }, 2],
    ['cgroup v2, 1.5 CPUs rounds up', { '/sys/fs/cgroup/cpu.max': '150000 100000' }, 2],
    ['cgroup v2, a quarter CPU', { '/sys/fs/cgroup/cpu.max': '25000 100000' }, 1],
    ['cgroup v2, more than the machine', { '/sys/fs/cgroup/cpu.max': '3200000 100000' }, 8],
    [
      'cgroup v1, 3 CPUs',
      {
        '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000\n',
        '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
      },
      3,
    ],
    ['cgroup v1 without a limit', { '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1' }, 8],
  ])('%s', (_, entries, expected) => {
    expect(cpuBudget(files(entries), 8)).toBe(expected);
  });
});

describe('intraOpThreadsFor', () => {
  it.each([
    [64 * 64 * 32, 8, 1],
    [4 * 1024 * 1024 - 1, 8, 1],
    [4 * 1024 * 1024, 8, 8],
    [512 * 1024 * 512, 2, 2],
  ])('%d multiply-adds with %d CPUs: %d threads', (work, budget, expected) => {
    expect(intraOpThreadsFor(work, budget)).toBe(expected);
  });
});

describe('preparedAddonDir', () => {
  it('names the cache entry by variant, versions and lockfile', () => {
    expect(path.basename(preparedAddonDir('cpu', '/c'))).toMatch(
      /^tfjs-node-cpu-4\.22\.0-tensorflow-2\.15\.1-[0-9a-f]{12}$/,
    );
    expect(preparedAddonDir('gpu', '/c')).toMatch(/^\/c\/tensorflow\/tfjs-node-gpu-/);
  });

  it('prefers the directories an image names', () => {
    const env = { LATHE_TFJS_NODE_DIR: '/opt/cpu', LATHE_TFJS_NODE_GPU_DIR: '/opt/gpu' };
    expect(nativeAddonDir('cpu', env)).toBe('/opt/cpu');
    expect(nativeAddonDir('gpu', env)).toBe('/opt/gpu');
    expect(nativeAddonDir('cpu', { LATHE_CACHE_DIR: '/c' })).toBe(preparedAddonDir('cpu', '/c'));
  });

  it('honours LATHE_CACHE_DIR, then XDG_CACHE_HOME', () => {
    expect(cacheRoot({ LATHE_CACHE_DIR: '/x' })).toBe('/x');
    expect(cacheRoot({ XDG_CACHE_HOME: '/y' })).toBe('/y/lathe');
  });
});

describe('loadTensorflow without native addons', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'lathe-no-addon-'));
  const dirs = { cpu: path.join(empty, 'cpu'), gpu: path.join(empty, 'gpu') };

  it('falls back to WebAssembly and says why each faster backend was skipped', async () => {
    const loaded = await loadTensorflow({
      choice: 'auto',
      gpus: 1,
      dirs,
      nvidiaDevicePresent: () => false,
    });
    expect(loaded.backend).toBe('wasm');
    expect(loaded.tf.getBackend()).toBe('wasm');
    expect(loaded.skipped).toEqual([
      {
        backend: 'tensorflow-gpu',
        reason: 'no NVIDIA device in this container (/dev/nvidiactl is missing)',
      },
      {
        backend: 'tensorflow',
        reason: expect.stringContaining('@tensorflow/tfjs-node is not built in'),
      },
    ]);
  });

  it('tries the GPU build when a device is present, and names what is missing', async () => {
    const loaded = await loadTensorflow({
      choice: 'auto',
      gpus: 1,
      dirs,
      nvidiaDevicePresent: () => true,
    });
    expect(loaded.skipped[0]).toEqual({
      backend: 'tensorflow-gpu',
      reason: expect.stringContaining('npm run tensorflow:prepare -- --gpu'),
    });
  });

  it('fails a forced native backend that is not there', async () => {
    await expect(loadTensorflow({ choice: 'tensorflow', gpus: 0, dirs })).rejects.toThrow(
      BackendUnavailableError,
    );
    await expect(loadTensorflow({ choice: 'tensorflow', gpus: 0, dirs })).rejects.toThrow(
      /LATHE_BACKEND=tensorflow cannot be used: @tensorflow\/tfjs-node is not built/,
    );
  });

  it('loads plain JavaScript when forced', async () => {
    const loaded = await loadTensorflow({ choice: 'cpu', gpus: 0, dirs });
    expect(loaded).toMatchObject({ backend: 'cpu', skipped: [] });
    expect(loaded.tf.getBackend()).toBe('cpu');
  });
});

describe('loadTensorflow with the native CPU addon (built by the test setup)', () => {
  it('chooses native TensorFlow and computes on it', async () => {
    const loaded = await loadTensorflow({ choice: 'auto', gpus: 0 });
    expect(loaded.backend).toBe('tensorflow');
    expect(loaded.tf.getBackend()).toBe('tensorflow');
    const product = loaded.tf.matMul(loaded.tf.tensor2d([[1, 2]]), loaded.tf.tensor2d([[3], [4]]));
    expect(Array.from(product.dataSync())).toEqual([11]);
  });
});

describe('loadTensorflow with a GPU build that finds no GPU', () => {
  // Stands in for tfjs-node-gpu on a node whose GPU TensorFlow cannot use: the CPU addon under
  // the GPU package's name (it reports no GPU device, as the CUDA build does without a driver).
  const gpu = mkdtempSync(path.join(os.tmpdir(), 'lathe-gpu-addon-'));
  mkdirSync(path.join(gpu, 'node_modules/@tensorflow'), { recursive: true });
  symlinkSync(
    path.join(nativeAddonDir('cpu')!, 'node_modules/@tensorflow/tfjs-node'),
    path.join(gpu, 'node_modules/@tensorflow/tfjs-node-gpu'),
  );
  const options = { gpus: 1, dirs: { gpu }, nvidiaDevicePresent: () => true };

  it('refuses it when the GPU backend is forced', async () => {
    await expect(loadTensorflow({ choice: 'tensorflow-gpu', ...options })).rejects.toThrow(
      'LATHE_BACKEND=tensorflow-gpu cannot be used: TensorFlow found no usable GPU',
    );
  });

  it('runs native TensorFlow on the CPU under auto, saying why not on the GPU', async () => {
    const loaded = await loadTensorflow({ choice: 'auto', ...options });
    expect(loaded.backend).toBe('tensorflow');
    expect(loaded.skipped).toEqual([
      { backend: 'tensorflow-gpu', reason: 'TensorFlow found no usable GPU (see its log above)' },
    ]);
  });
});

describe('tensorValues', () => {
  it('reads the computed tensor and frees it and its intermediates', async () => {
    const { tf } = await loadTensorflow({ choice: 'cpu', gpus: 0 });
    const before = tf.memory().numTensors;
    const values = tensorValues(tf, () => tf.tensor1d([1, 2, 3]).mul(2).add(1));
    expect(Array.from(values)).toEqual([3, 5, 7]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
