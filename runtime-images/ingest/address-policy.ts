/**
 * Which IP addresses an HTTP(S) source may connect to: the guard against a Dataset being used
 * to reach the cluster's or the cloud's internals (SSRF). Pure: the caller resolves the host
 * and asks about every address it got, on the first request and on every redirect hop.
 *
 * Two layers:
 * - built-in refusals that nothing can allow: loopback, link-local (which holds the cloud
 *   metadata address 169.254.169.254), unspecified, and the API server's addresses;
 * - the install's policy (`LATHE_HTTP_SOURCE_DENY_CIDRS` / `_ALLOW_CIDRS`): an address in a
 *   denied range is refused unless it is also in an allowed range (allow beats deny only
 *   here). Private ranges are not refused by default: the cluster's Service and pod CIDRs are
 *   the recommended deny entries.
 *
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry (`contract/cidr.ts`).
 */
import { addressBits, type Cidr, cidrContains, parseCidr } from '../../contract/cidr.js';

/** What the program knows about which addresses to refuse. */
export interface AddressPolicy {
  /** The API server's addresses: `KUBERNETES_SERVICE_HOST` and any the operator passed. */
  apiServer: readonly string[];
  deny: readonly Cidr[];
  allow: readonly Cidr[];
}

export type AddressVerdict = { refused: false } | { refused: true; why: string };

/** The ranges refused whatever the install says, with the word a message uses for each. */
const BUILT_IN_REFUSALS: readonly { cidr: Cidr; why: string }[] = [
  ['127.0.0.0/8', 'loopback'],
  ['::1/128', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['fe80::/10', 'link-local'],
  ['0.0.0.0/8', 'unspecified'],
  ['::/128', 'unspecified'],
].map(([text, why]) => ({ cidr: parseCidr(text!), why: why! }));

/** Whether the source may connect to `address` (an IP literal), and if not, why. */
export function judgeAddress(address: string, policy: AddressPolicy): AddressVerdict {
  for (const { cidr, why } of BUILT_IN_REFUSALS) {
    if (cidrContains(cidr, address)) return { refused: true, why };
  }
  const { family, bits } = addressBits(address);
  for (const api of policy.apiServer) {
    const other = addressBits(api);
    if (other.family === family && other.bits === bits) {
      return { refused: true, why: 'the Kubernetes API server' };
    }
  }
  const denied = policy.deny.find((c) => cidrContains(c, address));
  if (denied && !policy.allow.some((c) => cidrContains(c, address))) {
    return { refused: true, why: `denied by the install's policy, ${denied.text}` };
  }
  return { refused: false };
}
