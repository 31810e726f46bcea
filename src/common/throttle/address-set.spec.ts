import { AddressSet, addressKey, normalizeAddress, parseCidr } from './address-set';

describe(AddressSet.name, () => {
  it('matches IPv4 and IPv6 CIDRs and single addresses', () => {
    const set = new AddressSet('10.0.0.0/8, 192.0.2.7,2001:db8::/32');
    expect(set.has('10.255.0.1')).toBe(true);
    expect(set.has('11.0.0.1')).toBe(false);
    expect(set.has('192.0.2.7')).toBe(true);
    expect(set.has('192.0.2.8')).toBe(false);
    expect(set.has('2001:db8:abcd::1')).toBe(true);
    expect(set.has('2001:db9::1')).toBe(false);
  });

  it('treats an IPv4-mapped IPv6 address as IPv4', () => {
    expect(new AddressSet('10.0.0.0/8').has('::ffff:10.1.2.3')).toBe(true);
  });

  it('matches nothing when empty, and no text that is not an address', () => {
    expect(new AddressSet(undefined).has('10.0.0.1')).toBe(false);
    expect(new AddressSet('10.0.0.0/8').has('unknown')).toBe(false);
  });
});

describe(parseCidr.name, () => {
  it.each(['10.0.0.0/8', '10.0.0.1', '::1', '2001:db8::/32', '0.0.0.0/0'])('reads %s', (text) => {
    expect(parseCidr(text)).toBeDefined();
  });

  it.each(['10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0/8', '10.0.0.0/', '10.0.0.0/8/8', '1.2.3.4/-1'])(
    'refuses %s',
    (text) => expect(parseCidr(text)).toBeUndefined(),
  );
});

describe(addressKey.name, () => {
  it('keeps IPv4, and counts IPv6 by its /64 in one spelling', () => {
    expect(addressKey('198.51.100.23')).toBe('198.51.100.23');
    expect(addressKey('::ffff:198.51.100.23')).toBe('198.51.100.23');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address, in either spelling', () => {
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::FFFF:c000:0207')).toBe('192.0.2.7');
    expect(addressKey('0:0:0:0:0:ffff:192.0.2.7')).toBe('192.0.2.7');
  });

  it('puts every address of one /64 under one key, and another /64 under another', () => {
    const keys = new Set(Array.from({ length: 40 }, (_, i) => addressKey(`2001:db8:7:8:${i.toString(16)}::${i + 1}`)));
    expect([...keys]).toEqual(['2001:db8:7:8::/64']);
    expect(addressKey('2001:db8:7:9::1')).not.toBe('2001:db8:7:8::/64');
  });

  it('normalizes only IPv4-mapped addresses', () => {
    expect(normalizeAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});
