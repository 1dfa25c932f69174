/**
 * What the page is given for cli-progress, which draws bars on a terminal (its bars extend Node's
 * EventEmitter, which a browser lacks). The page's progress sink has no terminal, so
 * runtime/progress.ts never builds a bar here; the page draws its own from the sink's steps.
 */
class SingleBar {
  constructor() {
    throw new Error('cli-progress draws on a terminal; the page has none');
  }
}

export default { SingleBar, Presets: { shades_classic: {} } };
