/**
 * Opens report.html in a real browser (Debian's chromium, driven by playwright-core, which
 * downloads nothing) and checks that both charts drew every series. CI installs chromium when
 * it is absent; without it this test fails and says so rather than skipping.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli/run.js';
import { CHART_MARKS, COMPONENT_LABELS } from '../src/views/charts.js';

const CHROMIUM = '/usr/bin/chromium';
// No network here: without these flags chromium keeps retrying refused connections.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const MODELS = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
const COMPONENTS = Object.values(COMPONENT_LABELS);
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
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium) to run the report's browser test; .ci/run installs it when absent`,
    );
  }
  workDir = mkdtempSync(join(tmpdir(), 'flopledger-report-browser-'));
  const out = join(workDir, 'report');
  let stderr = '';
  const code = await run(['report', '--out', out], { stdout: () => {}, stderr: (text) => (stderr += text) });
  expect(stderr).toBe('');
  expect(code).toBe(0);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
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
