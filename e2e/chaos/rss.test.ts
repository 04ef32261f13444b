import { describe, expect, it } from 'vitest';
import { RssSampler, rssOf, vmRssBytes } from './rss.js';

describe('vmRssBytes', () => {
  it.each([
    ['Name:\tnode\nVmPeak:\t 1200 kB\nVmRSS:\t  204800 kB\nRssAnon:\t 100 kB\n', 204800 * 1024],
    ['Name:\tkthreadd\nState:\tS (sleeping)\n', undefined],
    ['VmRSS:\tlots kB\n', undefined],
  ])('%j → %s', (status, bytes) => {
    expect(vmRssBytes(status)).toBe(bytes);
  });
});

describe('rssOf and RssSampler', () => {
  it('reads this process’s RSS, and nothing for a pid that does not exist', async () => {
    const own = await rssOf(process.pid);
    expect(own).toBeGreaterThan(10 * 2 ** 20);
    expect(await rssOf(2 ** 22 + 7)).toBeUndefined();
  });

  it('keeps the peak over the pids it is given, ignoring those that have exited', async () => {
    const sampler = new RssSampler(() => [process.pid, 2 ** 22 + 7], 20);
    await new Promise((r) => setTimeout(r, 200));
    sampler.stop();
    expect(sampler.samples).toBeGreaterThan(2);
    expect(sampler.peakBytes).toBeGreaterThan(10 * 2 ** 20);
  });
});
