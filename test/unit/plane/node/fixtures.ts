// Generators the real node's unit tests share: addresses and ranges.
import fc from 'fast-check';

export const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

export const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

export const cidr = fc.tuple(ipv4, fc.nat(32)).map(([a, p]) => `${a}/${p}`);
