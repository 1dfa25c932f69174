// fast-levenshtein ships no type declarations; this is the one function flopledger uses.
declare module 'fast-levenshtein' {
  const levenshtein: {
    get(a: string, b: string, options?: { useCollator?: boolean }): number;
  };
  export = levenshtein;
}
