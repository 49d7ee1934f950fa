import type { LookupAddress } from 'node:dns';
import { ConfigError, loadConfig } from '../src/config';
import {
  AddressResolver,
  OutboundGuard,
  OutboundRefusedError,
  specialRangeOf,
} from '../src/engine/channels/outbound-guard';

/**
 * The SSRF guard for tenant-controlled targets (webhook URLs, push endpoints): which
 * addresses are not public, what is refused on save, and what the connection-time lookup
 * lets through. Pure: the resolver is a table.
 */

describe('specialRangeOf', () => {
  it.each<[string, string]>([
    ['0.0.0.0', 'unspecified'],
    ['0.255.255.255', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.0', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.0', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['100.64.0.0', 'shared (CGNAT)'],
    ['100.127.255.255', 'shared (CGNAT)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.170', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['203.0.113.7', 'reserved'],
  ])('IPv4 %s is %s', (address, range) => {
    expect(specialRangeOf(address)).toBe(range);
  });

  it.each<[string, string]>([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'private'],
    ['fd00:ec2::254', 'private'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378::1', 'reserved'],
    ['100::1', 'reserved'],
  ])('IPv6 %s is %s', (address, range) => {
    expect(specialRangeOf(address)).toBe(range);
  });

  it.each<[string, string]>([
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b:1::1', 'private'],
    ['::127.0.0.1', 'reserved'],
    ['2002:7f00:1::1', 'reserved'],
  ])('IPv4 embedded in IPv6: %s is %s', (address, range) => {
    expect(specialRangeOf(address)).toBe(range);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '9.255.255.255',
    '11.0.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '126.255.255.255',
    '128.0.0.0',
    '169.253.255.255',
    '169.255.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '192.169.0.0',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:81b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
  ])('public %s is in no special range', (address) => {
    expect(specialRangeOf(address)).toBeNull();
  });

  it('reads brackets and ignores a zone id instead of missing the range', () => {
    expect(specialRangeOf('[::1]')).toBe('loopback');
    expect(specialRangeOf('fe80::1%eth0')).toBe('link-local');
  });

  it('throws for something that is not an IP address', () => {
    expect(() => specialRangeOf('example.com')).toThrow(TypeError);
    expect(() => specialRangeOf('')).toThrow(TypeError);
  });
});

describe('OutboundGuard.refusalForHost (on save)', () => {
  const deny = new OutboundGuard('deny');
  const allow = new OutboundGuard('allow');
  const hostOf = (url: string) => new URL(url).hostname;

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.5/',
    'http://[::1]:9000/',
    'http://[::ffff:127.0.0.1]/',
    'http://[fe80::1]/',
    'http://0.0.0.0/',
    'http://2130706433/', // 127.0.0.1 as one number; URL parsing normalises it
    'http://0x7f.1/',
    'http://localhost:3000/',
    'http://LOCALHOST./',
    'http://api.localhost/',
  ])('deny refuses %s', (url) => {
    expect(deny.refusalForHost(hostOf(url))).toMatch(/is not a public address$/);
  });

  it('names the address and its range', () => {
    expect(deny.refusalForHost('169.254.169.254')).toBe(
      '169.254.169.254 (link-local) is not a public address',
    );
    expect(deny.refusalForHost('[::1]')).toBe('::1 (loopback) is not a public address');
  });

  it.each(['https://hooks.example.com/nudge', 'https://8.8.8.8/', 'https://[2606:4700::1]/'])(
    'deny accepts %s (names are checked again when sending)',
    (url) => {
      expect(deny.refusalForHost(hostOf(url))).toBeNull();
    },
  );

  it('allow refuses nothing', () => {
    for (const host of ['127.0.0.1', 'localhost', '169.254.169.254', '[::1]']) {
      expect(allow.refusalForHost(host)).toBeNull();
    }
  });

  it('checkLiteralHost throws OutboundRefusedError for a refused literal only', () => {
    expect(() => deny.checkLiteralHost('127.0.0.1')).toThrow(OutboundRefusedError);
    expect(() => deny.checkLiteralHost('[::ffff:7f00:1]')).toThrow(OutboundRefusedError);
    expect(() => deny.checkLiteralHost('8.8.8.8')).not.toThrow();
    expect(() => deny.checkLiteralHost('localhost')).not.toThrow(); // left to the lookup
    expect(() => allow.checkLiteralHost('127.0.0.1')).not.toThrow();
  });
});

describe('OutboundGuard.lookup (when connecting)', () => {
  const table: Record<string, LookupAddress[]> = {
    'public.example': [{ address: '93.184.215.14', family: 4 }],
    'dual.example': [
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
      { address: '93.184.215.14', family: 4 },
    ],
    'rebinding.example': [
      { address: '93.184.215.14', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
    'metadata.example': [{ address: '169.254.169.254', family: 4 }],
    'mapped.example': [{ address: '::ffff:10.0.0.1', family: 6 }],
  };
  const resolver: AddressResolver = (hostname, _options, callback) => {
    const found = table[hostname];
    if (found) return callback(null, found);
    const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    err.code = 'ENOTFOUND';
    callback(err, []);
  };

  function lookup(guard: OutboundGuard, hostname: string, all: boolean) {
    return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>(
      (resolve) =>
        guard.lookup(hostname, { all }, (err, address, family) =>
          resolve({ err, address, family }),
        ),
    );
  }

  it('passes every checked address to the socket (all: true) or the first one', async () => {
    const guard = new OutboundGuard('deny', resolver);

    expect(await lookup(guard, 'dual.example', true)).toEqual({
      err: null,
      address: table['dual.example'],
      family: undefined,
    });
    expect(await lookup(guard, 'public.example', false)).toEqual({
      err: null,
      address: '93.184.215.14',
      family: 4,
    });
  });

  it('refuses a name when any one of its addresses is not public', async () => {
    const guard = new OutboundGuard('deny', resolver);

    const rebinding = await lookup(guard, 'rebinding.example', true);
    expect(rebinding.err).toBeInstanceOf(OutboundRefusedError);
    expect(rebinding.err!.message).toBe(
      'rebinding.example resolves to 127.0.0.1 (loopback), not a public address',
    );
    expect((await lookup(guard, 'metadata.example', false)).err).toBeInstanceOf(
      OutboundRefusedError,
    );
    expect((await lookup(guard, 'mapped.example', true)).err!.message).toMatch(
      /::ffff:10\.0\.0\.1 \(private\)/,
    );
  });

  it('passes resolver errors through unchanged (they stay transient)', async () => {
    const result = await lookup(new OutboundGuard('deny', resolver), 'nowhere.example', true);

    expect(result.err).not.toBeInstanceOf(OutboundRefusedError);
    expect(result.err!.code).toBe('ENOTFOUND');
  });

  it('allow lets private addresses through, still from the resolver', async () => {
    const guard = new OutboundGuard('allow', resolver);

    expect(await lookup(guard, 'rebinding.example', true)).toMatchObject({
      err: null,
      address: table['rebinding.example'],
    });
  });
});

describe('NUDGE_OUTBOUND_PRIVATE', () => {
  const PRODUCTION = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://nudge@db.internal:5432/nudge',
    REDIS_URL: 'redis://cache.internal:6379',
    NUDGE_OPERATOR_TOKEN: 'operator-token-0123456789',
    NUDGE_KEY_PEPPER: 'pepper-0123456789abcdef',
  };

  it('defaults to deny in production and to allow elsewhere (trial mode, tests)', () => {
    expect(loadConfig(PRODUCTION).outboundPrivate).toBe('deny');
    expect(loadConfig({}).outboundPrivate).toBe('allow');
    expect(loadConfig({ NODE_ENV: 'test' }).outboundPrivate).toBe('allow');
    expect(loadConfig({ NUDGE_OUTBOUND_PRIVATE: '' }).outboundPrivate).toBe('allow');
  });

  it('is taken as given', () => {
    expect(loadConfig({ NUDGE_OUTBOUND_PRIVATE: 'deny' }).outboundPrivate).toBe('deny');
    expect(loadConfig({ ...PRODUCTION, NUDGE_OUTBOUND_PRIVATE: 'allow' }).outboundPrivate).toBe(
      'allow',
    );
  });

  it('a bad value stops start-up naming the variable', () => {
    expect(() => loadConfig({ NUDGE_OUTBOUND_PRIVATE: 'block' })).toThrow(ConfigError);
    expect(() => loadConfig({ NUDGE_OUTBOUND_PRIVATE: 'block' })).toThrow(
      /NUDGE_OUTBOUND_PRIVATE: expected allow or deny/,
    );
  });
});
