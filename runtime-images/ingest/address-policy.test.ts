import { describe, expect, it } from 'vitest';
import { parseCidrList } from '../../contract/cidr.js';
import { type AddressPolicy, judgeAddress } from './address-policy.js';

const none: AddressPolicy = { apiServer: [], deny: [], allow: [] };
const install: AddressPolicy = {
  apiServer: ['10.96.224.1', 'fd00:96::1'],
  deny: parseCidrList('10.96.0.0/12,10.244.0.0/16,fd00::/8'),
  allow: parseCidrList('10.96.224.20/32,10.244.0.0/16,127.0.0.0/8,169.254.169.254/32,10.96.224.1'),
};

describe('judgeAddress', () => {
  it.each([
    // Built in: refused whatever the install allows.
    ['127.0.0.1', install, 'loopback'],
    ['127.255.0.9', none, 'loopback'],
    ['::1', none, 'loopback'],
    ['::ffff:127.0.0.1', none, 'loopback'],
    ['169.254.169.254', install, 'link-local'],
    ['::ffff:169.254.169.254', none, 'link-local'],
    ['fe80::1', none, 'link-local'],
    ['fe80::a:b%eth0', none, 'link-local'],
    ['0.0.0.0', none, 'unspecified'],
    ['::', none, 'unspecified'],
    ['10.96.224.1', install, 'the Kubernetes API server'],
    ['::ffff:10.96.224.1', install, 'the Kubernetes API server'],
    ['fd00:96:0::1', install, 'the Kubernetes API server'],
    // The install's deny list, and allow inside it.
    ['10.96.0.10', install, "denied by the install's policy, 10.96.0.0/12"],
    ['fd12::7', install, "denied by the install's policy, fd00::/8"],
    ['10.96.224.20', install, undefined],
    ['10.244.3.7', install, undefined],
    // Private ranges are not refused by default (the local test cluster serves from them).
    ['10.96.0.10', none, undefined],
    ['10.250.56.1', none, undefined],
    ['192.168.1.10', none, undefined],
    ['fd12::7', none, undefined],
    ['203.0.113.9', install, undefined],
    ['2001:db8::1', install, undefined],
  ] as const)('%s: %s', (address, policy, why) => {
    expect(judgeAddress(address, policy)).toEqual(
      why === undefined ? { refused: false } : { refused: true, why },
    );
  });
});
