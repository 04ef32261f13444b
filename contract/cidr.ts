/**
 * IP address ranges (CIDRs), parsed and compared as numbers: one definition for the operator,
 * which validates the install's HTTP-source policy at start-up, and the ingestion program,
 * which applies it (`runtime-images/ingest/address-policy.ts`).
 *
 * IPv4-mapped IPv6 addresses (`::ffff:169.254.169.254`) compare as the IPv4 address they
 * carry, so the mapping is no way around a range.
 */
import { isIP } from 'node:net';

/** A range of addresses, as written (`10.96.0.0/12`) and as numbers. */
export interface Cidr {
  text: string;
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Bits(address: string): bigint {
  let text = address.split('%')[0]!;
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4Bits(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...new Array<string>(zeros).fill('0'), ...tailGroups];
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g || '0', 16)), 0n);
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;

/**
 * The address as the family and number rules compare: an IPv4-mapped IPv6 address is its
 * IPv4 address. Throws on anything that is not an IP address.
 */
export function addressBits(address: string): { family: 4 | 6; bits: bigint } {
  const family = isIP(address.split('%')[0]!);
  if (family === 4) return { family: 4, bits: ipv4Bits(address) };
  if (family === 6) {
    const bits = ipv6Bits(address);
    if (bits >> 32n === V4_MAPPED_PREFIX >> 32n) return { family: 4, bits: bits & 0xffffffffn };
    return { family: 6, bits };
  }
  throw new Error(`"${address}" is not an IP address`);
}

/** Parses `10.96.0.0/12`, `fd00::/8`, or a single address (a /32 or /128). Throws naming it. */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const [address = '', prefixText, extra] = trimmed.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) {
    throw new Error(`"${text}" is not a CIDR such as 10.96.0.0/12 or fd00::/8`);
  }
  const width = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(width)) || prefix > width) {
    throw new Error(`"${text}": the prefix length must be a whole number from 0 to ${width}`);
  }
  const { bits } = family === 4 ? { bits: ipv4Bits(address) } : { bits: ipv6Bits(address) };
  const shift = BigInt(width - prefix);
  return { text: trimmed, family: family as 4 | 6, network: (bits >> shift) << shift, prefix };
}

/** Parses a comma-separated list of CIDRs (empty entries ignored); throws naming each bad one. */
export function parseCidrList(text: string | undefined): Cidr[] {
  const problems: string[] = [];
  const cidrs: Cidr[] = [];
  for (const entry of (text ?? '').split(',')) {
    if (entry.trim() === '') continue;
    try {
      cidrs.push(parseCidr(entry));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return cidrs;
}

/** Whether `address` lies in `cidr` (an IPv4-mapped address counts as IPv4). */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const { family, bits } = addressBits(address);
  if (family !== cidr.family) return false;
  const shift = BigInt((family === 4 ? 32 : 128) - cidr.prefix);
  return bits >> shift === cidr.network >> shift;
}
