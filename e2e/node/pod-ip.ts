/**
 * Pod IP allocation from the node's pod CIDR (the bridge holds its first address, the pods'
 * gateway).
 *
 * Addresses are handed out cyclically (the next free one after the last handed out), so a
 * released address is not reused at once and a late connection to a deleted pod does not
 * reach its successor. A pod that already has an address in its status (a node restart) gets
 * that one back when it is free.
 */

/** Allocates distinct pod IPs from an IPv4 CIDR. Not shared between nodes. */
export class PodIpAllocator {
  private readonly base: number;
  private readonly size: number;
  private readonly owners = new Map<number, string>();
  private readonly byOwner = new Map<string, number>();
  private cursor = 0;

  /** `cidr` is an IPv4 CIDR of prefix length 16 to 28, e.g. "10.244.3.0/24". */
  constructor(cidr: string) {
    const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
    const octets = match?.slice(1, 5).map(Number) ?? [];
    const length = Number(match?.[5]);
    if (!match || octets.some((o) => o > 255) || length < 16 || length > 28) {
      throw new Error(`"${cidr}" is not an IPv4 CIDR of prefix length 16 to 28`);
    }
    const [a, b, c, d] = octets as [number, number, number, number];
    this.size = 2 ** (32 - length);
    const address = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    this.base = address - (address % this.size);
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

  /** The first address of the range: the bridge's, the pods' gateway. */
  get gateway(): string {
    return this.format(1);
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

  /**
   * Skips the network and broadcast addresses, the gateway (the first address), and .0 and .255
   * of every /24 inside a larger range, which some software takes for network addresses.
   */
  private usable(offset: number): boolean {
    const last = (this.base + offset) & 0xff;
    return offset > 1 && offset < this.size - 1 && last !== 0 && last !== 255;
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
