/**
 * The local roofline's kernel classes and class lines (src/timing/kernel_classes.ts): which class
 * a traced kernel falls in, and the fit of time = launch + work / rate on points whose line is known.
 */
import { describe, expect, it } from 'vitest';
import type { KernelRecord, TensorSignature } from '../src/core/kernel_record.js';
import { fitClass, kernelClassOf, predictKernel, workOf } from '../src/timing/kernel_classes.js';

const f32 = (...shape: number[]): TensorSignature => ({ shape, dtype: 'float32' });

function record(kernel: string, inputs: TensorSignature[], output: TensorSignature, extra: Partial<KernelRecord> = {}) {
  return { index: 0, kernel, path: 'x', inputs, outputs: [output], attrs: {}, nested: false, flops: 0n, ...extra };
}

/** A traced matmul record; `rightIsWeight` marks b as a trace handed the weights marks one. */
function matmul(a: number[], b: number[], transposeB = false, rightIsWeight = true): KernelRecord {
  const [m, k] = [a[a.length - 2]!, a[a.length - 1]!];
  const n = transposeB ? b[b.length - 2]! : b[b.length - 1]!;
  const batch = a.length === 3 ? a[0]! : 1;
  const right: TensorSignature = rightIsWeight ? { ...f32(...b), weight: true } : f32(...b);
  return record('BatchMatMul', [f32(...a), right], f32(...a.slice(0, -1), n), {
    attrs: { transposeA: false, transposeB },
    matmul: { batch, m, k, n, flops: BigInt(2 * batch * m * k * n) },
  });
}

describe('kernel classes', () => {
  it('splits matmuls by batch, transposes, a weight on the right and its size against 512 x 512 float32', () => {
    expect(kernelClassOf(matmul([256, 512], [512, 512]))).toBe('matmul 2-D, right operand cached');
    expect(kernelClassOf(matmul([256, 512], [512, 513]))).toBe('matmul 2-D, right operand large');
    // A head's k^T or v: made by the pass, so packed on every product, whatever its size.
    expect(kernelClassOf(matmul([128, 64], [64, 128], false, false))).toBe('matmul 2-D, right operand packed per call');
    expect(kernelClassOf(matmul([256, 512], [512, 513], false, false))).toBe(
      'matmul 2-D, right operand packed per call',
    );
    expect(kernelClassOf(matmul([256, 64], [256, 64], true))).toBe('matmul 2-D transposed');
    expect(kernelClassOf(matmul([4, 256, 256], [4, 256, 64]))).toBe('matmul batched');
    expect(kernelClassOf(matmul([4, 256, 64], [4, 256, 64], true))).toBe('matmul batched transposed');
  });

  it('tells a broadcast binary kernel from a same-shape one, and leaves an unknown kernel unclassed', () => {
    expect(kernelClassOf(record('Add', [f32(1, 8, 4), f32(1, 8, 4)], f32(1, 8, 4)))).toBe('elementwise');
    expect(kernelClassOf(record('Multiply', [f32(1, 8, 4), f32(4)], f32(1, 8, 4)))).toBe('elementwise broadcast');
    expect(kernelClassOf(record('Greater', [f32(1, 8), f32(8, 1)], { shape: [8, 8], dtype: 'bool' }))).toBe(
      'comparison broadcast',
    );
    expect(kernelClassOf(record('Einsum', [f32(2)], f32(2)))).toBeUndefined();
  });

  it('measures matmul work in FLOPs and the rest in bytes read and written', () => {
    expect(workOf(matmul([2, 3], [3, 4]), 'matmul 2-D, right operand cached')).toBe(2 * 2 * 3 * 4);
    // two [1,8,4] float32 inputs read, one written: 3 x 32 x 4 bytes
    expect(workOf(record('Add', [f32(1, 8, 4), f32(1, 8, 4)], f32(1, 8, 4)), 'elementwise')).toBe(384);
  });
});

describe('class lines', () => {
  it('recovers the line through points that lie on it', () => {
    // launch 10 us, rate 2 GB/s: t = 1e-5 + w / 2e9
    const points = [1e3, 1e5, 1e7].map((work) => ({ work, seconds: 1e-5 + work / 2e9 }));
    const fit = fitClass(points);
    expect(fit.launchSeconds).toBeCloseTo(1e-5, 12);
    expect(fit.rate / 2e9).toBeCloseTo(1, 9);
  });

  it('never returns a negative launch or rate', () => {
    // time falling with work: the rate is unbounded and launch the weighted mean time
    const flat = fitClass([
      { work: 1, seconds: 2e-6 },
      { work: 1000, seconds: 1e-6 },
    ]);
    expect(flat.rate).toBe(Infinity);
    expect(flat.launchSeconds).toBeGreaterThan(1e-6);
    expect(flat.launchSeconds).toBeLessThan(2e-6);
    // a line that would cross zero above the origin: launch 0, rate fitted alone
    const steep = fitClass([
      { work: 100, seconds: 1e-6 },
      { work: 1000, seconds: 1.9e-5 },
    ]);
    expect(steep.launchSeconds).toBe(0);
    expect(steep.rate).toBeGreaterThan(0);
  });

  it('predicts an unclassed kernel as elementwise and says so', () => {
    const fits = { elementwise: { launchSeconds: 1e-5, rate: 1e9 } };
    const prediction = predictKernel(record('Einsum', [f32(250)], f32(250)), fits);
    expect(prediction).toMatchObject({ kernelClass: 'elementwise', classified: false, work: 2000 });
    expect(prediction.seconds).toBeCloseTo(1e-5 + 2e-6, 12);
    expect(() => predictKernel(matmul([2, 3], [3, 4]), fits)).toThrow(/was not calibrated/);
  });
});
