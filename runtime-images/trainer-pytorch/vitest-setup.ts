/**
 * Vitest global setup of the cluster suites: the PyTorch trainer's Python environment
 * (`runtime-images/python/prepare-env.sh` on Debian's python3-torch; about ten seconds once,
 * two afterwards), which the process node runs the image `ghcr.io/lathe-dev/lathe-trainer-pytorch`
 * with.
 */
import { preparePytorchEnv } from './pytorch-env.js';

export default async function setup(): Promise<void> {
  await preparePytorchEnv();
}
