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

/** Splits a flat [N, C] buffer into N rows: views into it, not copies. */
export function rows(data: Float32Array, n: number): Float32Array[] {
  const width = n === 0 ? 0 : data.length / n;
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) out.push(data.subarray(i * width, (i + 1) * width));
  return out;
}

/**
 * The first entry of topK(scores, labels, k, softmax) without building the list: the index
 * of the best rounded score (the first of equals, as topK's stable sort keeps them) and that
 * score. For one-line outputs (a CSV prediction column) where the full list is not needed.
 * The row is `scores[from]` to `scores[from + n - 1]`, so a batch's flat output needs no views.
 */
export function top1(scores: ArrayLike<number>, softmax = false, from = 0, n = scores.length - from): { readonly index: number; readonly score: number } {
  const end = from + n;
  let max = -Infinity;
  for (let i = from; i < end; i++) if (scores[i] > max) max = scores[i];
  let sum = 1;
  if (softmax) {
    sum = 0;
    for (let i = from; i < end; i++) sum += Math.exp(scores[i] - max);
  }
  const at = (i: number) => round(softmax ? Math.exp(scores[i] - max) / sum : scores[i]);
  let index = 0;
  let best = at(from);
  for (let i = from + 1; i < end; i++) {
    const score = at(i);
    if (score > best) {
      best = score;
      index = i - from;
    }
  }
  return { index, score: best };
}
