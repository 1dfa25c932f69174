/**
 * Comparing an op on meta with the same op on cpu: meta computes no values, so what must agree is
 * the shape and dtype of every output.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelRecord } from '../../src/core/kernel_record.js';

export interface Signature {
  shape: number[];
  dtype: string;
}

export type Build = () => tf.Tensor | tf.Tensor[];

/** Output shapes and dtypes of `build` on one backend; every tensor it made is released. */
export async function signaturesOn(backendName: string, build: Build): Promise<Signature[]> {
  await tf.setBackend(backendName);
  let signatures: Signature[] = [];
  tf.tidy(() => {
    const out = build();
    signatures = (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape.slice(), dtype: t.dtype }));
  });
  return signatures;
}

/** A float32 input of `shape`, every element `value`. */
export const f = (shape: number[], value = 0.5): tf.Tensor => tf.fill(shape, value);
/** An int32 input of `shape`, every element `value`. */
export const i32 = (shape: number[], value = 1): tf.Tensor => tf.fill(shape, value, 'int32');

/** The error message `build` raises on cpu and then on meta, in that order; 'no error' where it raises none. */
export async function errorMessagesOnCpuAndMeta(build: Build, metaBackendName: string): Promise<string[]> {
  const messages: string[] = [];
  for (const backendName of ['cpu', metaBackendName]) {
    await tf.setBackend(backendName);
    try {
      tf.tidy(() => {
        build();
      });
      messages.push('no error');
    } catch (error) {
      messages.push((error as Error).message);
    }
  }
  return messages;
}

/** What meta must reproduce of a traced kernel record: everything but values and time. */
export function recordSignature(record: KernelRecord) {
  const { kernel, path, phase, inputs, outputs, attrs, nested, flops, matmul } = record;
  return { kernel, path, phase, inputs, outputs, attrs, nested, flops, matmul };
}
