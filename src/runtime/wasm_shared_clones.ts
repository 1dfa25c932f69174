/**
 * On wasm, a clone shares its source's storage, as it does on cpu.
 *
 * tf.clone and the engine's saves for the backward pass run the Identity kernel. tfjs's cpu
 * Identity adds a reference to the source's buffer; its wasm Identity copies the buffer. Tensors
 * are immutable (a variable's assign moves it to a new buffer), so a copy buys nothing, and in a
 * training step every tensor a gradient keeps was copied once per gradient that kept it: the
 * weights of every matmul, and a tensor two gradients read, twice. With the Identity below a
 * training step on wasm holds what it holds on cpu, buffer for buffer: the saved activations and
 * nothing more (src/analytic/training/runtime_saved.ts, test/saved_activations_trace.test.ts).
 * Reshape on wasm shares storage the same way (BackendWasm.incRef). Strings keep the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The member of BackendWasm that adds a reference to a buffer (tfjs-backend-wasm's Reshape uses it). */
interface ReferenceCounted {
  incRef(dataId: object): void;
}

let registered = false;

/** Replace wasm's Identity with one that shares storage; once per process, after the wasm kernels are registered. */
export function shareWasmClones(): void {
  if (registered) return;
  const stock = tf.getKernel('Identity', 'wasm');
  if (stock === undefined) return;
  registered = true;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    ...stock,
    kernelFunc: (args) => {
      const x = args.inputs['x']!;
      if (x.dtype === 'string') return stock.kernelFunc(args);
      (args.backend as unknown as ReferenceCounted).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}
