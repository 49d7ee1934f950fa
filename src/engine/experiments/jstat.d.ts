// jstat 1.9.6 ships no type declarations; these cover the functions Nudge calls.
declare module 'jstat' {
  export const jStat: {
    normal: {
      cdf(x: number, mean: number, sd: number): number;
      inv(p: number, mean: number, sd: number): number;
    };
    betaln(a: number, b: number): number;
  };
}
