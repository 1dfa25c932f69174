import { describe, expect, it } from 'vitest';
import { renderChartSvg } from '../src/render/chart_svg.js';
import { CHART_MARKS, zeroStatesData, zeroStatesSpec } from '../src/views/charts.js';

/** The mark groups Vega-Lite emits: a layer named X draws into `<g class="mark-... role-mark X_marks">`. */
function markItems(svg: string, layerName: string): string[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-\\w+ role-mark ${layerName}_marks"[^>]*>(.*?)</g>`, 'g'))];
  return groups.flatMap((match) =>
    [...match[1]!.matchAll(/<path [^>]*role="graphics-symbol"[^>]*>/g)].map((m) => m[0]),
  );
}

/**
 * Mixed-precision AdamW model states per device, from ZeRO section 5 (Rajbhandari et al. 2020):
 * 2 bytes of weights, 2 of gradients, K = 12 of optimizer states per parameter; a partition holds
 * ceil(Ψ / N_d) elements of each partitioned state.
 */
function byHand(psi: bigint, devices: bigint): bigint[] {
  const partition = (psi + devices - 1n) / devices;
  return [16n * psi, 4n * psi + 12n * partition, 2n * psi + 14n * partition, 16n * partition];
}

const STAGES = ['baseline (stage 0)', 'P_os (stage 1)', 'P_os+g (stage 2)', 'P_os+g+p (stage 3, FSDP)'];

describe('the ZeRO chart: model states per device by stage', () => {
  it("holds the ZeRO paper's Figure 1 at 7.5B parameters on 64 devices: 120, 31.4, 16.6 and 1.9 GB", () => {
    const data = zeroStatesData(7_500_000_000n, 'bf16-mixed', [64]);
    expect(data.map((datum) => datum.bytes)).toEqual(['120000000000', '31406250000', '16640625000', '1875000000']);
    expect(data.map((datum) => datum.description)).toEqual([
      '64 | baseline (stage 0) | 120.0 GB',
      '64 | P_os (stage 1) | 31.4 GB',
      '64 | P_os+g (stage 2) | 16.6 GB',
      '64 | P_os+g+p (stage 3, FSDP) | 1.9 GB',
    ]);
  });

  it('gives every stage its closed form at every size, padding a partition that does not divide', () => {
    // GPT-2 XL's 1,557,611,200 parameters; 1,024 does not divide them (1,521,104.6875 per device).
    const psi = 1_557_611_200n;
    const devices = [1, 2, 3, 64, 1024];
    const data = zeroStatesData(psi, 'bf16-mixed', devices);
    for (const [stage, label] of STAGES.entries()) {
      const series = data.filter((datum) => datum.stage === label);
      expect(series.map((datum) => datum.devices)).toEqual(devices);
      expect(series.map((datum) => BigInt(datum.bytes))).toEqual(
        devices.map((count) => byHand(psi, BigInt(count))[stage]),
      );
    }
    // 1,024 devices: ceil(Ψ / 1024) = 1,521,105, so stage 3 holds 16 x 1,521,105 bytes.
    expect(data.find((datum) => datum.devices === 1024 && datum.order === 3)?.bytes).toBe(String(16n * 1_521_105n));
    // One device: every stage holds everything.
    expect(new Set(data.filter((datum) => datum.devices === 1).map((datum) => datum.bytes)).size).toBe(1);
  });

  it('fp32 AdamW states keep 16 bytes per parameter too, split 4 + 4 + 8', () => {
    const data = zeroStatesData(1000n, 'fp32', [10]);
    expect(data.map((datum) => BigInt(datum.bytes))).toEqual([16_000n, 8000n + 800n, 4000n + 1200n, 1600n]);
  });

  it('draws one line per stage and one point per stage and size', async () => {
    const devices = [1, 2, 4, 8, 16, 32, 64];
    const svg = await renderChartSvg(
      zeroStatesSpec(zeroStatesData(7_500_000_000n, 'bf16-mixed', devices), 'Ψ = 7.5B', 'bf16-mixed'),
    );
    const lines = markItems(svg, CHART_MARKS.zeroStates.lines);
    expect(lines.map((line) => /aria-label="([^"]*)"/.exec(line)?.[1])).toEqual(STAGES);
    const points = markItems(svg, CHART_MARKS.zeroStates.points);
    expect(points).toHaveLength(4 * devices.length);
    expect(points.some((point) => point.includes('aria-label="64 | P_os+g+p (stage 3, FSDP) | 1.9 GB"'))).toBe(true);
  });
});
