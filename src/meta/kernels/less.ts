import { Less } from '@tensorflow/tfjs';

import { binaryKernelFunc } from '../binary_kernel.js';
import { metaKernel } from '../meta_kernel.js';

export const lessConfig = metaKernel(Less, binaryKernelFunc('bool'));
