/**
 * The "native" backend: every kernel runs as on wasm, on the very same wasm backend instance and
 * heap, except the matmuls (BatchMatMul, _FusedMatMul), which ONNX Runtime's CPU build computes
 * with its native GEMM (MLAS, AVX2/AVX-512 where the CPU has them). It comes from the optional
 * package onnxruntime-node, whose tarball carries the linux, macOS and Windows CPU binaries; the
 * repository's .npmrc skips its install script, which would download GPU providers.
 *
 * tfjs kernels are synchronous, and onnxruntime-node's public InferenceSession.run is async; but
 * that method only defers, by setImmediate, a call to its native binding's run, which is
 * synchronous. So the kernels call the binding (onnxruntime-node/dist/binding) directly, on
 * sessions loaded once when the backend starts (loading is async; one session per pair of
 * transposes serves every shape, see onnx_matmul_model.ts). The binding is not onnxruntime-node's
 * documented API, which is why the dependency is pinned to one version.
 *
 * No data is copied: the operands are Float32Array views of the wasm heap, and ONNX Runtime writes
 * the product into an output allocated there as wasm's own kernel would allocate it. Measured
 * here (scripts/bench_native_matmul.ts, one thread each), the native GEMM ran 128x768x768 and
 * 512x1024x{4096, 50257} products 2.7-3.9x as fast as wasm's XNNPACK, transposed ones 36-50x, and
 * a 64x64x64 product in about the same ~50 us.
 *
 * The tracer sees the same kernels with the same inputs and attributes as on wasm: only the kernel
 * function behind BatchMatMul and _FusedMatMul differs, so every verification stays exact.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { UnavailableError } from '../core/errors.js';
import { MATMUL_MODEL_NAMES, matmulModelBytes } from './onnx_matmul_model.js';

/** The package the native GEMM comes from; pinned in package.json (the binding is not public API). */
const NATIVE_PACKAGE = 'onnxruntime-node';

const INSTALL_HINT =
  `npm install ${NATIVE_PACKAGE} (from the npm registry; the repository's .npmrc skips its GPU download), ` +
  'or use --backend wasm';

/** onnxruntime-common's Tensor: the binding reads type, dims and data from it. */
interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}
type OrtTensorConstructor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;

interface OrtSessionOptions {
  readonly intraOpNumThreads: number;
  readonly interOpNumThreads: number;
  readonly executionMode: 'sequential';
  readonly graphOptimizationLevel: 'all';
  /** Session config entries by their full key (onnxruntime_session_options_config_keys.h); the Node binding takes strings. */
  readonly extra: Readonly<Record<string, string>>;
}

/** The native InferenceSession of onnxruntime-node/dist/binding (its binding.d.ts). */
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: OrtSessionOptions): Promise<void>;
  run(
    feeds: Record<string, OrtTensor>,
    fetches: Record<string, OrtTensor | null>,
    options: Record<string, never>,
  ): Record<string, OrtTensor>;
}

interface OrtBindingModule {
  readonly binding: { readonly InferenceSession: new () => BindingSession };
  readonly initOrt: () => void;
}

interface NativeRuntime {
  readonly version: string;
  readonly Tensor: OrtTensorConstructor;
  /** Sessions by `${transposeA}${transposeB}`. */
  readonly sessions: ReadonlyMap<string, BindingSession>;
  readonly threads: number;
}

let runtime: NativeRuntime | undefined;

/** The first non-empty line of an error's message. */
function firstLineOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (
    message
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? 'unknown error'
  );
}

function sessionKey(transposeA: boolean, transposeB: boolean): string {
  return `${transposeA}${transposeB}`;
}

/** Loads onnxruntime-node and one session per pair of transposes; UnavailableError when it cannot. */
async function loadNativeRuntime(threads: number): Promise<NativeRuntime> {
  if (runtime !== undefined) return runtime;
  const require = createRequire(import.meta.url);
  let binding: OrtBindingModule;
  let Tensor: OrtTensorConstructor;
  let version: string;
  try {
    require.resolve(NATIVE_PACKAGE);
  } catch {
    throw new UnavailableError(`--backend native: ${NATIVE_PACKAGE} is not installed. To use it: ${INSTALL_HINT}`);
  }
  try {
    binding = require(`${NATIVE_PACKAGE}/dist/binding`) as OrtBindingModule;
    // The Tensor class of the onnxruntime-common that onnxruntime-node itself resolves.
    const packageRequire = createRequire(require.resolve(NATIVE_PACKAGE));
    Tensor = (packageRequire('onnxruntime-common') as { Tensor: OrtTensorConstructor }).Tensor;
    version = (require(`${NATIVE_PACKAGE}/package.json`) as { version: string }).version;
    binding.initOrt();
  } catch (error) {
    throw new UnavailableError(
      `--backend native: ${NATIVE_PACKAGE} is installed but failed to load: ${firstLineOf(error)}. To use it: ${INSTALL_HINT}`,
    );
  }
  const options: OrtSessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Between kernels the pool's threads sleep instead of spinning: the non-matmul kernels run on
    // the main thread in between, and on 2 cores a spinning worker took the core they needed
    // (GPT-2 small at 128 tokens, 2 threads: 444 ms a pass with spinning off, 649 ms with it on).
    extra: { 'session.intra_op.allow_spinning': '0' },
  };
  const sessions = new Map<string, BindingSession>();
  try {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const session = new binding.binding.InferenceSession();
        const model = matmulModelBytes(transposeA, transposeB);
        await session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, options);
        sessions.set(sessionKey(transposeA, transposeB), session);
      }
    }
  } catch (error) {
    throw new UnavailableError(
      `--backend native: ${NATIVE_PACKAGE} ${version} could not load its matmul model: ${firstLineOf(error)}. Use --backend wasm`,
    );
  }
  runtime = { version, Tensor, sessions, threads };
  return runtime;
}

type KernelConfig = tf.KernelConfig;
type KernelFunc = KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

function heapView(backend: BackendWasm, info: tf.TensorInfo, size: number): Float32Array {
  const { memoryOffset } = backend.dataIdMap.get(info.dataId);
  // Both wasm builds are Emscripten modules with HEAPU8; the threaded build's typings omit it.
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  return new Float32Array(heap.buffer, memoryOffset, size);
}

/**
 * op(a) @ op(b) by the native GEMM into a new wasm-heap output of the broadcast shape, as wasm's
 * BatchMatMul computes it; undefined when the batch dims broadcast in a way a rank-3 product
 * cannot express (e.g. [2, 1] against [1, 3]), which the caller leaves to wasm.
 */
function nativeProduct(
  native: NativeRuntime,
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const [aRows, aCols] = [a.shape[aRank - 2]!, a.shape[aRank - 1]!];
  const [bRows, bCols] = [b.shape[bRank - 2]!, b.shape[bRank - 1]!];
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  const [m, inner] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const [innerB, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
  tf.util.assert(
    inner === innerB,
    () =>
      `Error in matMul: inner shapes (${inner}) and (${innerB}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
      `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const batchDims = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...batchDims, m, n], 'float32');
  const batch = Math.max(batchA, batchB);
  const outSize = batch * m * n;
  if (outSize === 0) return out;
  // Views are taken after makeOutput: an allocation may grow the heap and detach older views.
  const product = heapView(backend, out, outSize);
  if (inner === 0) {
    product.fill(0);
    return out;
  }
  const { Tensor } = native;
  const session = native.sessions.get(sessionKey(transposeA, transposeB))!;
  // The threaded wasm build's heap is a SharedArrayBuffer, which the binding refuses ("Invalid
  // argument"): there the operands are copied out and the product copied back, O(n^2) beside
  // the GEMM's O(n^3).
  const shared = product.buffer instanceof SharedArrayBuffer;
  const operand = (info: tf.TensorInfo, dims: number[]) => {
    const view = heapView(backend, info, tf.util.sizeFromShape(dims));
    return new Tensor('float32', shared ? view.slice() : view, dims);
  };
  const result = session.run(
    {
      [MATMUL_MODEL_NAMES.a]: operand(a, [batchA, aRows, aCols]),
      [MATMUL_MODEL_NAMES.b]: operand(b, [batchB, bRows, bCols]),
    },
    { [MATMUL_MODEL_NAMES.product]: shared ? null : new Tensor('float32', product, [batch, m, n]) },
    {},
  );
  if (shared) product.set(result[MATMUL_MODEL_NAMES.product]!.data);
  return out;
}

/** The tfjs kernel wasm runs for each fused activation (tfjs-core's fused_util.applyActivation). */
const ACTIVATION_KERNELS: Readonly<Record<string, string>> = {
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  sigmoid: 'Sigmoid',
  leakyrelu: 'LeakyRelu',
  prelu: 'Prelu',
};

function registerNativeKernels(native: NativeRuntime): void {
  const wasmKernels = tf.getKernelsForBackend('wasm');
  // Wasm's own kernel functions, taken now: the tracer swaps only the active backend's functions,
  // so these stay plain helpers whose work belongs to the kernel that calls them, as on wasm.
  const wasmFunction = (name: string): KernelFunc => {
    const config = wasmKernels.find((kernel) => kernel.kernelName === name);
    if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
    return config.kernelFunc;
  };
  const wasmBatchMatMul = wasmFunction('BatchMatMul');
  const wasmFusedMatMul = wasmFunction('_FusedMatMul');
  const wasmAdd = wasmFunction('Add');

  const batchMatMul: KernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    return nativeProduct(native, backend, a, b, transposeA, transposeB) ?? wasmBatchMatMul(args);
  };

  const fusedMatMul: KernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { a, b, bias, preluActivationWeights } = args.inputs as {
      a: tf.TensorInfo;
      b: tf.TensorInfo;
      bias?: tf.TensorInfo;
      preluActivationWeights?: tf.TensorInfo;
    };
    const { transposeA, transposeB, activation, leakyreluAlpha } = args.attrs as unknown as tf._FusedMatMulAttrs;
    const activationKernel = ACTIVATION_KERNELS[activation];
    if (activation !== 'linear' && activationKernel === undefined) return wasmFusedMatMul(args);
    const product = nativeProduct(native, backend, a, b, transposeA, transposeB);
    if (product === undefined) return wasmFusedMatMul(args);
    let result = product;
    if (bias !== undefined) {
      result = wasmAdd({ inputs: { a: product, b: bias }, backend, attrs: {} }) as tf.TensorInfo;
      backend.disposeData(product.dataId);
    }
    if (activationKernel !== undefined) {
      const inputs: Record<string, tf.TensorInfo> = { x: result };
      if (activation === 'prelu' && preluActivationWeights !== undefined) inputs['alpha'] = preluActivationWeights;
      const activated = wasmFunction(activationKernel)({
        inputs,
        backend,
        attrs: activation === 'leakyrelu' ? { alpha: leakyreluAlpha ?? 0.2 } : {},
      }) as tf.TensorInfo;
      backend.disposeData(result.dataId);
      result = activated;
    }
    return result;
  };

  for (const config of wasmKernels) {
    const kernelFunc =
      config.kernelName === 'BatchMatMul'
        ? batchMatMul
        : config.kernelName === '_FusedMatMul'
          ? fusedMatMul
          : undefined;
    tf.registerKernel({ ...config, backendName: 'native', kernelFunc: kernelFunc ?? config.kernelFunc });
  }
}

let registered = false;

/**
 * Makes "native" the active backend on the wasm backend's instance and heap, which `startWasm`
 * starts when it is not running yet; ONNX Runtime's matmuls take `threads` threads. Throws
 * UnavailableError naming the fix when onnxruntime-node is missing or does not load, before
 * anything is started.
 *
 * The wasm kernels stay on one thread, the matmuls on `threads`: measured on 2 cores (GPT-2 small,
 * 128 tokens, `time --backend native`, interleaved), wasm's threaded build beside ONNX Runtime's
 * pool made every pass slower than one thread for both (890-960 ms against 605 ms), since both
 * pools wait for a core the other holds, while the single-thread wasm build with two threads of
 * ONNX Runtime took 444 ms. If the threaded wasm build already runs in this process (a run on
 * `wasm` came first), ONNX Runtime takes one thread.
 */
export async function startNativeBackend(threads: number, startWasm: () => Promise<void>): Promise<void> {
  const wasmThreads = tf.engine().registry['wasm'] === undefined ? 1 : getThreadsCount();
  const native = await loadNativeRuntime(wasmThreads > 1 ? 1 : threads);
  await startWasm();
  const wasmBackend = tf.engine().registry['wasm'];
  if (wasmBackend === undefined) throw new Error('startNativeBackend: the wasm backend did not start');
  if (!registered) {
    registerNativeKernels(native);
    // Priority 0: tfjs never picks it by itself.
    tf.registerBackend('native', () => wasmBackend, 0);
    registered = true;
  }
  if (!(await tf.setBackend('native')))
    throw new UnavailableError('--backend native: the backend failed to initialise');
}

/** "ONNX Runtime 1.31.1, 1 thread": what computes the native backend's matmuls, once started. */
export function nativeMatmulDescription(): string {
  if (runtime === undefined) return 'ONNX Runtime (not started)';
  return `ONNX Runtime ${runtime.version}, ${runtime.threads > 1 ? `${runtime.threads} threads` : '1 thread'}`;
}
