/**
 * The node's "image registry": a map from image name to a local entry point.
 *
 * A container image on this node is not pulled and unpacked; its name selects a program that
 * already exists on this machine. The entry's `entrypoint` plays the role of the image's
 * ENTRYPOINT and `defaultArgs` of its CMD, so a pod's `command`/`args` override them with the
 * usual Kubernetes semantics (see `command.ts`). Adding an image is one entry here, or an entry
 * in the JSON file named by `LATHE_NODE_IMAGES`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { pythonEnvDir, pythonOf } from '../../runtime-images/python/env-dir.js';
import type { BindMount } from './bwrap.js';

/** What a mapped image runs. */
export interface ImageEntry {
  /** The image's ENTRYPOINT; absent for images that only run what `command` names. */
  entrypoint?: string[];
  /** The image's CMD, used when the pod gives neither `command` nor `args`. */
  defaultArgs?: string[];
  /** Environment the image sets; the container's own `env` wins. */
  env?: Record<string, string>;
  /** The image's WORKDIR, used when the container has no `workingDir`. */
  workingDir?: string;
  /**
   * Host directories that are the image's own files (for a program run from this repository,
   * the repository). A container's image files are never hidden by a volume mounted elsewhere,
   * so these are bound at their own paths on top of the pod's volumes: a clone under /tmp stays
   * visible to a pod that mounts an emptyDir at /tmp.
   */
  files?: string[];
}

export type ImageMap = Record<string, ImageEntry>;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A TypeScript program run by this Node.js with tsx, from the repository root. */
function tsProgram(relativePath: string): ImageEntry {
  return {
    entrypoint: [process.execPath, '--import', 'tsx', path.join(repoRoot, relativePath)],
    // `--import tsx` resolves tsx from the working directory.
    workingDir: repoRoot,
    files: [repoRoot],
  };
}

/**
 * Where the programs find what the project's scripts cached (the native TensorFlow.js addon,
 * Python environments): the node's own LATHE_CACHE_DIR, when it has one, reaches the pods.
 */
function cacheEnv(): Record<string, string> {
  return process.env.LATHE_CACHE_DIR ? { LATHE_CACHE_DIR: process.env.LATHE_CACHE_DIR } : {};
}

/** Lathe's TensorFlow.js trainer; it picks its backend itself (a GPU one only with GPUs). */
function trainer(): ImageEntry {
  const entry = tsProgram('runtime-images/trainer/main.ts');
  return { ...entry, env: cacheEnv() };
}

/**
 * Where a Python trainer's modules are: its own directory, then the shared runtime package
 * (`runtime-images/python/lathe_runtime`), as its image copies both into /app.
 */
export function pythonTrainerPath(trainerDir: string): string {
  return [trainerDir, path.join(repoRoot, 'runtime-images/python')].join(path.delimiter);
}

/**
 * The scikit-learn trainer (Python), run by the interpreter of the environment that
 * `runtime-images/python/prepare-env.sh trainer-sklearn ...` builds.
 */
function sklearnTrainer(): ImageEntry {
  const dir = path.join(repoRoot, 'runtime-images/trainer-sklearn');
  const env = pythonEnvDir('trainer-sklearn', path.join(dir, 'requirements.txt'));
  return {
    entrypoint: [pythonOf(env), '-m', 'lathe_sklearn'],
    env: { ...cacheEnv(), PYTHONPATH: pythonTrainerPath(dir), PYTHONUNBUFFERED: '1' },
    workingDir: repoRoot,
    files: [repoRoot],
  };
}

/**
 * The PyTorch trainer (Python), run by the interpreter of the environment that
 * `runtime-images/python/prepare-env.sh trainer-pytorch ...` builds on Debian's python3-torch.
 * A distributed worker starts torchrun from the same interpreter (`python -m lathe_pytorch`
 * re-executes itself under `lathe_pytorch.torchrun` when PET_* ask for several processes).
 */
function pytorchTrainer(): ImageEntry {
  const dir = path.join(repoRoot, 'runtime-images/trainer-pytorch');
  const env = pythonEnvDir('trainer-pytorch', path.join(dir, 'requirements.txt'));
  return {
    entrypoint: [pythonOf(env), '-m', 'lathe_pytorch'],
    env: { ...cacheEnv(), PYTHONPATH: pythonTrainerPath(dir), PYTHONUNBUFFERED: '1' },
    workingDir: repoRoot,
    files: [repoRoot],
  };
}

/** The bind mounts that keep an image's own files visible over the pod's volumes. */
export function imageFileMounts(image: ImageEntry): BindMount[] {
  return (image.files ?? []).map((dir) => ({ hostPath: dir, containerPath: dir, readOnly: false }));
}

/** The images every process node knows. */
export const builtInImages: ImageMap = {
  'ghcr.io/lathe-dev/lathe-operator': tsProgram('operator/src/main.ts'),
  // The server finds the native TensorFlow.js addon (LATHE_BACKEND=tensorflow) in the cache.
  'ghcr.io/lathe-dev/lathe-server': {
    ...tsProgram('runtime-images/server/main.ts'),
    env: cacheEnv(),
  },
  'ghcr.io/lathe-dev/lathe-retrain': tsProgram('runtime-images/retrain/main.ts'),
  'ghcr.io/lathe-dev/lathe-activator': tsProgram('runtime-images/activator/main.ts'),
  'ghcr.io/lathe-dev/lathe-ingest': tsProgram('runtime-images/ingest/main.ts'),
  'ghcr.io/lathe-dev/lathe-trainer': trainer(),
  // The CUDA variant a TrainingJob asking for GPUs runs; here the same program, which uses a
  // GPU only where TensorFlow finds one.
  'ghcr.io/lathe-dev/lathe-trainer-gpu': trainer(),
  'ghcr.io/lathe-dev/lathe-trainer-sklearn': sklearnTrainer(),
  'ghcr.io/lathe-dev/lathe-trainer-pytorch': pytorchTrainer(),
  // No entrypoint: `command` is looked up on the host's PATH (sh, sleep, cat, env, ...).
  'lathe.dev/test/busybox': {},
  'lathe.dev/test/http': tsProgram('e2e/images/http-server.ts'),
  // A hostile custom trainer for the tenancy tests (tries other namespaces' data).
  'lathe.dev/test/tenant-probe': tsProgram('e2e/images/tenant-probe.ts'),
  // A distributed run's workers meeting at MASTER_ADDR:MASTER_PORT (spec.distributed tests).
  'lathe.dev/test/rendezvous-probe': tsProgram('e2e/images/rendezvous-probe.ts'),
};

/**
 * The repository part of an image reference: without `@sha256:...` digest and `:tag`, and
 * without the implicit `docker.io/` and `library/` a runtime would add. A `:` before the last
 * `/` is a registry port, not a tag.
 */
export function imageNameOf(image: string): string {
  let name = image.trim();
  const at = name.indexOf('@');
  if (at !== -1) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  name = name.replace(/^(docker\.io|index\.docker\.io)\//, '');
  name = name.replace(/^library\//, '');
  return name;
}

/** The entry for `image`, or undefined when this node cannot run it. */
export function lookUpImage(images: ImageMap, image: string): ImageEntry | undefined {
  return Object.hasOwn(images, imageNameOf(image)) ? images[imageNameOf(image)] : undefined;
}

const entrySchema = z
  .object({
    entrypoint: z.array(z.string()).min(1).optional(),
    defaultArgs: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    workingDir: z.string().optional(),
    files: z.array(z.string().startsWith('/')).optional(),
  })
  .strict();

/** Validates the extra image entries of a `LATHE_NODE_IMAGES` file. */
export function parseExtraImages(text: string, source: string): ImageMap {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const parsed = z.record(z.string(), entrySchema).safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`${source}: invalid image map: ${issues.join('; ')}`);
  }
  const map: ImageMap = {};
  for (const [name, entry] of Object.entries(parsed.data)) {
    const clean: ImageEntry = {};
    if (entry.entrypoint) clean.entrypoint = entry.entrypoint;
    if (entry.defaultArgs) clean.defaultArgs = entry.defaultArgs;
    if (entry.env) clean.env = entry.env;
    if (entry.workingDir) clean.workingDir = entry.workingDir;
    if (entry.files) clean.files = entry.files;
    map[imageNameOf(name)] = clean;
  }
  return map;
}

/** The built-in images with the entries of `imagesFile` (if given) merged over them. */
export function loadImageMap(imagesFile: string | undefined): ImageMap {
  if (!imagesFile) return { ...builtInImages };
  const text = readFileSync(imagesFile, 'utf8');
  return { ...builtInImages, ...parseExtraImages(text, imagesFile) };
}
