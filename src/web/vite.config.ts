/**
 * The web page's build: src/web/index.html and what it imports, bundled into dist-web/ as static
 * files (relative paths, so the folder works wherever it is served from). `npm run web` builds
 * and previews it; test/web_browser.test.ts builds it once and opens it in headless Chromium.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const NODE_BUILTINS = ['fs', 'fs/promises', 'module', 'os', 'path', 'url', 'crypto', 'worker_threads'];

export default defineConfig({
  root: here('.'),
  base: './',
  publicDir: false,
  resolve: {
    alias: [
      ...NODE_BUILTINS.map((name) => ({ find: `node:${name}`, replacement: here('./node_stub.ts') })),
      { find: /^cli-progress$/, replacement: here('./cli_progress_stub.ts') },
      { find: /^@tensorflow\/tfjs-(layers|converter|data)$/, replacement: here('./tfjs_apis_stub.ts') },
    ],
  },
  // backend.ts reads FLOPLEDGER_WASM_THREADS; a page has no environment, so one wasm thread.
  define: { 'process.env': '{}' },
  worker: { format: 'es' },
  build: {
    outDir: here('../../dist-web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
  },
  preview: { port: 4173, strictPort: false },
});
