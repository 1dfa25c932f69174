import type { ComponentShift, MatmulComponent } from '../analytic/index.js';
import { formatPercent, formatRatioOf } from '../core/format.js';

const CHANGE_WORDS: Readonly<Record<ComponentShift['change'], string>> = {
  grows: 'grows',
  shrinks: 'shrinks',
  unchanged: 'stays',
};

/**
 * "FFN (w1, w3, w2): share shrinks from 66.3% to 42.1% (FLOPs 16.00x)". The verb comes from
 * the exact comparison in describeShift, never from the rounded percentages.
 */
export function shiftSentence(shift: ComponentShift, labels: Readonly<Record<MatmulComponent, string>>): string {
  const [from, to] = distinctPercents(shift);
  const verb = CHANGE_WORDS[shift.change];
  const movement = shift.change === 'unchanged' ? `${verb} at ${from}` : `${verb} from ${from} to ${to}`;
  return `${labels[shift.component]}: share ${movement} (FLOPs ${formatRatioOf(shift.toFlops, shift.fromFlops)})`;
}

/** The two shares at one decimal, or at more when a real change would otherwise print as none. */
function distinctPercents(shift: ComponentShift): [string, string] {
  for (let decimals = 1; decimals < 6; decimals++) {
    const from = formatPercent(shift.fromShare, decimals);
    const to = formatPercent(shift.toShare, decimals);
    if (shift.change === 'unchanged' || from !== to) return [from, to];
  }
  return [formatPercent(shift.fromShare, 6), formatPercent(shift.toShare, 6)];
}
