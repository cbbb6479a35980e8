// Turning a row of scores into labelled answers, shared by the image and tabular tasks.

export interface LabelScore {
  readonly label: string;
  readonly score: number;
}

/** The k best labels of one row of scores, best first. */
export function topK(scores: ArrayLike<number>, labels: readonly string[] | undefined, k: number, softmax = false): LabelScore[] {
  const values = softmax ? softmaxOf(scores) : Array.from(scores);
  return values
    .map((score, i) => ({ label: labels?.[i] ?? String(i), score: round(score) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, Math.max(1, Math.min(k, values.length)));
}

function softmaxOf(x: ArrayLike<number>): number[] {
  const arr = Array.from(x);
  const max = Math.max(...arr);
  const exps = arr.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Seven significant decimals: float32 carries no more, and JSON stays short. */
export function round(v: number): number {
  return Math.round(v * 1e7) / 1e7;
}

/** Splits a flat [N, C] buffer into N rows. */
export function rows(data: ArrayLike<number>, n: number): ArrayLike<number>[] {
  const width = n === 0 ? 0 : data.length / n;
  const out: ArrayLike<number>[] = [];
  for (let i = 0; i < n; i++) out.push(Array.prototype.slice.call(data, i * width, (i + 1) * width) as number[]);
  return out;
}
