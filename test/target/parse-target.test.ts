import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode as code } from '../helpers/errors.ts';
import { parseTarget, parseTargetList, type ParsedTarget } from '../../src/target/parse-target.ts';
import { hostHeaderOf, targetSettings } from '../../src/target/target-settings.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';

const ip = (text: string): number => parseIpv4(text) ?? -1;
const one = (p: number) => ({ first: p, last: p });

type Expected = Omit<ParsedTarget, 'text'>;

const GOOD: [string, Expected][] = [
  ['127.0.0.1:9000', { host: { kind: 'ipv4', ips: { first: ip('127.0.0.1'), last: ip('127.0.0.1') } }, ports: one(9000), explicitPort: true }],
  ['127.0.0.1-127.0.0.4:9000-9003', { host: { kind: 'ipv4', ips: { first: ip('127.0.0.1'), last: ip('127.0.0.4') } }, ports: { first: 9000, last: 9003 }, explicitPort: true }],
  ['localhost:8080', { host: { kind: 'name', name: 'localhost' }, ports: one(8080), explicitPort: true }],
  ['Gateway.Internal.:443', { host: { kind: 'name', name: 'gateway.internal' }, ports: one(443), explicitPort: true }],
  ['[::1]:9000', { host: { kind: 'ipv6', address: '::1' }, ports: one(9000), explicitPort: true }],
  ['[FD00:18:0:0::0001]:9000-9001', { host: { kind: 'ipv6', address: 'fd00:18::1' }, ports: { first: 9000, last: 9001 }, explicitPort: true }],
  ['tcp://127.0.0.1:9000', { scheme: 'tcp', host: { kind: 'ipv4', ips: { first: ip('127.0.0.1'), last: ip('127.0.0.1') } }, ports: one(9000), explicitPort: true }],
  ['tls://api.test:8443', { scheme: 'tls', host: { kind: 'name', name: 'api.test' }, ports: one(8443), explicitPort: true }],
  ['http://localhost', { scheme: 'http', host: { kind: 'name', name: 'localhost' }, ports: one(80), explicitPort: false }],
  ['https://api.test/health?full=1#frag', { scheme: 'https', host: { kind: 'name', name: 'api.test' }, ports: one(443), explicitPort: false, path: '/health?full=1' }],
  ['ws://localhost:8080/socket', { scheme: 'ws', host: { kind: 'name', name: 'localhost' }, ports: one(8080), explicitPort: true, path: '/socket' }],
  ['WSS://[::1]:8443/s?token=a%20b', { scheme: 'wss', host: { kind: 'ipv6', address: '::1' }, ports: one(8443), explicitPort: true, path: '/s?token=a%20b' }],
  ['ws://127.0.0.1:8080-8083/', { scheme: 'ws', host: { kind: 'ipv4', ips: { first: ip('127.0.0.1'), last: ip('127.0.0.1') } }, ports: { first: 8080, last: 8083 }, explicitPort: true, path: '/' }],
  ['mqtt://broker.test', { scheme: 'mqtt', host: { kind: 'name', name: 'broker.test' }, ports: one(1883), explicitPort: false }],
  ['mqtts://us%40r:p%3Ass@broker.test', { scheme: 'mqtts', host: { kind: 'name', name: 'broker.test' }, ports: one(8883), explicitPort: false, username: 'us@r', password: 'p:ss' }],
  ['mqtt://alice@127.0.0.1:1883', { scheme: 'mqtt', host: { kind: 'ipv4', ips: { first: ip('127.0.0.1'), last: ip('127.0.0.1') } }, ports: one(1883), explicitPort: true, username: 'alice' }],
  ['http://api.test?x=1', { scheme: 'http', host: { kind: 'name', name: 'api.test' }, ports: one(80), explicitPort: false, path: '/?x=1' }],
];

const BAD = [
  '127.0.0.1', // no port
  '::1:9000', // IPv6 without brackets
  '[::1:9000', // no closing bracket
  '[::g]:9000',
  '[127.0.0.1]:9000',
  '127.0.0.1:0',
  '127.0.0.1:70000',
  '127.0.0.4-127.0.0.1:9000',
  '127.0.0.256:9000',
  'bad_name!:9000',
  'ftp://host:21',
  'tcp://host', // tcp has no default port
  'tls://[::1]', // nor tls
  'http://:80/',
  'ws://host:8080/a b',
  'mqtt://%zz@host',
  ':9000',
];

describe('targets as users write them', () => {
  for (const [text, expected] of GOOD) {
    it(`parses ${text}`, () => assert.deepEqual(parseTarget(text), { text, ...expected }));
  }
  for (const text of BAD) {
    it(`refuses ${JSON.stringify(text)} with an invalid-argument code`, () => assert.equal(code(() => parseTarget(text)), 'CONNLAB_ERR_INVALID_ARGUMENT'));
  }
  it('takes several targets as positionals and comma lists, in order', () => {
    const list = parseTargetList(['127.0.0.1:9000,[::1]:9000', 'name.test:1']);
    assert.deepEqual(list.map((t) => t.text), ['127.0.0.1:9000', '[::1]:9000', 'name.test:1']);
    assert.equal(code(() => parseTargetList([' , '])), 'CONNLAB_ERR_USAGE');
  });
});

describe('what URL targets say, merged with the flags', () => {
  const settings = (texts: string[], flags = {}) => targetSettings(parseTargetList(texts), flags);

  it('takes the protocol, TLS, path, credentials and Host from the URL', () => {
    assert.deepEqual(settings(['wss://api.test:8443/socket?v=2']), { protocol: 'ws', tls: true, path: '/socket?v=2', host: 'api.test:8443', username: undefined, password: undefined });
    assert.deepEqual(settings(['mqtts://u:p@broker.test']), { protocol: 'mqtt', tls: true, path: undefined, host: 'broker.test', username: 'u', password: 'p' });
    assert.deepEqual(settings(['tls://[::1]:9000']), { protocol: 'tcp', tls: true, path: undefined, host: '[::1]:9000', username: undefined, password: undefined });
  });
  it('leaves plain targets to the flags, with a name as the Host', () => {
    assert.deepEqual(settings(['127.0.0.1:9000'], { protocol: 'http', tls: true }), { protocol: 'http', tls: true, path: undefined, host: undefined, username: undefined, password: undefined });
    assert.equal(settings(['api.test:443'], { protocol: 'http' }).host, 'api.test:443');
  });
  it('accepts flags that say the same as the URL', () => {
    assert.equal(settings(['https://api.test/x'], { protocol: 'http', tls: true, path: '/x' }).protocol, 'http');
  });
  const contradictions: [string, Record<string, unknown>][] = [
    ['ws://h:1/', { protocol: 'http' }],
    ['http://h/', { tls: true }],
    ['tcp://h:1', { tls: true }],
    ['http://h/a', { path: '/b' }],
    ['mqtt://u@h', { username: 'v' }],
    ['mqtt://u:p@h', { password: 'q' }],
    ['http://h/', { host: 'other' }],
  ];
  for (const [url, flags] of contradictions) {
    it(`refuses ${url} with ${JSON.stringify(flags)} as a usage error`, () => assert.equal(code(() => settings([url], flags)), 'CONNLAB_ERR_USAGE'));
  }
  it('refuses URL targets that disagree with each other', () => {
    assert.equal(code(() => settings(['ws://a:1/', 'http://b:1/'])), 'CONNLAB_ERR_USAGE');
    assert.equal(code(() => settings(['ws://a:1/x', 'ws://b:1/y'])), 'CONNLAB_ERR_USAGE');
    assert.equal(settings(['ws://a:1/x', 'ws://b:1/x', '127.0.0.1:1']).protocol, 'ws');
  });
  it('writes the Host with the port only when it is not the scheme default', () => {
    assert.equal(hostHeaderOf(parseTarget('https://api.test:443/')), 'api.test');
    assert.equal(hostHeaderOf(parseTarget('http://api.test:8080/')), 'api.test:8080');
    assert.equal(hostHeaderOf(parseTarget('http://[::1]/')), '[::1]');
  });
});

describe('the target parser under mutated input', () => {
  const seeds = GOOD.map(([text]) => text);
  const ALPHABET = ':/[]@%?#-.,09azAZ_ \t\u00e9\u0000';
  let x = 0x2545f491;
  const rand = (n: number): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
  it('answers 20,000 mutations with a target or an invalid-argument error, never anything else', () => {
    for (let i = 0; i < 20_000; i++) {
      let text = seeds[rand(seeds.length)] as string;
      for (let k = 0; k <= rand(3); k++) {
        const at = rand(text.length + 1);
        const ch = ALPHABET[rand(ALPHABET.length)] as string;
        const op = rand(3);
        text = op === 0 ? text.slice(0, at) + ch + text.slice(at + 1) : op === 1 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
      }
      let parsed: ParsedTarget | undefined;
      try {
        parsed = parseTarget(text);
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'CONNLAB_ERR_INVALID_ARGUMENT', `${JSON.stringify(text)}: ${String(error)}`);
        continue;
      }
      // What it accepts is well formed: ports in range, a host of a known kind, no spaces in a path.
      assert.ok(parsed.ports.first >= 1 && parsed.ports.last <= 65535 && parsed.ports.first <= parsed.ports.last, text);
      assert.ok(['ipv4', 'ipv6', 'name'].includes(parsed.host.kind), text);
      assert.ok(parsed.path === undefined || (parsed.path.startsWith('/') && !/\s/.test(parsed.path)), text);
    }
  });
});
