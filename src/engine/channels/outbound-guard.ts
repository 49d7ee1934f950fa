import dns from 'node:dns';
import net from 'node:net';

/**
 * Whether tenant-controlled targets (webhook URLs, push endpoints) may be loopback, private,
 * link-local or other non-public addresses. `deny` closes the SSRF hole: a tenant could
 * otherwise make this service POST to its own network or to a cloud metadata service.
 */
export type OutboundPrivatePolicy = 'allow' | 'deny';

/** The kinds of non-public address; an ordinary public unicast address has none. */
export type SpecialRange =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared (CGNAT)'
  | 'multicast'
  | 'reserved';

type Rule = [network: string, prefixBits: number, range: SpecialRange];

/** IANA's IPv4 special-purpose ranges that no public service lives in (RFC 6890 and later). */
const IPV4_RULES: Rule[] = [
  ['0.0.0.0', 8, 'unspecified'], // "this network"; Linux connects 0.0.0.0 to the local host
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['169.254.0.0', 16, 'link-local'], // cloud metadata services answer on 169.254.169.254
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['224.0.0.0', 4, 'multicast'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // documentation (TEST-NET-1)
  ['198.51.100.0', 24, 'reserved'], // documentation (TEST-NET-2)
  ['203.0.113.0', 24, 'reserved'], // documentation (TEST-NET-3)
  ['198.18.0.0', 15, 'reserved'], // benchmarking
  ['192.88.99.0', 24, 'reserved'], // former 6to4 relay anycast
  ['240.0.0.0', 4, 'reserved'], // future use, and 255.255.255.255 (broadcast)
];

/**
 * The IPv6 ones. The order matters only for the name given: `::1` is also in `::/96`. Every
 * IPv4 rule is added again in its IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`,
 * RFC 6052) forms, so `[::ffff:127.0.0.1]` is loopback too.
 */
const IPV6_RULES: Rule[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'private'], // unique local
  ['fec0::', 10, 'private'], // site-local (deprecated, still routed inside some sites)
  ['64:ff9b:1::', 48, 'private'], // local-use NAT64 (RFC 8215)
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
  ['::', 96, 'reserved'], // IPv4-compatible (deprecated): `::127.0.0.1`
  ['100::', 64, 'reserved'], // discard-only
  ['2001::', 23, 'reserved'], // IETF protocol assignments, Teredo among them
  ['2001:db8::', 32, 'reserved'], // documentation
  ['2002::', 16, 'reserved'], // 6to4: embeds any IPv4 address, private ones included
  ['3fff::', 20, 'reserved'], // documentation (RFC 9637)
];

/** One BlockList per range name, in the order they are asked. Built once, never changed. */
const RANGE_LISTS: ReadonlyArray<{ range: SpecialRange; list: net.BlockList }> = (() => {
  const lists = new Map<SpecialRange, net.BlockList>();
  const listOf = (range: SpecialRange) => {
    if (!lists.has(range)) lists.set(range, new net.BlockList());
    return lists.get(range)!;
  };
  for (const [network, bits, range] of IPV6_RULES) listOf(range).addSubnet(network, bits, 'ipv6');
  for (const [network, bits, range] of IPV4_RULES) {
    listOf(range).addSubnet(network, bits, 'ipv4');
    listOf(range).addSubnet(`::ffff:${network}`, 96 + bits, 'ipv6');
    listOf(range).addSubnet(`64:ff9b::${network}`, 96 + bits, 'ipv6');
  }
  return [...lists].map(([range, list]) => ({ range, list }));
})();

/**
 * The non-public range `address` (an IPv4 or IPv6 literal, brackets and a `%zone` allowed)
 * lies in, or null for a public unicast address. Pure. Throws TypeError when `address` is not
 * an IP literal.
 */
export function specialRangeOf(address: string): SpecialRange | null {
  const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = net.isIP(bare);
  if (family === 0) throw new TypeError(`not an IP address: ${address}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  // A zone id only makes sense on a link-local or multicast address; Node's BlockList would
  // quietly fail to match one (`fe80::1%eth0`), hence the stripping above.
  return RANGE_LISTS.find(({ list }) => list.check(bare, type))?.range ?? null;
}

/** `localhost` and, per RFC 6761, every name under `.localhost`; resolvers keep them local. */
function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** A URL's hostname without the brackets of an IPv6 literal. */
function bareHost(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Thrown (or passed to a connection's callback) when a target is refused by the guard. */
export class OutboundRefusedError extends Error {
  readonly code = 'ERR_NUDGE_OUTBOUND_REFUSED';
}

/** `dns.lookup` with `all: true`: every address of `hostname`. Tests inject their own. */
export type AddressResolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

const systemResolver: AddressResolver = (hostname, options, callback) =>
  dns.lookup(hostname, options, callback);

/**
 * Decides whether a tenant-controlled target may be contacted, at two moments:
 *
 * - on save (`refusalForHost`): an IP literal or a `localhost` name can be judged at once;
 *   other names are not resolved then, since their addresses may change before sending;
 * - when connecting (`lookup`, `checkLiteralHost`): the name is resolved once, every address
 *   it resolves to is checked, and the socket connects to those checked addresses only, so a
 *   name that resolves to a public address on save and to 127.0.0.1 at send time (DNS
 *   rebinding) is still refused.
 *
 * With policy `allow` nothing is refused (trial mode and local development send to receivers
 * on localhost); names are still resolved through `resolve`.
 */
export class OutboundGuard {
  constructor(
    readonly policy: OutboundPrivatePolicy,
    private readonly resolve: AddressResolver = systemResolver,
  ) {}

  /**
   * Why a URL with this hostname may not be stored, as text for an error message, or null
   * when it may (always null with `allow`). Pure.
   */
  refusalForHost(hostname: string): string | null {
    if (this.policy === 'allow') return null;
    const host = bareHost(hostname);
    if (isLocalhostName(host)) return `${host} (loopback) is not a public address`;
    return net.isIP(host) ? this.refusalForAddress(host) : null;
  }

  /**
   * For a connection to `hostname`: throws `OutboundRefusedError` when it is a refused IP
   * literal (a socket skips `lookup` for literals). Names are left to `lookup`.
   */
  checkLiteralHost(hostname: string): void {
    const host = bareHost(hostname);
    if (!net.isIP(host)) return;
    const refusal = this.refusalForAddress(host);
    if (refusal) throw new OutboundRefusedError(refusal);
  }

  /**
   * A `net` lookup function for http(s) agents: resolves every address of the name and
   * fails the connection with `OutboundRefusedError` when any of them is refused, otherwise
   * hands the checked addresses to the socket, which connects to nothing else.
   */
  readonly lookup: net.LookupFunction = (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    this.resolve(hostname, { ...options, family, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      if (addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`no address for ${hostname}`);
        notFound.code = 'ENOTFOUND';
        return callback(notFound, '');
      }
      for (const { address } of addresses) {
        const refusal = this.refusalForAddress(address, hostname);
        if (refusal) return callback(new OutboundRefusedError(refusal), '');
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };

  private refusalForAddress(address: string, hostname?: string): string | null {
    if (this.policy === 'allow') return null;
    let range: SpecialRange | null;
    try {
      range = specialRangeOf(address);
    } catch {
      range = 'reserved';
    }
    if (range === null) return null;
    return hostname === undefined
      ? `${address} (${range}) is not a public address`
      : `${hostname} resolves to ${address} (${range}), not a public address`;
  }
}
