import { describe, expect, it } from 'vitest';
import { addressBits, cidrContains, parseCidr, parseCidrList } from './cidr.js';

describe('parseCidr', () => {
  it.each([
    ['10.96.0.0/12', 4, 12],
    ['10.96.0.7/12', 4, 12],
    ['192.168.1.1', 4, 32],
    ['fd00::/8', 6, 8],
    ['2001:db8::1', 6, 128],
    [' 0.0.0.0/0 ', 4, 0],
  ] as const)('reads %s', (text, family, prefix) => {
    expect(parseCidr(text)).toMatchObject({ text: text.trim(), family, prefix });
  });

  it.each([
    ['10.96.0.0/33', '"10.96.0.0/33": the prefix length must be a whole number from 0 to 32'],
    ['fd00::/129', '"fd00::/129": the prefix length must be a whole number from 0 to 128'],
    ['10.0.0.0/', 'the prefix length must be a whole number'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8" is not a CIDR'],
    ['cluster', '"cluster" is not a CIDR such as 10.96.0.0/12 or fd00::/8'],
    ['10.0.0/8', '"10.0.0/8" is not a CIDR'],
  ])('refuses %s, saying why', (text, message) => {
    expect(() => parseCidr(text)).toThrow(message);
  });

  it('lists every bad entry of a list, skipping empty ones', () => {
    expect(parseCidrList(' 10.0.0.0/8, ,fd00::/8,').map((c) => c.text)).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    expect(parseCidrList(undefined)).toEqual([]);
    expect(() => parseCidrList('x,10.0.0.0/8,y/1')).toThrow(
      '"x" is not a CIDR such as 10.96.0.0/12 or fd00::/8; "y/1" is not a CIDR',
    );
  });
});

describe('cidrContains', () => {
  it.each([
    ['10.96.0.0/12', '10.96.0.1', true],
    ['10.96.0.0/12', '10.111.255.255', true],
    ['10.96.0.0/12', '10.112.0.0', false],
    ['10.96.0.0/12', '::ffff:10.96.0.1', true],
    ['10.96.0.0/12', '::ffff:a60:1', true],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '2001:db8::1', false],
    ['fd00::/8', 'fd12:3456::1', true],
    ['fd00::/8', 'fe80::1', false],
    ['fe80::/10', 'febf:ffff::1', true],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['::/0', '10.0.0.1', false],
  ] as const)('%s contains %s: %s', (cidr, address, want) => {
    expect(cidrContains(parseCidr(cidr), address)).toBe(want);
  });

  it('reads an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(addressBits('::ffff:169.254.169.254')).toEqual(addressBits('169.254.169.254'));
    expect(addressBits('::ffff:127.0.0.1').family).toBe(4);
    expect(() => addressBits('example.com')).toThrow('"example.com" is not an IP address');
  });
});
