/**
 * The web page as a visitor meets it: the size of what `npm run web` builds, and how long the
 * page takes to show its first result in the headless Chromium the browser tests use
 * (test/helpers/browser.ts: WebGL and WebGPU drawn in software by SwiftShader).
 *
 *  - Bundle size: every file Vite writes, in bytes and gzipped (zlib's default level, 6, what a
 *    static server typically sends), each marked by when the page fetches it: for the first
 *    count, for the charts after it, or only once a run starts.
 *  - Time to first result: from navigation to the first exact count (the parameters) in the
 *    page, on the bare address (GPT-2 small, the default model); and to both charts drawn.
 *  - Time to the first verified webgl trace: from navigation to the forward pass of `tiny` at 32
 *    tokens verified on webgl, every matmul matched; the button is clicked as soon as the counts
 *    show, so this includes loading the run worker and starting WebGL.
 *
 * The page is served from a local static server (Vite's preview of the built folder). Every load
 * is in a fresh browser context, so nothing is cached; one unmeasured round comes first. Times
 * are read inside the page, on its own clock (performance.now() counts from navigation start),
 * when the count or the result enters the document. Medians of the rounds.
 *
 * `npm run bench` calls benchWeb; `node dist/scripts/bench_web.js [rounds]` runs it alone.
 * Writes docs/bench_web.md and docs/bench_web.json.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { build, preview } from 'vite';
import { launchChromium } from '../test/helpers/browser.js';
import { formatBytesSi } from '../src/core/format.js';
import { packageRoot } from '../src/core/package_root.js';
import { toJsonText } from '../src/render/json_text.js';
import { renderReport } from '../src/render/render.js';
import { heading, paragraph, tableBlock, type Report } from '../src/render/table.js';
import { summarize, type SampleSummary } from '../src/timing/statistics.js';

/** The small model traced on webgl, as a link to the page states it. */
const TRACE_HASH = '#model=tiny&seq=32&backend=webgl';
/** tiny has 2 layers of q, k, v, scores, weighted sum, output, w1, w3, w2, then lm_head. */
const TINY_MATMULS = '19';
const RESULT_TIMEOUT_MS = 180_000;

type LoadedFor = 'first count' | 'charts' | 'webgl run' | 'not fetched';

export interface BundleFile {
  readonly path: string;
  readonly bytes: bigint;
  readonly gzip_bytes: bigint;
  readonly loaded_for: LoadedFor;
}

interface PageMarks {
  /** The page clock's zero, navigation start, in ms since the epoch (as request start times are). */
  readonly origin: number;
  /** The first exact count in #parameters. */
  readonly count: number;
  /** Both charts drawn. */
  readonly charts?: number;
  /** The click on "Trace and verify". */
  readonly click?: number;
  /** The forward pass's result, verified, in the document. */
  readonly verified?: number;
  readonly dom_content_loaded: number;
}

export interface WebBenchResult {
  readonly rounds: number;
  readonly build_ms: number;
  readonly files: readonly BundleFile[];
  readonly total: { readonly bytes: bigint; readonly gzip_bytes: bigint };
  readonly first_count: { readonly bytes: bigint; readonly gzip_bytes: bigint };
  readonly first_count_ms: SampleSummary;
  readonly charts_drawn_ms: SampleSummary;
  readonly dom_content_loaded_ms: SampleSummary;
  readonly verified_webgl_ms: SampleSummary;
  readonly click_to_verified_webgl_ms: SampleSummary;
  readonly browser: string;
  readonly load_average_before: number[];
  readonly load_average_after: number[];
  readonly samples: {
    readonly first_count_ms: number[];
    readonly charts_drawn_ms: number[];
    readonly verified_webgl_ms: number[];
    readonly click_to_verified_webgl_ms: number[];
  };
}

/**
 * Runs in the page before its own scripts: notes on the page's clock when the first count and
 * the verified forward pass enter the document, and when the run button is clicked.
 */
const MARKS_SCRIPT = `
(() => {
  const marks = {};
  window.__benchMarks = marks;
  const look = () => {
    if (marks.count === undefined && /\\d/.test(document.getElementById('parameters')?.textContent ?? '')) {
      marks.count = performance.now();
    }
    if (marks.charts === undefined && document.querySelector('#charts[data-drawn="yes"]') !== null) {
      marks.charts = performance.now();
    }
    if (marks.verified === undefined && document.querySelector('.run-result[data-what="forward"]') !== null) {
      marks.verified = performance.now();
    }
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  document.addEventListener('click', (event) => {
    if (event.target?.id === 'run-button') marks.click = performance.now();
  }, true);
})();
`;

const READ_MARKS = `({
  ...window.__benchMarks,
  origin: performance.timeOrigin,
  dom_content_loaded: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? NaN,
})`;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** A built file the page requested, and when (ms since the epoch). */
interface Fetch {
  readonly path: string;
  readonly start: number;
}

/**
 * One load of the page in a fresh context, until its charts are drawn or, with `verifyOnWebgl`,
 * until the forward pass is verified on webgl: the page's marks and the built files it fetched.
 */
async function loadOnce(
  browser: Browser,
  url: string,
  verifyOnWebgl: boolean,
): Promise<{ marks: PageMarks; fetched: Fetch[] }> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const fetched: Fetch[] = [];
    // Requests of the page's run worker are reported on the page too.
    page.on('requestfinished', (request) => {
      const path = new URL(request.url()).pathname.replace(/^\//, '');
      fetched.push({
        path: path === '' || path.endsWith('/') ? `${path}index.html` : path,
        start: request.timing().startTime,
      });
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(MARKS_SCRIPT);
    await page.goto(url, { waitUntil: 'commit' });
    await page.locator('#parameters').filter({ hasText: /\d/ }).waitFor({ timeout: RESULT_TIMEOUT_MS });
    if (verifyOnWebgl) {
      await page.click('#run-button');
      const result = page.locator('.run-result[data-what="forward"], .run-error').first();
      await result.waitFor({ timeout: RESULT_TIMEOUT_MS });
      const [ok, matched, expected] = await Promise.all(
        ['data-ok', 'data-matched', 'data-expected'].map((name) => result.getAttribute(name)),
      );
      if (ok !== 'true' || matched !== TINY_MATMULS || expected !== TINY_MATMULS) {
        throw new Error(`the webgl run did not verify: ${await result.innerText()}`);
      }
    } else {
      await page.locator('#charts[data-drawn="yes"]').waitFor({ timeout: RESULT_TIMEOUT_MS });
    }
    if (errors.length > 0) throw new Error(`the page raised: ${errors.join(' | ')}`);
    const marks = await page.evaluate<PageMarks>(READ_MARKS);
    return { marks, fetched };
  } finally {
    await context.close();
  }
}

export async function measureWeb(rounds = 5, log: (line: string) => void = () => undefined): Promise<WebBenchResult> {
  const root = packageRoot();
  const configFile = join(root, 'src', 'web', 'vite.config.ts');
  const outDir = mkdtempSync(join(os.tmpdir(), 'flopledger-bench-web-'));
  const loadBefore = os.loadavg();
  try {
    log('building the page (vite build)');
    const buildStart = performance.now();
    await build({ configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
    const buildMs = performance.now() - buildStart;
    const server = await preview({
      configFile,
      logLevel: 'error',
      build: { outDir },
      preview: { port: 0, host: '127.0.0.1', open: false },
    });
    const browser = await launchChromium();
    try {
      const base = server.resolvedUrls!.local[0]!;
      const firstCountMs: number[] = [];
      const chartsMs: number[] = [];
      const verifiedMs: number[] = [];
      const clickToVerifiedMs: number[] = [];
      const domMs: number[] = [];
      const loadedFor = new Map<string, LoadedFor>();
      for (let round = 0; round <= rounds; round++) {
        log(round === 0 ? 'unmeasured first round' : `round ${round} of ${rounds}`);
        const counted = await loadOnce(browser, base, false);
        const traced = await loadOnce(browser, `${base}${TRACE_HASH}`, true);
        if (round === 0) continue;
        // What each file is fetched for: the first load requests the page's own files before its
        // first count and the charts' after it; the second, the run's after the click.
        const countedAt = counted.marks.origin + counted.marks.count;
        for (const { path, start } of counted.fetched) {
          if (!loadedFor.has(path)) loadedFor.set(path, start <= countedAt ? 'first count' : 'charts');
        }
        const clickedAt = traced.marks.origin + traced.marks.click!;
        for (const { path, start } of traced.fetched) {
          if (!loadedFor.has(path) && start >= clickedAt) loadedFor.set(path, 'webgl run');
        }
        firstCountMs.push(counted.marks.count);
        chartsMs.push(counted.marks.charts!);
        domMs.push(counted.marks.dom_content_loaded);
        verifiedMs.push(traced.marks.verified!);
        clickToVerifiedMs.push(traced.marks.verified! - traced.marks.click!);
      }
      const files = filesUnder(outDir).map((path): BundleFile => {
        const content = readFileSync(join(outDir, path));
        return {
          path,
          bytes: BigInt(content.length),
          gzip_bytes: BigInt(gzipSync(content).length),
          loaded_for: loadedFor.get(path) ?? 'not fetched',
        };
      });
      const sum = (chosen: readonly BundleFile[]) => ({
        bytes: chosen.reduce((total, file) => total + file.bytes, 0n),
        gzip_bytes: chosen.reduce((total, file) => total + file.gzip_bytes, 0n),
      });
      return {
        rounds,
        build_ms: buildMs,
        files,
        total: sum(files),
        first_count: sum(files.filter((file) => file.loaded_for === 'first count')),
        first_count_ms: summarize(firstCountMs),
        charts_drawn_ms: summarize(chartsMs),
        dom_content_loaded_ms: summarize(domMs),
        verified_webgl_ms: summarize(verifiedMs),
        click_to_verified_webgl_ms: summarize(clickToVerifiedMs),
        browser: `Chromium ${browser.version()} (headless, SwiftShader)`,
        load_average_before: loadBefore,
        load_average_after: os.loadavg(),
        samples: {
          first_count_ms: firstCountMs,
          charts_drawn_ms: chartsMs,
          verified_webgl_ms: verifiedMs,
          click_to_verified_webgl_ms: clickToVerifiedMs,
        },
      };
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function webReport(result: WebBenchResult): Report {
  const ms = (value: number) => value.toFixed(0);
  const bytes = (value: bigint) => formatBytesSi(value);
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  const timeRow = (what: string, summary: SampleSummary) => [
    what,
    ms(summary.min),
    ms(summary.median),
    ms(summary.max),
  ];
  return {
    blocks: [
      heading('The web page: bundle size and time to first result', 2),
      tableBlock({
        columns: [
          { header: 'file' },
          { header: 'bytes', align: 'right' },
          { header: 'gzip bytes', align: 'right' },
          { header: 'fetched for' },
        ],
        rows: result.files.map((file) => [file.path, file.bytes, file.gzip_bytes, file.loaded_for]),
        totals: [
          ['total', result.total.bytes, result.total.gzip_bytes, ''],
          ['fetched for the first count', result.first_count.bytes, result.first_count.gzip_bytes, ''],
        ],
        notes: [
          `Built by \`vite build -c src/web/vite.config.ts\` (as \`npm run web\` does) in ${(result.build_ms / 1000).toFixed(1)} s. ` +
            `Total ${bytes(result.total.bytes)}, ${bytes(result.total.gzip_bytes)} gzipped; the first count needs ` +
            `${bytes(result.first_count.bytes)} (${bytes(result.first_count.gzip_bytes)} gzipped).`,
          'gzip at zlib level 6. "fetched for": requested by the page before its first count; after it, for the charts; or only once a webgl run starts. Not fetched by either load: the webgpu and meta backends, the threaded-wasm starter and the wasm builds, which the run worker imports only for runs on those backends.',
        ],
      }),
      tableBlock({
        columns: [
          { header: 'from navigation to' },
          { header: 'min ms', align: 'right' },
          { header: 'median ms', align: 'right' },
          { header: 'max ms', align: 'right' },
        ],
        rows: [
          timeRow('DOMContentLoaded, bare address', result.dom_content_loaded_ms),
          timeRow('first exact count, bare address (gpt2-small)', result.first_count_ms),
          timeRow('both charts drawn, bare address', result.charts_drawn_ms),
          timeRow(`forward pass verified on webgl (${TRACE_HASH})`, result.verified_webgl_ms),
          timeRow('  of which from the click to the result', result.click_to_verified_webgl_ms),
        ],
        notes: [
          `${result.rounds} rounds after an unmeasured one, each load in a fresh browser context (no cache), served locally; ` +
            `${result.browser}. Times on the page's clock when the count or the result entered the document.`,
        ],
      }),
      paragraph(
        `Load average (1/5/15 min) ${load(result.load_average_before)} before and ${load(result.load_average_after)} ` +
          'after: the machine is shared, so the times carry that noise.',
      ),
    ],
    json: null,
  };
}

/** Measure, write bench_web.{md,json} into `docs`, and say the figures on stderr. */
export async function benchWeb(docs: string = join(packageRoot(), 'docs'), rounds = 5): Promise<WebBenchResult> {
  process.stderr.write('bench: the web page in headless Chromium\n');
  const result = await measureWeb(rounds, (line) => process.stderr.write(`bench: web: ${line}\n`));
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench_web.json'), toJsonText(result) + '\n');
  writeFileSync(join(docs, 'bench_web.md'), renderReport(webReport(result), 'markdown'));
  process.stderr.write(
    `bench: web page ${formatBytesSi(result.total.bytes)} (${formatBytesSi(result.total.gzip_bytes)} gzipped); ` +
      `first count ${result.first_count_ms.median.toFixed(0)} ms, verified on webgl ` +
      `${result.verified_webgl_ms.median.toFixed(0)} ms (medians)\n`,
  );
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const raw = process.argv[2];
  if (raw !== undefined && !/^[1-9]\d*$/.test(raw)) {
    process.stderr.write(
      `bench_web: rounds "${raw}" is not a positive integer; use e.g. node dist/scripts/bench_web.js 5\n`,
    );
    process.exit(2);
  }
  await benchWeb(undefined, raw === undefined ? undefined : Number(raw));
}
