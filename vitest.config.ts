import { defineConfig } from 'vitest/config';

// Three projects: `unit` is pure logic beside the code (*.test.ts), fast and needing nothing;
// `cluster` is the integration and end-to-end suites (*.itest.ts), which share one local
// cluster per run, brought up by the global setup; `kubelet` is the suites tagged for the real
// node (*.kubelet-test.ts): the same kind of cluster with a kubelet on containerd, where every
// pod is a container from Lathe's images (e2e/kubelet/).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'contract/**/*.test.ts',
            'console/**/*.test.ts',
            'operator/**/*.test.ts',
            'e2e/**/*.test.ts',
            'runtime-images/**/*.test.ts',
            'scripts/**/*.test.ts',
            'charts/**/*.test.ts',
            'bench/**/*.test.ts',
          ],
          environment: 'node',
          // Builds (once, cached) the native TensorFlow.js addon some unit tests train on.
          globalSetup: ['runtime-images/tensorflow/vitest-setup.ts'],
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['**/*.itest.ts'],
          exclude: ['node_modules/**', 'dist/**'],
          environment: 'node',
          globalSetup: [
            'e2e/cluster/vitest-global-setup.ts',
            'runtime-images/tensorflow/vitest-setup.ts',
            'runtime-images/trainer-sklearn/vitest-setup.ts',
            'runtime-images/trainer-pytorch/vitest-setup.ts',
          ],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          // Suites share one cluster; running them one file at a time keeps the 2-core CI
          // machine from starving the control plane.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'kubelet',
          include: ['**/*.kubelet-test.ts'],
          exclude: ['node_modules/**', 'dist/**'],
          environment: 'node',
          globalSetup: ['e2e/kubelet/vitest-global-setup.ts'],
          env: { LATHE_STATE_DIR: '.lathe-kubelet' },
          testTimeout: 300_000,
          hookTimeout: 900_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
