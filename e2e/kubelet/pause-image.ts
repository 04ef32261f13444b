/**
 * The pod sandbox image, made here instead of pulled: an OCI image archive of one layer holding
 * the static `pause` program (compiled from the Kubernetes module's source by
 * `build-components.sh`), named `registry.k8s.io/pause:<tag>` so containerd's CRI finds it as its
 * sandbox image and never goes to a registry for it. The archive is byte-for-byte reproducible
 * (fixed owners and times), so its digest only changes with the program.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

interface Blob {
  digest: string;
  size: number;
}

async function putBlob(layout: string, content: Buffer): Promise<Blob> {
  const hex = createHash('sha256').update(content).digest('hex');
  await writeFile(path.join(layout, 'blobs', 'sha256', hex), content);
  return { digest: `sha256:${hex}`, size: content.length };
}

/** A deterministic tar of `files` (names relative to `dir`). */
async function tarOf(dir: string, files: string[], out: string): Promise<void> {
  await exec('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '-cf',
    out,
    '-C',
    dir,
    ...files,
  ]);
}

/** Writes the sandbox image `reference` (e.g. registry.k8s.io/pause:3.10.1) to `archive`. */
export async function writePauseArchive(
  pauseBinary: string,
  reference: string,
  archive: string,
): Promise<void> {
  const work = await mkdtemp(path.join(path.dirname(archive), '.pause-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    const layout = path.join(work, 'layout');
    await mkdir(rootfs, { recursive: true });
    await mkdir(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    await copyFile(pauseBinary, path.join(rootfs, 'pause'));
    await tarOf(rootfs, ['pause'], path.join(work, 'layer.tar'));
    const layerBytes = await readFile(path.join(work, 'layer.tar'));
    const layer = await putBlob(layout, layerBytes);
    const config = await putBlob(
      layout,
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Entrypoint: ['/pause'], User: '65535:65535' },
          rootfs: { type: 'layers', diff_ids: [layer.digest] },
        }),
      ),
    );
    const manifest = await putBlob(
      layout,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
        }),
      ),
    );
    await writeFile(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      path.join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            annotations: {
              'io.containerd.image.name': reference,
              'org.opencontainers.image.ref.name': reference.split(':').at(-1),
            },
          },
        ],
      }),
    );
    await tarOf(layout, ['oci-layout', 'index.json', 'blobs'], archive);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
