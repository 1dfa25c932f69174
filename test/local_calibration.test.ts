/**
 * The local roofline's calibration (src/timing/local_calibration.ts) on wasm: every bare kernel
 * lands in the class it calibrates, as a pass's kernels are classed, and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../src/runtime/backend.js';
import { kernelClassOf, KERNEL_CLASSES } from '../src/timing/kernel_classes.js';
import { calibrationBenchmarks, calibrationRound, fitCalibration } from '../src/timing/local_calibration.js';

describe('local calibration on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('times one kernel of each benchmark, in its own class, three per class, and releases every tensor', () => {
    const benchmarks = calibrationBenchmarks();
    const before = tf.memory().numTensors;
    const round = calibrationRound(benchmarks);
    expect(tf.memory().numTensors).toBe(before);
    expect(round.map((sample) => kernelClassOf(sample.record))).toEqual(benchmarks.map((b) => b.kernelClass));
    for (const kernelClass of KERNEL_CLASSES) {
      expect(benchmarks.filter((b) => b.kernelClass === kernelClass)).toHaveLength(3);
    }
    // A weight's product is read packed; the products on an operand the pass made are not marked.
    const perCall = round.filter((_, i) => benchmarks[i]!.kernelClass === 'matmul 2-D, right operand packed per call');
    expect(perCall.map((sample) => sample.record.inputs[1]?.weight)).toEqual([undefined, undefined, undefined]);
    const fits = fitCalibration(benchmarks, [round]);
    expect(fits.map((fit) => fit.kernelClass)).toEqual([...KERNEL_CLASSES]);
    for (const { fit } of fits) {
      expect(fit.launchSeconds).toBeGreaterThanOrEqual(0);
      expect(fit.rate).toBeGreaterThan(0);
    }
  });
});
