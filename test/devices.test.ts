import { describe, expect, it } from 'vitest';
import {
  DEVICE_DTYPES,
  DEVICE_SOURCES,
  DEVICES,
  deviceById,
  peakFlops,
  rational,
  rationalToNumber,
  ridgePoint,
  type DeviceDtype,
} from '../src/analytic/index.js';
import { InputError } from '../src/core/errors.js';

const T = 10n ** 12n;
const G = 10n ** 9n;

/**
 * Each device's ridge point (peak FLOP/s over bandwidth, FLOPs per byte), worked by hand from the
 * printed figures and reduced:
 */
const RIDGE_POINTS: readonly (readonly [string, DeviceDtype, bigint, bigint, number])[] = [
  // 312 TFLOP/s / 1555 GB/s = 312000/1555 = 62400/311
  ['a100-40gb-sxm', 'bf16', 62400n, 311n, 200.643],
  // 312 TFLOP/s / 2039 GB/s = 312000/2039
  ['a100-80gb-sxm', 'bf16', 312000n, 2039n, 153.016],
  // 989.4 TFLOP/s / 3.35 TB/s = 98940/335 = 19788/67
  ['h100-sxm', 'bf16', 19788n, 67n, 295.343],
  // 756 TFLOP/s / 2 TB/s = 378
  ['h100-pcie', 'bf16', 378n, 1n, 378],
  // 1,979/2 = 989.5 TFLOP/s / 4.8 TB/s = 9895/48
  ['h200', 'bf16', 9895n, 48n, 206.146],
  // 36 PFLOP/s / 8 GPUs / 2 = 2250 TFLOP/s / (64 TB/s / 8) = 2250/8 = 1125/4
  ['b200', 'bf16', 1125n, 4n, 281.25],
  // 1307.4 TFLOP/s / 5.3 TB/s = 13074/53
  ['mi300x', 'bf16', 13074n, 53n, 246.679],
  // 242/2 = 121 TFLOP/s / 300 GB/s = 1210/3
  ['l4', 'bf16', 1210n, 3n, 403.333],
  // 362.05 TFLOP/s / 864 GB/s = 362050/864 = 181025/432
  ['l40s', 'bf16', 181025n, 432n, 419.039],
  // 165.2 TFLOP/s / 1008 GB/s = 165200/1008 = 1475/9
  ['rtx-4090', 'bf16', 1475n, 9n, 163.889],
  // 21,760 x 2 x 2.41 GHz = 104.8832 TFLOP/s / 1792 GB/s = 1048832/17920 = 4097/70
  ['rtx-5090', 'fp32', 4097n, 70n, 58.529],
  // 197 TFLOP/s / 819 GB/s = 197000/819
  ['tpu-v5e', 'bf16', 197000n, 819n, 240.537],
];

describe('device table', () => {
  it('holds the devices the roofline names', () => {
    expect(DEVICES.map((device) => device.id)).toEqual([
      'a100-40gb-sxm',
      'a100-80gb-sxm',
      'h100-sxm',
      'h100-pcie',
      'h200',
      'b200',
      'mi300x',
      'l4',
      'l40s',
      'rtx-4090',
      'rtx-5090',
      'm3-max',
      'm4-max',
      'tpu-v5e',
    ]);
  });

  for (const [id, dtype, numerator, denominator, approximately] of RIDGE_POINTS) {
    it(`${id}: ${dtype} ridge point is ${numerator}/${denominator} = ${approximately} FLOPs/byte`, () => {
      const ridge = ridgePoint(deviceById(id), dtype);
      expect(ridge).toEqual(rational(numerator, denominator));
      expect(rationalToNumber(ridge!)).toBeCloseTo(approximately, 3);
    });
  }

  for (const id of ['m3-max', 'm4-max']) {
    it(`${id}: Apple publishes no GPU FLOP/s, so there is no peak and no ridge point`, () => {
      const device = deviceById(id);
      for (const dtype of DEVICE_DTYPES) expect(ridgePoint(device, dtype)).toBeUndefined();
      expect(device.notes.join(' ')).toMatch(/no GPU FLOP\/s/);
    });
  }

  it('gives every device with a peak a ridge-point test above', () => {
    const tested = new Set(RIDGE_POINTS.map(([id]) => id));
    const withPeaks = DEVICES.filter((device) => Object.keys(device.peaks).length > 0).map((device) => device.id);
    expect(withPeaks.filter((id) => !tested.has(id))).toEqual([]);
  });

  it('stores dense peaks only, halving exactly what is printed with sparsity', () => {
    const h200 = deviceById('h200');
    // "1,979 TFLOPS*" with sparsity on the H200 page: 989.5 TFLOP/s dense
    expect(h200.peaks.bf16).toMatchObject({ value: 9895n * 10n ** 11n, sparse: 1979n * T, from: 'halved sparse' });
    expect(h200.peaks.fp8?.value).toBe(1979n * T);
    // L4 prints 242 teraFLOPs* bf16 and 485 TOPs* int8, "one-half lower without sparsity"
    expect(peakFlops(deviceById('l4'), 'bf16')).toBe(121n * T);
    expect(peakFlops(deviceById('l4'), 'int8')).toBe(2425n * 10n ** 11n);
    // HGX B200: 36 PFLOPS* for 8 GPUs -> 4.5 PFLOP/s sparse -> 2.25 PFLOP/s dense per GPU
    expect(deviceById('b200').peaks.bf16).toMatchObject({ value: 2250n * T, sparse: 4500n * T });
    // Sources that print the dense figure are taken as printed: H100 SXM whitepaper 989.4, MI300X 1307.4
    expect(peakFlops(deviceById('h100-sxm'), 'bf16')).toBe(9894n * 10n ** 11n);
    expect(peakFlops(deviceById('mi300x'), 'bf16')).toBe(13074n * 10n ** 11n);
    for (const device of DEVICES) {
      for (const peak of Object.values(device.peaks)) {
        expect(peak.dense).toBe(true);
        if (peak.sparse !== undefined) expect(peak.sparse).toBe(2n * peak.value);
      }
    }
  });

  it('keeps bandwidths in bytes/s and sizes in bytes, with the unit the source prints', () => {
    expect(deviceById('h100-sxm').bandwidth.value).toBe(3350n * G);
    expect(deviceById('a100-40gb-sxm').bandwidth.value).toBe(1555n * G);
    expect(deviceById('h200').bandwidth.value).toBe(4800n * G);
    expect(deviceById('b200').bandwidth.value).toBe(8000n * G);
    expect(deviceById('a100-80gb-sxm').memory).toMatchObject({ value: 80n * G, unit: 'GB = 10^9 bytes' });
    expect(deviceById('tpu-v5e').memory).toMatchObject({ value: 17_179_869_184n, unit: 'GiB = 2^30 bytes' });
    // The errors the issue names in other tables: a bandwidth off by 1000x, an H200 with an H100's bandwidth
    for (const device of DEVICES) {
      expect(device.bandwidth.value).toBeGreaterThanOrEqual(100n * G);
      expect(device.bandwidth.value).toBeLessThanOrEqual(10_000n * G);
    }
    expect(deviceById('h200').bandwidth.value).not.toBe(deviceById('h100-sxm').bandwidth.value);
  });

  it('cites a known source for every figure', () => {
    for (const device of DEVICES) {
      const figures = [device.bandwidth, device.memory, ...Object.values(device.peaks)];
      for (const figure of figures) {
        expect(DEVICE_SOURCES[figure.source].url).toMatch(/^https:\/\//);
        expect(figure.where.length).toBeGreaterThan(0);
        expect(figure.printed.length).toBeGreaterThan(0);
      }
    }
  });

  it('refuses an unknown device by name, listing the known ones', () => {
    expect(() => deviceById('h100')).toThrow(InputError);
    expect(() => deviceById('h100')).toThrow(/--device: unknown device "h100"; use one of a100-40gb-sxm, .*h100-sxm/);
  });
});
