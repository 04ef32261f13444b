/**
 * Pod IP allocation from a loopback prefix. Linux routes all of 127.0.0.0/8 to `lo`, so every
 * pod can bind its own address with no setup, and two pods can both listen on port 8080.
 *
 * Addresses are handed out cyclically (the next free one after the last handed out), so a
 * released address is not reused at once and a late connection to a deleted pod does not
 * reach its successor. A pod that already has an address in its status (a node restart) gets
 * that one back when it is free.
 */

/** The node's own address, reported as hostIP and as the node's InternalIP. */
export const hostIP = '127.0.0.1';

/** Allocates distinct pod IPs under a `127.x` or `127.x.y` prefix. Not shared between nodes. */
export class PodIpAllocator {
  private readonly base: number;
  private readonly size: number;
  private readonly owners = new Map<number, string>();
  private readonly byOwner = new Map<string, number>();
  private cursor = 0;

  /** `prefix` is "127.a" (a /16) or "127.a.b" (a /24). */
  constructor(prefix: string) {
    const octets = prefix.split('.').map(Number);
    const padded = [...octets, 0, 0, 0, 0].slice(0, 4) as [number, number, number, number];
    this.base = ((padded[0] << 24) | (padded[1] << 16) | (padded[2] << 8) | padded[3]) >>> 0;
    this.size = octets.length === 2 ? 1 << 16 : 1 << 8;
  }

  /**
   * The address of `owner` (a pod UID): its current one, else `preferred` when free and in
   * range, else the next free one. Throws when the range is exhausted.
   */
  allocate(owner: string, preferred?: string): string {
    const held = this.byOwner.get(owner);
    if (held !== undefined) return this.format(held);
    const wanted = preferred === undefined ? undefined : this.offsetOf(preferred);
    if (wanted !== undefined && this.usable(wanted) && !this.owners.has(wanted)) {
      return this.take(owner, wanted);
    }
    for (let step = 0; step < this.size; step++) {
      const offset = (this.cursor + step) % this.size;
      if (this.usable(offset) && !this.owners.has(offset)) {
        this.cursor = (offset + 1) % this.size;
        return this.take(owner, offset);
      }
    }
    throw new Error(`No free pod IP left under ${this.format(0)}/${32 - Math.log2(this.size)}`);
  }

  /** Releases `owner`'s address, if it has one. */
  release(owner: string): void {
    const offset = this.byOwner.get(owner);
    if (offset === undefined) return;
    this.byOwner.delete(owner);
    this.owners.delete(offset);
  }

  /** Number of addresses in use. */
  get inUse(): number {
    return this.owners.size;
  }

  private take(owner: string, offset: number): string {
    this.owners.set(offset, owner);
    this.byOwner.set(owner, offset);
    return this.format(offset);
  }

  /** Skips .0 and .255 of every /24 (network/broadcast look-alikes) and .1 (the "gateway"). */
  private usable(offset: number): boolean {
    const last = (this.base + offset) & 0xff;
    return last !== 0 && last !== 255 && last !== 1;
  }

  private offsetOf(ip: string): number | undefined {
    const parts = ip.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      return undefined;
    }
    const [a, b, c, d] = parts as [number, number, number, number];
    const value = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    const offset = value - this.base;
    return offset >= 0 && offset < this.size ? offset : undefined;
  }

  private format(offset: number): string {
    const v = (this.base + offset) >>> 0;
    return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
  }
}
