import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bwrapArgs, findBwrap, resolveMountPoint } from './bwrap.js';
import { imageFileMounts } from './images.js';

describe('bwrapArgs', () => {
  it('binds the host, devices and proc, then the volumes, then runs argv', () => {
    expect(
      bwrapArgs({
        mounts: [
          {
            hostPath: '/n/pods/p/sa',
            containerPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            readOnly: true,
          },
          { hostPath: '/n/pods/p/data', containerPath: '/data/', readOnly: false },
          {
            hostPath: '/n/pods/p/main.termination-log',
            containerPath: '/dev/termination-log',
            readOnly: false,
          },
        ],
        workingDir: '/data',
        argv: ['sh', '-c', 'echo hi'],
      }),
    ).toEqual([
      '--bind',
      '/',
      '/',
      '--dev-bind',
      '/dev',
      '/dev',
      '--proc',
      '/proc',
      '--bind',
      '/n/pods/p/data',
      '/data/',
      '--bind',
      '/n/pods/p/main.termination-log',
      '/dev/termination-log',
      '--ro-bind',
      '/n/pods/p/sa',
      '/var/run/secrets/kubernetes.io/serviceaccount',
      '--die-with-parent',
      '--chdir',
      '/data',
      '--',
      'sh',
      '-c',
      'echo hi',
    ]);
  });

  it('gives the sandbox its own hostname when the pod has one', () => {
    const args = bwrapArgs({
      mounts: [],
      workingDir: undefined,
      argv: ['hostname'],
      hostname: 'web-1',
    });
    expect(args.slice(args.indexOf('--die-with-parent'))).toEqual([
      '--die-with-parent',
      '--unshare-uts',
      '--hostname',
      'web-1',
      '--',
      'hostname',
    ]);
    expect(bwrapArgs({ mounts: [], workingDir: undefined, argv: ['x'] })).not.toContain(
      '--unshare-uts',
    );
  });

  it('mounts a parent volume before a volume nested in it, whatever the spec order', () => {
    const args = bwrapArgs({
      mounts: [
        { hostPath: '/v/inner', containerPath: '/data/inner', readOnly: true },
        { hostPath: '/v/outer', containerPath: '/data', readOnly: false },
      ],
      workingDir: undefined,
      argv: ['true'],
    });
    expect(args.indexOf('/v/outer')).toBeLessThan(args.indexOf('/v/inner'));
    expect(args).not.toContain('--chdir');
  });
});

describe('findBwrap', () => {
  it('finds an executable bwrap on the search path, or nothing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bwrap-'));
    expect(findBwrap(`/nonexistent${path.delimiter}${dir}`)).toBeUndefined();
    writeFileSync(path.join(dir, 'bwrap'), '#!/bin/sh\n');
    chmodSync(path.join(dir, 'bwrap'), 0o755);
    expect(findBwrap(`/nonexistent${path.delimiter}${dir}`)).toBe(path.join(dir, 'bwrap'));
  });
});

describe('resolveMountPoint', () => {
  const links: Record<string, string> = {
    '/var': '/var',
    '/var/run': '/run',
    '/run': '/run',
    '/dev': '/dev',
  };
  const realpath = (p: string) => {
    const real = links[p];
    if (!real) throw new Error('ENOENT');
    return real;
  };
  it.each([
    ['/var/run/secrets/kubernetes.io/serviceaccount', '/run/secrets/kubernetes.io/serviceaccount'],
    ['/var/run/', '/run'],
    ['/dev/termination-log', '/dev/termination-log'],
    ['/data/x', '/data/x'],
  ])('%s → %s', (input, expected) => {
    expect(resolveMountPoint(input, realpath)).toBe(expected);
  });
});

describe('image files over volumes', () => {
  it('binds a repository under /tmp after an emptyDir at /tmp, so the volume cannot hide it', () => {
    const args = bwrapArgs({
      mounts: [
        // What the pod worker passes: the pod's volumes, then the image's own files.
        { hostPath: '/node/pods/p/volumes/tmp', containerPath: '/tmp', readOnly: false },
        ...imageFileMounts({ files: ['/tmp/clone'] }),
      ],
      workingDir: '/tmp/clone',
      argv: ['node', 'main.js'],
    });
    const mountAt = (source: string, target: string) =>
      args.findIndex((a, i) => a === '--bind' && args[i + 1] === source && args[i + 2] === target);
    const volume = mountAt('/node/pods/p/volumes/tmp', '/tmp');
    const repo = mountAt('/tmp/clone', '/tmp/clone');
    expect(volume).toBeGreaterThan(0);
    expect(repo).toBeGreaterThan(volume);
  });
});
