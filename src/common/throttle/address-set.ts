import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "::ffff:1.2.3.4" (how a dual-stack socket reports an IPv4 client) → "1.2.3.4"; anything else unchanged. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/** "10.0.0.0/8", "2001:db8::/32" or a single address; undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, bits, ...rest] = text.trim().split('/');
  if (rest.length > 0) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The eight 16-bit groups of an IPv6 address (with an embedded IPv4 tail expanded). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail, ...more] = text.split('::');
  if (more.length > 0) return undefined;
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<number>(Math.max(0, fill)).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * What a client's traffic is counted under: its IPv4 address, or the /64 of its IPv6 address
 * (one subscriber's network: anyone holding one has 2^64 addresses to rotate through).
 */
export function addressKey(address: string): string {
  const normal = normalizeAddress(address);
  if (isIP(normal) !== 6) return normal;
  const groups = ipv6Groups(normal);
  if (!groups) return normal;
  // IPv4-mapped in hex groups (::ffff:c000:207): the IPv4 address, as in dotted form
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** A set of addresses and CIDRs (SMS_FRAUD_ALLOWED_ADDRESSES), matched with node's BlockList. */
export class AddressSet {
  private readonly list = new BlockList();
  readonly size: number;

  /** `spec`: comma-separated addresses or CIDRs, already validated at start-up. */
  constructor(spec: string | undefined) {
    const entries = (spec ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    for (const entry of entries) {
      const cidr = parseCidr(entry);
      if (!cidr) throw new Error(`not an IP address or CIDR: ${entry}`);
      this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const normal = normalizeAddress(address);
    const version = isIP(normal);
    if (version === 0) return false;
    return this.list.check(normal, version === 4 ? 'ipv4' : 'ipv6');
  }
}
