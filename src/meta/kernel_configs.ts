/**
 * Every kernel the meta backend has: the elementwise ones as rows of kernels/elementwise.ts, each
 * other in a file of its own under kernels/. Adding an elementwise kernel is a row there; any
 * other kernel (a gradient kernel, say) is one small file exporting its config plus one line here.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';

import { elementwiseConfigs } from './kernels/elementwise.js';
import { batchMatMulConfig } from './kernels/batch_mat_mul.js';
import { castConfig } from './kernels/cast.js';
import { concatConfig } from './kernels/concat.js';
import { expandDimsConfig } from './kernels/expand_dims.js';
import { fillConfig } from './kernels/fill.js';
import { fusedMatMulConfig } from './kernels/fused_mat_mul.js';
import { gatherNdConfig } from './kernels/gather_nd.js';
import { gatherV2Config } from './kernels/gather_v2.js';
import { identityConfig } from './kernels/identity.js';
import { maxConfig } from './kernels/max.js';
import { meanConfig } from './kernels/mean.js';
import { oneHotConfig } from './kernels/one_hot.js';
import { onesLikeConfig } from './kernels/ones_like.js';
import { packConfig } from './kernels/pack.js';
import { padV2Config } from './kernels/pad_v2.js';
import { rangeConfig } from './kernels/range.js';
import { reshapeConfig } from './kernels/reshape.js';
import { reverseConfig } from './kernels/reverse.js';
import { scatterNdConfig } from './kernels/scatter_nd.js';
import { selectConfig } from './kernels/select.js';
import { sliceConfig } from './kernels/slice.js';
import { softmaxConfig } from './kernels/softmax.js';
import { splitVConfig } from './kernels/split_v.js';
import { stridedSliceConfig } from './kernels/strided_slice.js';
import { sumConfig } from './kernels/sum.js';
import { tileConfig } from './kernels/tile.js';
import { topKConfig } from './kernels/top_k.js';
import { transposeConfig } from './kernels/transpose.js';
import { unpackConfig } from './kernels/unpack.js';
import { zerosLikeConfig } from './kernels/zeros_like.js';

export const metaKernelConfigs: readonly KernelConfig[] = [
  ...elementwiseConfigs,
  batchMatMulConfig,
  castConfig,
  concatConfig,
  expandDimsConfig,
  fillConfig,
  fusedMatMulConfig,
  gatherNdConfig,
  gatherV2Config,
  identityConfig,
  maxConfig,
  meanConfig,
  oneHotConfig,
  onesLikeConfig,
  packConfig,
  padV2Config,
  rangeConfig,
  reshapeConfig,
  reverseConfig,
  scatterNdConfig,
  topKConfig,
  selectConfig,
  sliceConfig,
  softmaxConfig,
  splitVConfig,
  stridedSliceConfig,
  sumConfig,
  tileConfig,
  transposeConfig,
  unpackConfig,
  zerosLikeConfig,
];
