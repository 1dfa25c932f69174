import { Tanh } from '@tensorflow/tfjs';

import { metaKernel } from '../meta_kernel.js';
import { unaryKernelFunc } from '../unary_kernel.js';

/** The GELU MLP's tanh approximation (src/model/gelu_mlp.ts). */
export const tanhConfig = metaKernel(Tanh, unaryKernelFunc());
