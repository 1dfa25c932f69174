/**
 * Opens report.html in a real headless Chromium (test/helpers/browser.ts: the one that
 * @sparticuz/chromium ships in its npm tarball, else one on the PATH) and checks that both
 * charts drew every series. Without a browser that starts this test fails and says so rather
 * than skipping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_MARKS, COMPONENT_LABELS } from '../src/views/charts.js';
import { launchChromium } from './helpers/browser.js';
import { cli } from './helpers/cli_runner.js';

const MODELS = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
// The GPT-2 family is dense: the charts leave out the router and experts, which are zero for every model.
const COMPONENTS = [
  COMPONENT_LABELS.attention_projections,
  COMPONENT_LABELS.attention_core,
  COMPONENT_LABELS.ffn,
  COMPONENT_LABELS.lm_head,
];
const CONTEXT_LENGTHS = ['1024', '2048', '4096', '8192', '16384', '32768', '65536'];

interface DrawnItem {
  label: string;
  width: number;
  height: number;
  vertices: number;
}

let workDir: string;
let browser: Browser;
let page: Page;
const requests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flopledger-report-browser-'));
  const out = join(workDir, 'report');
  const { code, stderr } = await cli('report', '--out', out);
  expect(stderr).toBe('');
  expect(code).toBe(0);

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
});

afterAll(async () => {
  await browser?.close();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

/** An SVG path as the page sees it; typed here because the test compiles without the DOM library. */
interface PagePath {
  getAttribute(name: string): string | null;
  getBBox(): { width: number; height: number };
}

/** Every drawn item of a named Vega-Lite layer inside one figure, with its laid-out box. */
function drawnItems(figureId: string, layerName: string): Promise<DrawnItem[]> {
  return page
    .locator(`figure#${figureId} g.role-mark.${layerName}_marks > path[role="graphics-symbol"]`)
    .evaluateAll((paths) =>
      (paths as unknown as PagePath[]).map((path) => {
        const box = path.getBBox();
        // A line's path is "M x,y L x,y ..."; a bar's is one closed rectangle.
        const vertices = (path.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0;
        return { label: path.getAttribute('aria-label') ?? '', width: box.width, height: box.height, vertices };
      }),
    );
}

describe('report.html in headless chromium', () => {
  it('loads nothing but itself and raises no errors', () => {
    expect(requests.filter((url) => !url.startsWith('file://'))).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(pageErrors).toEqual([]);
  });

  it('draws the stacked bars: 4 models x 4 components, every segment with an area', async () => {
    const bars = await drawnItems('flop-shares-by-size', CHART_MARKS.sharesBySize.bars);
    expect(bars).toHaveLength(16);
    for (const model of MODELS) {
      // Labels read "model | component | share".
      const stack = bars.filter((bar) => bar.label.startsWith(`${model} | `));
      expect(stack.map((bar) => bar.label.split(' | ')[1])).toEqual(COMPONENTS);
      for (const bar of stack) {
        expect(bar.width).toBeGreaterThan(0);
        expect(bar.height).toBeGreaterThan(0);
      }
    }
    // Each stack is the whole of its model's FLOPs, so all four stacks are the same height.
    const heights = MODELS.map((model) =>
      bars.filter((bar) => bar.label.startsWith(`${model} | `)).reduce((acc, bar) => acc + bar.height, 0),
    );
    for (const height of heights) expect(height).toBeCloseTo(heights[0]!, 3);
  });

  it('draws the context lines: 4 components, 7 points each', async () => {
    const lines = await drawnItems('flop-shares-by-context', CHART_MARKS.sharesByContext.lines);
    expect(lines).toHaveLength(4);
    expect(lines.map((line) => line.label)).toEqual(COMPONENTS);
    for (const line of lines) {
      expect(line.vertices).toBe(7);
      expect(line.width).toBeGreaterThan(0);
    }
    const points = await drawnItems('flop-shares-by-context', CHART_MARKS.sharesByContext.points);
    expect(points).toHaveLength(28);
    for (const component of COMPONENTS) {
      // Labels read "T | component | share".
      const series = points.filter((point) => point.label.split(' | ')[1] === component);
      expect(series.map((point) => point.label.split(' | ')[0])).toEqual(CONTEXT_LENGTHS);
    }
  });

  it('shows the charts where a reader scrolls to them', async () => {
    for (const id of ['flop-shares-by-size', 'flop-shares-by-context']) {
      const box = await page.locator(`figure#${id} svg`).boundingBox();
      expect(box?.width).toBeGreaterThan(300);
      expect(box?.height).toBeGreaterThan(200);
    }
  });
});

describe('the test browser', () => {
  // Browser tests of pages that draw with WebGL2 run here too, with no GPU: a GLSL ES 3.00 shader
  // must compile and draw through the software renderer.
  it('draws with WebGL2 and a GLSL ES 3.00 shader', async () => {
    const blank = await browser.newPage();
    try {
      const drawn = await blank.evaluate<{ version: string; pixel: number[] } | string>(`(() => {
        const gl = document.createElement('canvas').getContext('webgl2');
        if (gl === null) return 'no webgl2 context';
        const shader = (type, source) => {
          const s = gl.createShader(type);
          gl.shaderSource(s, source);
          gl.compileShader(s);
          return s;
        };
        const program = gl.createProgram();
        // One triangle that covers the whole canvas, its corners from gl_VertexID alone.
        gl.attachShader(program, shader(gl.VERTEX_SHADER, '#version 300 es\\nvoid main() { gl_Position = vec4(float(gl_VertexID == 1) * 4.0 - 1.0, float(gl_VertexID == 2) * 4.0 - 1.0, 0.0, 1.0); }'));
        gl.attachShader(program, shader(gl.FRAGMENT_SHADER, '#version 300 es\\nprecision mediump float; out vec4 color; void main() { color = vec4(1.0, 0.0, 1.0, 1.0); }'));
        gl.linkProgram(program);
        if (!gl.getProgramParameter(program, gl.LINK_STATUS)) return 'link failed: ' + gl.getProgramInfoLog(program);
        gl.useProgram(program);
        gl.clearColor(0, 1, 0, 1);
        gl.clear(gl.COLOR_BUFFER_BIT);
        gl.drawArrays(gl.TRIANGLES, 0, 3);
        const pixel = new Uint8Array(4);
        gl.readPixels(gl.drawingBufferWidth >> 1, gl.drawingBufferHeight >> 1, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
        return { version: gl.getParameter(gl.VERSION), pixel: Array.from(pixel) };
      })()`);
      expect(drawn).toEqual({ version: expect.stringMatching(/^WebGL 2\.0/), pixel: [255, 0, 255, 255] });
    } finally {
      await blank.close();
    }
  });
});
