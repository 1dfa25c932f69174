/**
 * A tfjs backend that keeps each tensor's dtype and reference count and no data, so the unchanged
 * model code can run full-size shapes (GPT-2 XL at 16,384 tokens) in milliseconds: every kernel
 * computes only its output shape and dtype. The engine keeps the shapes; this storage keeps what
 * tfjs's memory bookkeeping needs (dtype, refCount) so views, disposal and leak checks behave as
 * they do on the cpu backend. PyTorch's meta device, for tfjs.
 */
import {
  DataStorage,
  KernelBackend,
  engine,
  util,
  type BackendTimingInfo,
  type BackendValues,
  type DataId,
  type DataType,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { UnavailableError } from '../core/errors.js';

/** The registered backend name. tfjs keys its kernel registry as `${backend}_${kernel}`, so no '_'. */
export const META_BACKEND_NAME = 'meta';

export const META_READ_ERROR =
  'meta backend holds shapes only: tensor data cannot be read; use --backend wasm or cpu for values';

interface MetaTensorData {
  dtype: DataType;
  refCount: number;
}

/**
 * The data id of storage this backend made, holding its own dtype and reference count. A large
 * meta training step makes about a million tensors; keeping their entries in a WeakMap
 * (tfjs's DataStorage) cost about 2 us an insertion, a tenth of the step's time, where a field
 * on the id costs nothing. Data moved in from another backend keeps its own id object, so it is
 * kept in the DataStorage as before.
 */
class MetaDataId implements MetaTensorData {
  refCount = 1;
  /** False once disposed: the id then belongs to no storage here. */
  live = true;

  constructor(
    readonly id: number,
    readonly dtype: DataType,
  ) {}
}

export class MetaBackend extends KernelBackend {
  /** Data moved in from another backend; what this backend makes is kept on its MetaDataId. */
  readonly data: DataStorage<MetaTensorData>;
  /**
   * Says that values handed to this backend are dropped, so the model skips computing them
   * (src/model/host_constant.ts reads it): a host array the size of a rope table or a weight
   * would cost memory and time in proportion to the model for nothing.
   */
  readonly holdsValues = false;
  private nextDataId = 0;
  /** Live MetaDataIds, i.e. data ids made here and not yet disposed. */
  private ownDataIds = 0;

  constructor() {
    super();
    // The engine is the data mover: a tensor made on another backend is read there and handed to
    // move() below, which keeps its dtype and drops the values.
    this.data = new DataStorage<MetaTensorData>(this, engine());
  }

  override write(_values: BackendValues, _shape: number[], dtype: DataType): DataId {
    return this.allocate(dtype);
  }

  override move(dataId: DataId, _values: BackendValues, _shape: number[], dtype: DataType, refCount: number): void {
    this.data.set(dataId, { dtype, refCount });
  }

  /** A fresh output of the given shape and dtype, owning new (empty) storage. */
  makeOutput(shape: number[], dtype: DataType): TensorInfo {
    return { dataId: this.allocate(dtype), shape, dtype };
  }

  /** A view of `x` under a new shape (and dtype), sharing its storage, as cpu's Reshape does. */
  shareStorage(x: TensorInfo, shape: number[], dtype: DataType = x.dtype): TensorInfo {
    this.incRef(x.dataId);
    return { dataId: x.dataId, shape, dtype };
  }

  override refCount(dataId: DataId): number {
    if (dataId instanceof MetaDataId) return dataId.live ? dataId.refCount : 0;
    return this.data.has(dataId) ? this.data.get(dataId).refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.entryOf(dataId).refCount++;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (dataId instanceof MetaDataId) {
      if (dataId.live) {
        dataId.refCount--;
        if (!force && dataId.refCount > 0) return false;
        dataId.live = false;
        this.ownDataIds--;
      }
    } else if (this.data.has(dataId)) {
      const entry = this.data.get(dataId);
      entry.refCount--;
      if (!force && entry.refCount > 0) return false;
      this.data.delete(dataId);
    }
    return true;
  }

  override numDataIds(): number {
    return this.ownDataIds + this.data.numDataIds();
  }

  override read(_dataId: object): Promise<BackendValues> {
    return Promise.reject(new UnavailableError(META_READ_ERROR));
  }

  override readSync(_dataId: object): BackendValues {
    throw new UnavailableError(META_READ_ERROR);
  }

  // The engine adds its own logical counts (numTensors, numBytes) to this object; the backend
  // itself holds no tensor bytes at all.
  override memory(): { unreliable: boolean; numBytesHeld: number } {
    return { unreliable: false, numBytesHeld: 0 };
  }

  // No kernel does device work worth timing. tf.profile therefore falls back to reading every
  // output, which fails here with META_READ_ERROR: profile on cpu or wasm instead.
  override timerAvailable(): boolean {
    return false;
  }

  override time(f: () => void): Promise<BackendTimingInfo> {
    const start = util.now();
    f();
    return Promise.resolve({ kernelMs: util.now() - start });
  }

  // epsilon() follows from this: 1e-7, float32's.
  override floatPrecision(): 32 {
    return 32;
  }

  override dispose(): void {
    // Nothing to free: the storage holds dtypes and reference counts, which go with the backend.
  }

  private allocate(dtype: DataType): DataId {
    this.ownDataIds++;
    return new MetaDataId(this.nextDataId++, dtype);
  }

  /**
   * The entry of a live data id; one of another backend's is moved here first (DataStorage.get
   * asks the engine), as a cpu kernel's read of a foreign tensor does.
   */
  private entryOf(dataId: DataId): MetaTensorData {
    if (!(dataId instanceof MetaDataId)) return this.data.get(dataId);
    util.assert(dataId.live, () => `meta backend: data id ${dataId.id} was already disposed`);
    return dataId;
  }
}
