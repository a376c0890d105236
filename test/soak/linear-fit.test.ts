import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linearFit } from '../../src/soak/linear-fit.ts';
import { soakDrift, type SoakSample } from '../../src/soak/run-soak.ts';

describe('linearFit', () => {
  it('recovers the slope and intercept of points on a line, with r² 1', () => {
    const fit = linearFit([[0, 3], [1, 5], [2, 7], [3, 9]]);
    assert.equal(fit.slope, 2);
    assert.equal(fit.intercept, 3);
    assert.equal(fit.r2, 1);
  });

  it('calls a flat series flat: slope 0, r² 1', () => {
    assert.deepEqual(linearFit([[0, 4], [5, 4], [9, 4]]), { slope: 0, intercept: 4, r2: 1, points: 3 });
  });

  it('gives a low r² to noise around a flat line', () => {
    const fit = linearFit([[0, 10], [1, 12], [2, 9], [3, 11], [4, 10], [5, 12], [6, 9]]);
    assert.ok(Math.abs(fit.slope) < 0.2);
    assert.ok(fit.r2 < 0.2);
  });

  it('answers no points with a flat line instead of NaN', () => {
    assert.deepEqual(linearFit([]), { slope: 0, intercept: 0, r2: 1, points: 0 });
  });
});

describe('soakDrift', () => {
  const sample = (seconds: number, fds: number, privateBytes: number): SoakSample => ({
    seconds, established: { serve: 100, load: 100 }, descriptors: { serve: fds, load: 0 },
    private_bytes: { serve: privateBytes, load: 0 }, kernel: { own_buffer_bytes: 0, tcp_in_use: 200, tcp_mem_bytes: 4096, socket_slab_bytes: 1000 },
    churned: seconds * 5, reconnect_errors: 0,
  });

  it('fits only the samples after the warm-up and reports the change over the fitted span', () => {
    // A jump during warm-up (0-10 s) is ignored; after it, descriptors climb 1 a second.
    const samples = [sample(0, 10, 500), sample(5, 90, 900), sample(10, 100, 1000), sample(20, 110, 1000), sample(30, 120, 1000)];
    const drift = soakDrift(samples, 10);
    assert.equal(drift.descriptors.slope_per_minute, 60);
    assert.equal(drift.descriptors.mean, 110);
    assert.equal(drift.descriptors.change_percent, 18.18); // 20 over a mean of 110
    assert.deepEqual(drift.private_bytes, { slope_per_minute: 0, r2: 1, mean: 1000, change_percent: 0 });
  });
});
