import { Rsqrt } from '@tensorflow/tfjs';

import { metaKernel } from '../meta_kernel.js';
import { unaryKernelFunc } from '../unary_kernel.js';

export const rsqrtConfig = metaKernel(Rsqrt, unaryKernelFunc());
