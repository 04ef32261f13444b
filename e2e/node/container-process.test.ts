import { describe, expect, it } from 'vitest';
import { sandboxCommand } from './container-process.js';

const spec = { argv: ['sleep', '1'], env: new Map(), workingDir: undefined, mounts: [] };

describe('sandboxCommand', () => {
  it('enters the pod’s network namespace, then runs bwrap', () => {
    const { command, args } = sandboxCommand('/usr/bin/bwrap', {
      ...spec,
      netnsPath: '/run/netns/lathe3-pod-u1',
      hostname: 'web-1',
    });
    expect(command).toBe('nsenter');
    expect(args.slice(0, 3)).toEqual(['--net=/run/netns/lathe3-pod-u1', '--', '/usr/bin/bwrap']);
    expect(args).toContain('web-1');
    expect(args.slice(-3)).toEqual(['--', 'sleep', '1']);
  });

  it('runs bwrap in the node’s own namespace for a hostNetwork pod', () => {
    const { command, args } = sandboxCommand('/usr/bin/bwrap', spec);
    expect(command).toBe('/usr/bin/bwrap');
    expect(args).not.toContain('--unshare-uts');
  });
});
