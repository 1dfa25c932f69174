/**
 * The layer rules of design.md section 3: a folder under src/ imports only from folders below it.
 * Each layer lists the folders it may import; anything else under src/ is a wrong-way import.
 */
const LAYERS = [
  ['core', []],
  ['config', ['core']],
  ['analytic', ['core', 'config']],
  ['model', ['core', 'config']],
  ['meta', ['core']],
  ['trace', ['core', 'config', 'model']],
  ['runtime', ['core', 'config', 'analytic', 'model', 'meta', 'trace']],
  ['verify', ['core', 'config', 'analytic', 'model', 'meta', 'trace', 'runtime']],
  ['timing', ['core', 'config', 'analytic', 'model', 'meta', 'trace', 'runtime']],
  ['render', ['core']],
  ['views', ['core', 'config', 'analytic', 'trace', 'runtime', 'verify', 'timing', 'render']],
  ['cli', ['core', 'config', 'analytic', 'model', 'meta', 'trace', 'runtime', 'verify', 'timing', 'render', 'views']],
  ['web', ['core', 'config', 'analytic', 'model', 'meta', 'trace', 'runtime', 'verify', 'timing', 'render', 'views']],
];

const layerRules = LAYERS.map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only from ${allowed.length === 0 ? 'itself' : allowed.map((l) => `src/${l}`).join(', ')}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: {
    path: '^src/([^/]+)/',
    pathNot: [`^src/(${[layer, ...allowed].join('|')})/`],
  },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'analytic-forward-below-training',
      comment: 'Inside analytic: the forward formulas come first, training builds on them, conventions compare both',
      severity: 'error',
      from: { path: '^src/analytic/[^/]+\\.ts$' },
      to: { path: '^src/analytic/(training|conventions)/' },
    },
    {
      name: 'analytic-training-below-conventions',
      severity: 'error',
      from: { path: '^src/analytic/training/' },
      to: { path: '^src/analytic/conventions/' },
    },
    {
      name: 'no-root-modules',
      comment: 'Every module lives in a layer folder; only src/index.ts (the public API) sits at the root',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/[^/]+\\.ts$', pathNot: '^src/index\\.ts$' },
    },
    {
      name: 'no-import-of-public-api-inside-src',
      comment: 'src/index.ts is for library users; inside src import the module itself',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'no-tfjs-in-pure-layers',
      comment: 'core, config and analytic are pure: the formulas must share no code with the tfjs model',
      severity: 'error',
      from: { path: '^src/(core|config|analytic)/' },
      to: { path: '@tensorflow/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'No cycle between modules',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
