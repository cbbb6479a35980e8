// TF Serving's JSON: standard JSON plus the tokens NaN, Infinity and -Infinity for float
// values, in requests and in answers (its REST API doc, "JSON conformance"). JSON.parse
// refuses them, so a body that fails it and holds one of them outside a string is read
// again with each token (outside strings) replaced by a marker string that a reviver turns
// back into the number. Answers are written by a serializer that writes the tokens where
// JSON.stringify would write null.
import { randomBytes } from 'node:crypto';

const TOKENS = [['-Infinity', -Infinity], ['Infinity', Infinity], ['NaN', NaN]] as const;

/** Parses TF Serving JSON; throws SyntaxError (as JSON.parse does) when it is not. */
export function parseTfServingJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // Only the tokens make a body that JSON.parse refuses valid here.
    if (!/NaN|Infinity/.test(text)) throw err;
    const replaced = replaceTokens(text);
    if (!replaced) throw err;
    return JSON.parse(replaced.text, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(replaced.marker) ? replaced.values.get(value) ?? value : value));
  }
}

/**
 * The text with every NaN, Infinity and -Infinity token outside strings replaced by a
 * marker string (a random prefix no string of this text starts with, then the token);
 * undefined when there was none.
 */
function replaceTokens(text: string): { text: string; marker: string; values: Map<string, number> } | undefined {
  // 48 random bits the sender cannot guess; a text that happens to hold them gets others.
  let nonce = randomBytes(6).toString('hex');
  while (text.includes(nonce)) nonce = randomBytes(6).toString('hex');
  const marker = `\u0000tfs-${nonce}:`;
  const values = new Map(TOKENS.map(([token, value]) => [marker + token, value]));
  const out: string[] = [];
  let last = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: to its closing quote, past escaped characters.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      continue;
    }
    if (c !== 0x2d && c !== 0x49 && c !== 0x4e) continue; // '-', 'I', 'N'
    if (i > 0 && isWordChar(text.charCodeAt(i - 1))) continue;
    const token = TOKENS.find(([t]) => text.startsWith(t, i) && !isWordChar(text.charCodeAt(i + t.length)))?.[0];
    if (!token) continue;
    out.push(text.slice(last, i), JSON.stringify(marker + token));
    i += token.length - 1;
    last = i + 1;
    found = true;
  }
  if (!found) return undefined;
  out.push(text.slice(last));
  return { text: out.join(''), marker, values };
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c === 0x2e;
}

/**
 * JSON.stringify for TF Serving answers: NaN, Infinity and -Infinity as those tokens, not
 * null. Everything else as JSON.stringify writes it (toJSON and undefined members included).
 */
export function stringifyTfServingJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

function write(value: unknown, out: string[]): void {
  if (typeof value === 'number') {
    out.push(Number.isFinite(value) ? String(value) : Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity');
    return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((v, i) => {
      if (i > 0) out.push(',');
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') out.push('null');
      else write(v, out);
    });
    out.push(']');
    return;
  }
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    out.push('{');
    let first = true;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out.push(first ? '' : ',', JSON.stringify(k), ':');
      first = false;
      write(v, out);
    }
    out.push('}');
    return;
  }
  out.push(JSON.stringify(value) ?? 'null');
}
