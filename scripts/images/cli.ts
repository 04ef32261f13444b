/**
 * `npm run images`: builds Lathe's eight images from their Dockerfiles with buildah, on this
 * machine, without a Docker engine or a container registry, and writes one OCI archive per
 * image plus a manifest under ~/.cache/lathe/images/archives/.
 *
 *   npm run images                         build what changed (a second run takes seconds)
 *   npm run images -- --only server,operator
 *   npm run images -- --push REGISTRY      then copy each archive to REGISTRY/lathe-<name>:<tag>
 *                                          with skopeo, and write Helm values naming them
 *   npm run images -- --push REGISTRY --dest-tls-verify=false   (a plain-HTTP registry)
 *
 * Steps: prepare.sh (Debian packages when missing, the container tools' configuration under
 * the cache), base-images.sh (node and python bases from Debian packages and the npm registry),
 * then per image: its content key (Dockerfile, .dockerignore, every copied file, the base image,
 * version and revision); when the manifest has that key and the archive exists, nothing to do;
 * otherwise `buildah bud` (layers cached) and `buildah push` to an OCI archive. Runs as root.
 *
 * Host safety: storage, run, temporary and config directories are under the cache; containers
 * share the host network (nothing is added to the firewall); the blob-info cache that
 * containers/image insists on writing to /var/lib/containers/cache is removed again when this
 * run created it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contextFiles, contextKey } from './context.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

/** The images, in build order (cheapest first, so a failure shows early). */
export const images = [
  { name: 'operator', base: 'NODE_IMAGE' },
  { name: 'retrain', base: 'NODE_IMAGE' },
  { name: 'activator', base: 'NODE_IMAGE' },
  { name: 'ingest', base: 'NODE_IMAGE' },
  { name: 'server', base: 'NODE_IMAGE' },
  { name: 'trainer-sklearn', base: 'PYTHON_IMAGE' },
  { name: 'trainer', base: 'NODE_IMAGE' },
  // Debian's python3-torch and its libraries: the largest image, built last.
  { name: 'trainer-pytorch', base: 'PYTHON_IMAGE' },
] as const;
export type ImageName = (typeof images)[number]['name'];

/** One built image, as recorded in the manifest. */
export interface BuiltImage {
  name: ImageName;
  /** e.g. ghcr.io/lathe-dev/lathe-server:0.1.0 */
  reference: string;
  tag: string;
  /** The manifest digest in the OCI archive. */
  digest: string;
  /** Uncompressed size of the image's layers, bytes. */
  size: number;
  archive: string;
  archiveBytes: number;
  key: string;
  revision: string;
  buildSeconds: number;
}

export interface ImagesManifest {
  images: BuiltImage[];
}

/** versions.env as a map (KEY=value lines). */
export function readVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path.join(here, 'versions.env'), 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) versions[match[1]] = match[2];
  }
  return versions;
}

export function imagesDir(): string {
  const cacheRoot =
    process.env.LATHE_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'lathe');
  return process.env.LATHE_IMAGES_DIR ?? path.join(cacheRoot, 'images');
}

/** The environment that points buildah, podman and skopeo at the cache (as env.sh does). */
export function toolEnv(): NodeJS.ProcessEnv {
  const dir = imagesDir();
  return {
    ...process.env,
    CONTAINERS_STORAGE_CONF: path.join(dir, 'config/storage.conf'),
    CONTAINERS_CONF: path.join(dir, 'config/containers.conf'),
    CONTAINERS_REGISTRIES_CONF: path.join(dir, 'config/registries.conf'),
    REGISTRIES_CONFIG_PATH: path.join(dir, 'config/registries.conf'),
    TMPDIR: path.join(dir, 'tmp'),
  };
}

export const manifestPath = (): string => path.join(imagesDir(), 'archives/manifest.json');

export function readManifest(): ImagesManifest {
  try {
    return JSON.parse(readFileSync(manifestPath(), 'utf8')) as ImagesManifest;
  } catch {
    return { images: [] };
  }
}

function log(message: string): void {
  process.stderr.write(`[images] ${message}\n`);
}

function run(command: string, args: string[], options: { quiet?: boolean } = {}): string {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    env: toolEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', options.quiet ? 'pipe' : 'inherit'],
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.status !== 0) {
    const stderr = options.quiet ? `\n${result.stderr}` : '';
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}${stderr}`);
  }
  return result.stdout;
}

/** Runs a command with its output shown (builds), niced: this machine has two shared cores. */
function runShown(command: string, args: string[]): void {
  const result = spawnSync('nice', ['-n', '15', command, ...args], {
    cwd: repoRoot,
    env: toolEnv(),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`${command} ${args[0]} exited with ${result.status}`);
}

/** The last commit that changed an image's sources, marked when the working tree differs. */
function revisionOf(files: string[]): string {
  const git = (args: string[]) =>
    execFileSync('git', args, {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  try {
    const commit = git(['log', '-1', '--format=%H', '--', ...files]);
    const changed = git(['status', '--porcelain', '--', ...files]);
    return changed ? `${commit}-modified` : commit;
  } catch {
    return 'unknown';
  }
}

/**
 * What the sandbox's builds need to reach the package registries: its TLS-intercepting proxy's
 * CA is only in the host's bundle, so the bundle, an npmrc and a pip.conf naming it are mounted
 * into every RUN of the build, all under /root (root's own files: not the image's bundle in
 * /etc/ssl, which the trainer's build stage installs, and nothing user 65532 can read where a
 * single-stage image keeps the empty mount points). buildah's layer cache ignores mounts.
 */
function registryMounts(dir: string): string[] {
  const bundle = process.env.LATHE_IMAGES_CA_BUNDLE ?? '/etc/ssl/certs/ca-certificates.crt';
  if (!existsSync(bundle)) return [];
  const config = path.join(dir, 'config');
  const ca = '/root/.lathe-build-ca.crt';
  writeFileSync(
    path.join(config, 'npmrc'),
    `cafile=${ca}\naudit=false\nfund=false\nupdate-notifier=false\n`,
  );
  writeFileSync(
    path.join(config, 'pip.conf'),
    `[global]\ncert = ${ca}\ndisable-pip-version-check = true\n`,
  );
  return [
    '-v',
    `${bundle}:${ca}:ro`,
    '-v',
    `${path.join(config, 'npmrc')}:/root/.npmrc:ro`,
    '-v',
    `${path.join(config, 'pip.conf')}:/root/.config/pip/pip.conf:ro`,
  ];
}

function imageId(reference: string): string | undefined {
  try {
    return run(
      'buildah',
      ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', reference],
      {
        quiet: true,
      },
    ).trim();
  } catch {
    return undefined;
  }
}

function build(
  image: (typeof images)[number],
  versions: Record<string, string>,
  version: string,
  previous: BuiltImage | undefined,
): BuiltImage {
  const dir = imagesDir();
  const dockerfile = `runtime-images/${image.name}/Dockerfile`;
  const reference = `${versions.IMAGE_PREFIX}${image.name}:${version}`;
  const baseReference = versions[image.base] ?? '';
  const baseId = imageId(baseReference);
  if (!baseId) throw new Error(`the base image ${baseReference} is not in the local storage`);
  const revision = revisionOf(contextFiles(repoRoot, dockerfile));
  const key = createHash('sha256')
    .update(`${contextKey(repoRoot, dockerfile)}\0${baseId}\0${version}\0${revision}`)
    .digest('hex')
    .slice(0, 32);
  const archive = path.join(dir, 'archives', `lathe-${image.name}-${version}.oci.tar`);
  if (
    previous?.key === key &&
    existsSync(archive) &&
    statSync(archive).size === previous.archiveBytes &&
    imageId(reference)
  ) {
    log(`${image.name}: up to date (${reference})`);
    return previous;
  }
  log(`${image.name}: building ${reference} from ${dockerfile}`);
  const started = performance.now();
  runShown('buildah', [
    'bud',
    '--pull=never',
    '--layers',
    '--network=host',
    '--runtime=runc',
    '--isolation=oci',
    '--format=oci',
    '-f',
    dockerfile,
    '--ignorefile',
    `${dockerfile}.dockerignore`,
    '--build-arg',
    `VERSION=${version}`,
    '--build-arg',
    `REVISION=${revision}`,
    '--label',
    `dev.lathe.content-key=${key}`,
    ...registryMounts(dir),
    '-t',
    reference,
    '.',
  ]);
  const partial = `${archive}.partial`;
  rmSync(partial, { force: true });
  const digestFile = path.join(dir, 'tmp', `${image.name}.digest`);
  run('buildah', [
    'push',
    '--quiet',
    '--digestfile',
    digestFile,
    reference,
    `oci-archive:${partial}:${reference}`,
  ]);
  renameSync(partial, archive);
  const digest = readFileSync(digestFile, 'utf8').trim();
  const size = Number(
    run('podman', ['image', 'inspect', '--format', '{{.Size}}', reference], { quiet: true }).trim(),
  );
  const built: BuiltImage = {
    name: image.name,
    reference,
    tag: version,
    digest,
    size,
    archive,
    archiveBytes: statSync(archive).size,
    key,
    revision,
    buildSeconds: Math.round((performance.now() - started) / 1000),
  };
  log(
    `${image.name}: ${reference} ${mb(size)} uncompressed, archive ${mb(built.archiveBytes)}, ${built.buildSeconds} s`,
  );
  return built;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

/** Copies every built image to REGISTRY and writes Helm values that name them by digest. */
function push(manifest: ImagesManifest, registry: string, skopeoFlags: string[]): void {
  const dir = imagesDir();
  const pushed: Record<string, { repository: string; tag: string; digest: string }> = {};
  for (const image of manifest.images) {
    const repository = `${registry.replace(/\/$/, '')}/lathe-${image.name}`;
    const digestFile = path.join(dir, 'tmp', `${image.name}.pushed-digest`);
    log(`${image.name}: pushing to ${repository}:${image.tag}`);
    run('skopeo', [
      'copy',
      '--quiet',
      ...skopeoFlags,
      '--digestfile',
      digestFile,
      `oci-archive:${image.archive}`,
      `docker://${repository}:${image.tag}`,
    ]);
    pushed[image.name] = {
      repository,
      tag: image.tag,
      digest: readFileSync(digestFile, 'utf8').trim(),
    };
  }
  const values = helmValues(pushed);
  const file = path.join(
    dir,
    'archives',
    `values-${registry.replace(/[^A-Za-z0-9.-]+/g, '_')}.yaml`,
  );
  writeFileSync(file, values);
  log(`pushed ${Object.keys(pushed).length} images; Helm values naming them: ${file}`);
  process.stdout.write(`${file}\n`);
}

/** The chart's image values for pushed images (keys as in charts/lathe/values.yaml). */
export function helmValues(
  pushed: Record<string, { repository: string; tag: string; digest: string }>,
): string {
  const lines = ['# Written by `npm run images -- --push`: helm install ... -f <this file>'];
  const operator = pushed.operator;
  if (operator) {
    lines.push(
      'image:',
      `  repository: ${operator.repository}`,
      `  tag: "${operator.tag}"`,
      `  digest: "${operator.digest}"`,
    );
  }
  const runtime: [string, string][] = [
    ['ingest', 'ingest'],
    ['trainer', 'trainer'],
    ['server', 'server'],
    ['retrain', 'retrain'],
    ['activator', 'activator'],
  ];
  const present = runtime.filter(([name]) => pushed[name]);
  if (present.length > 0) {
    lines.push('runtimeImages:');
    for (const [name, key] of present) {
      const image = pushed[name];
      if (!image) continue;
      lines.push(`  ${key}:`, `    repository: ${image.repository}`, `    tag: "${image.tag}"`);
    }
    // No GPU build of the trainer is made here (it needs CUDA's libraries): GPU TrainingJobs
    // get the CPU trainer, whose TensorFlow.js backend falls back to the CPU when no GPU is
    // visible. A GPU image built elsewhere goes in runtimeImages.trainerGpu.
    const trainer = pushed.trainer;
    if (trainer) {
      lines.push(
        '  trainerGpu:',
        `    repository: ${trainer.repository}`,
        `    tag: "${trainer.tag}"`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

interface Options {
  only: ImageName[];
  push?: string;
  skopeoFlags: string[];
}

export function parseArgs(argv: readonly string[]): Options {
  const names = images.map((image) => image.name) as string[];
  const options: Options = { only: images.map((image) => image.name), skopeoFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--only') {
      const list = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = list.filter((name) => !names.includes(name));
      if (unknown.length > 0 || list.length === 0) {
        throw new Error(`--only takes a comma-separated list of ${names.join(', ')}`);
      }
      options.only = list as ImageName[];
    } else if (arg === '--push') {
      const registry = argv[++i];
      if (!registry) throw new Error('--push takes a registry, e.g. registry.example.com/lathe');
      options.push = registry;
    } else if (arg.startsWith('--dest-tls-verify=') || arg.startsWith('--dest-creds=')) {
      options.skopeoFlags.push(arg);
    } else {
      throw new Error(
        `unknown argument ${arg}: npm run images [-- [--only a,b] [--push REGISTRY [--dest-tls-verify=false] [--dest-creds=USER:PASSWORD]]]`,
      );
    }
  }
  return options;
}

/** Removes what containers/image wrote outside the cache, when this run created it. */
function hostCleanup(createdHere: boolean): void {
  if (createdHere) rmSync('/var/lib/containers', { recursive: true, force: true });
}

/** How long an untagged build stage is kept as layer cache. */
const staleBuildHours = 24;

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('npm run images needs root (buildah, mmdebstrap)');
  const started = performance.now();
  const varLibContainersExisted = existsSync('/var/lib/containers');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      hostCleanup(!varLibContainersExisted);
      process.exit(130);
    });
  }
  try {
    run('bash', [path.join(here, 'prepare.sh')]);
    mkdirSync(path.join(imagesDir(), 'archives'), { recursive: true });
    run('bash', [path.join(here, 'base-images.sh')]);
    const versions = readVersions();
    const version = (
      JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const manifest = readManifest();
    for (const image of images.filter((candidate) => options.only.includes(candidate.name))) {
      const previous = manifest.images.find((entry) => entry.name === image.name);
      const built = build(image, versions, version, previous);
      manifest.images = [...manifest.images.filter((entry) => entry.name !== image.name), built];
      manifest.images.sort(
        (a, b) =>
          images.findIndex((image) => image.name === a.name) -
          images.findIndex((image) => image.name === b.name),
      );
      writeFileSync(manifestPath(), `${JSON.stringify(manifest, null, 2)}\n`);
    }
    // Every build leaves its untagged stages (1.5–2.7 GB each) as the next build's layer cache;
    // kept for a day, so repeated builds on one machine do not fill its disk (a real node there
    // then taints itself with disk-pressure).
    run('podman', ['image', 'prune', '--force', '--filter', `until=${staleBuildHours}h`], {
      quiet: true,
    });
    log(
      `done in ${Math.round((performance.now() - started) / 1000)} s; manifest: ${manifestPath()}`,
    );
    for (const image of manifest.images) {
      log(`  ${image.reference.padEnd(48)} ${mb(image.size).padStart(8)}  ${image.digest}`);
    }
    if (options.push) {
      push(
        {
          images: manifest.images.filter((image) => options.only.includes(image.name)),
        },
        options.push,
        options.skopeoFlags,
      );
    }
  } finally {
    hostCleanup(!varLibContainersExisted);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`[images] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
