import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralPortRange, freePort } from './ports.js';

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range that can be bound', async () => {
    const [low] = ephemeralPortRange();
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeLessThan(low);
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('never hands out a port someone listens on', async () => {
    const taken = await freePort();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(taken, '127.0.0.1', resolve));
    try {
      for (let i = 0; i < 50; i++) expect(await freePort()).not.toBe(taken);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('ephemeralPortRange', () => {
  it.each([
    ['32768\t60999\n', [32768, 60999]],
    ['1024 65000', [1024, 65000]],
    ['garbage', [32768, 60999]],
  ])('reads %j', (text, expected) => {
    expect(ephemeralPortRange(() => text)).toEqual(expected);
  });

  it('falls back to Linux’s default when the file cannot be read', () => {
    expect(
      ephemeralPortRange(() => {
        throw new Error('ENOENT');
      }),
    ).toEqual([32768, 60999]);
  });
});
