import { Equal } from '@tensorflow/tfjs';

import { binaryKernelFunc } from '../binary_kernel.js';
import { metaKernel } from '../meta_kernel.js';

export const equalConfig = metaKernel(Equal, binaryKernelFunc('bool'));
