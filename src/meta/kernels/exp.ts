import { Exp } from '@tensorflow/tfjs';

import { metaKernel } from '../meta_kernel.js';
import { unaryKernelFunc } from '../unary_kernel.js';

// cpu's Exp yields float32 whatever the input dtype.
export const expConfig = metaKernel(Exp, unaryKernelFunc('float32'));
