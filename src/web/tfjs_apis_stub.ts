/**
 * What the page is given for the layers, converter and data APIs that the umbrella
 * `@tensorflow/tfjs` re-exports. The library calls none of them (it builds its model from core
 * ops and kernels), yet Rollup parses their modules in full and keeps part of the layers API
 * (its class registrations have side effects): leaving them out makes the page's build about
 * twice as fast and its run worker 0.23 MB smaller. The umbrella reads only their versions.
 */
export const version_layers = 'not in the page';
export const version_converter = 'not in the page';
export const version_data = 'not in the page';
