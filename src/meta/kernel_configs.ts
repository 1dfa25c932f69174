/**
 * Every kernel the meta backend has, one file each under kernels/. Adding a kernel (a gradient
 * kernel, say) is one small file exporting its config plus one line here.
 */
import type { KernelConfig } from '@tensorflow/tfjs';

import { addConfig } from './kernels/add.js';
import { batchMatMulConfig } from './kernels/batch_mat_mul.js';
import { castConfig } from './kernels/cast.js';
import { concatConfig } from './kernels/concat.js';
import { cosConfig } from './kernels/cos.js';
import { equalConfig } from './kernels/equal.js';
import { expConfig } from './kernels/exp.js';
import { expandDimsConfig } from './kernels/expand_dims.js';
import { fillConfig } from './kernels/fill.js';
import { fusedMatMulConfig } from './kernels/fused_mat_mul.js';
import { gatherV2Config } from './kernels/gather_v2.js';
import { greaterConfig } from './kernels/greater.js';
import { greaterEqualConfig } from './kernels/greater_equal.js';
import { identityConfig } from './kernels/identity.js';
import { lessConfig } from './kernels/less.js';
import { lessEqualConfig } from './kernels/less_equal.js';
import { logConfig } from './kernels/log.js';
import { maxConfig } from './kernels/max.js';
import { maximumConfig } from './kernels/maximum.js';
import { meanConfig } from './kernels/mean.js';
import { minimumConfig } from './kernels/minimum.js';
import { multiplyConfig } from './kernels/multiply.js';
import { negConfig } from './kernels/neg.js';
import { oneHotConfig } from './kernels/one_hot.js';
import { onesLikeConfig } from './kernels/ones_like.js';
import { packConfig } from './kernels/pack.js';
import { padV2Config } from './kernels/pad_v2.js';
import { powConfig } from './kernels/pow.js';
import { rangeConfig } from './kernels/range.js';
import { realDivConfig } from './kernels/real_div.js';
import { reciprocalConfig } from './kernels/reciprocal.js';
import { reshapeConfig } from './kernels/reshape.js';
import { reverseConfig } from './kernels/reverse.js';
import { rsqrtConfig } from './kernels/rsqrt.js';
import { scatterNdConfig } from './kernels/scatter_nd.js';
import { selectConfig } from './kernels/select.js';
import { sigmoidConfig } from './kernels/sigmoid.js';
import { sinConfig } from './kernels/sin.js';
import { sliceConfig } from './kernels/slice.js';
import { softmaxConfig } from './kernels/softmax.js';
import { splitVConfig } from './kernels/split_v.js';
import { sqrtConfig } from './kernels/sqrt.js';
import { squareConfig } from './kernels/square.js';
import { stridedSliceConfig } from './kernels/strided_slice.js';
import { subConfig } from './kernels/sub.js';
import { sumConfig } from './kernels/sum.js';
import { tanhConfig } from './kernels/tanh.js';
import { tileConfig } from './kernels/tile.js';
import { transposeConfig } from './kernels/transpose.js';
import { unpackConfig } from './kernels/unpack.js';
import { zerosLikeConfig } from './kernels/zeros_like.js';

export const metaKernelConfigs: readonly KernelConfig[] = [
  addConfig,
  batchMatMulConfig,
  castConfig,
  concatConfig,
  cosConfig,
  equalConfig,
  expConfig,
  expandDimsConfig,
  fillConfig,
  fusedMatMulConfig,
  gatherV2Config,
  greaterConfig,
  greaterEqualConfig,
  identityConfig,
  lessConfig,
  lessEqualConfig,
  logConfig,
  maxConfig,
  maximumConfig,
  meanConfig,
  minimumConfig,
  multiplyConfig,
  negConfig,
  oneHotConfig,
  onesLikeConfig,
  packConfig,
  padV2Config,
  powConfig,
  rangeConfig,
  realDivConfig,
  reciprocalConfig,
  reshapeConfig,
  reverseConfig,
  rsqrtConfig,
  scatterNdConfig,
  selectConfig,
  sigmoidConfig,
  sinConfig,
  sliceConfig,
  softmaxConfig,
  splitVConfig,
  sqrtConfig,
  squareConfig,
  stridedSliceConfig,
  subConfig,
  sumConfig,
  tanhConfig,
  tileConfig,
  transposeConfig,
  unpackConfig,
  zerosLikeConfig,
];
