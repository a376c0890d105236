import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  escapeHtml,
  fieldKind,
  formatBytes,
  formatCount,
  formatField,
  formatMs,
  formatSeconds,
  formatSigned,
  formatTime,
} from '../../src/bench/report-format.ts';

describe('bench report number formats', () => {
  it('groups counts and signs headroom', () => {
    assert.equal(formatCount(1_000_000), '1,000,000');
    assert.equal(formatCount(99_997.6), '99,998');
    assert.equal(formatSigned(19_400), '+19,400');
    assert.equal(formatSigned(-980_100), '-980,100');
    assert.equal(formatSigned(0), '0');
  });

  it('writes per-connection bytes exactly and larger sizes in binary units to three figures', () => {
    assert.equal(formatBytes(7_812), '7,812 B');
    assert.equal(formatBytes(10_240), '10.0 KiB');
    assert.equal(formatBytes(154_523_474), '147 MiB');
    assert.equal(formatBytes(25_769_803_776), '24.0 GiB');
    assert.equal(formatBytes(1_149_239_296), '1.07 GiB');
  });

  it('writes milliseconds to microseconds below one and to three figures above', () => {
    assert.equal(formatMs(0.412), '0.412 ms');
    assert.equal(formatMs(3.87), '3.87 ms');
    assert.equal(formatMs(118.6), '119 ms');
    assert.equal(formatMs(1031.2), '1,031 ms');
    assert.equal(formatSeconds(4.02), '4.0 s');
    assert.equal(formatSeconds(600), '600 s');
  });

  it('writes the start time in UTC to the second, and keeps what it cannot parse', () => {
    assert.equal(formatTime('2026-11-21T11:20:03.512Z'), '2026-11-21 11:20:03 UTC');
    assert.equal(formatTime('yesterday'), 'yesterday');
  });

  it('picks each field’s format from its path', () => {
    const kinds = {
      'connections.established': 'count',
      'limits.headroom.memory': 'signed',
      'memory.kernel_bytes_per_connection': 'bytes',
      'memory.kernel_by_cache.TCP': 'bytes',
      'timeline.6.meminfo_slab_bytes': 'bytes',
      'ramp.connect_ms.p99': 'ms',
      'ramp.connect_ms.count': 'count',
      'broadcast.p50_ms': 'ms',
      'ramp.seconds': 'seconds',
      'hold_seconds': 'seconds',
      'ramp.per_second': 'rate',
      'started_at': 'time',
      'errors.EMFILE': 'count',
    };
    for (const [path, kind] of Object.entries(kinds)) assert.equal(fieldKind(path), kind, path);
    assert.equal(formatField('ramp.per_second', 24_875), '24,875/s');
    assert.equal(formatField('limits.binding', null), 'none');
    assert.equal(formatField('machine.hostname', 'bench-01'), 'bench-01');
  });

  it('escapes text for element content and quoted attributes', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
