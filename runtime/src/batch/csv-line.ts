// One CSV record per line (RFC 4180 fields, comma-separated, optional double quotes with ""
// escapes). Batch input is split into chunks at line starts, so a quoted field cannot span
// lines: a line whose quotes do not close is an error row, not the start of a record that
// would swallow the lines after it. Most rows have no quotes and take the split() path.

import { CsvLineError } from '../errors';

const QUOTE = 34;
const COMMA = 44;

/** The fields of one line; throws CsvLineError when its quotes are malformed. */
export function splitCsvLine(line: string): string[] {
  if (line.indexOf('"') < 0) return line.split(',');
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    let j = i;
    while (j < n && (line[j] === ' ' || line[j] === '\t')) j++;
    if (j < n && line.charCodeAt(j) === QUOTE) {
      let value = '';
      let k = j + 1;
      for (;;) {
        const q = line.indexOf('"', k);
        if (q < 0) throw new CsvLineError(`field ${fields.length + 1} opens a quote that does not close on this line (a quoted field cannot span lines in batch input)`);
        value += line.slice(k, q);
        if (line.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          k = q + 2;
          continue;
        }
        k = q + 1;
        break;
      }
      while (k < n && (line[k] === ' ' || line[k] === '\t')) k++;
      fields.push(value);
      if (k >= n) return fields;
      if (line.charCodeAt(k) !== COMMA) throw new CsvLineError(`field ${fields.length} has characters after its closing quote`);
      i = k + 1;
    } else {
      const comma = line.indexOf(',', i);
      const value = comma < 0 ? line.slice(i) : line.slice(i, comma);
      if (value.includes('"')) throw new CsvLineError(`field ${fields.length + 1} has a quote inside an unquoted value (${JSON.stringify(value)})`);
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** A value as a CSV field: quoted when it holds a comma, a quote or a line end. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const ZERO = 48;
const NINE = 57;
const MINUS = 45;
const DOT = 46;

/** Digits a plain decimal may have to take the fast path: any 15-digit integer is exact in a double. */
const FAST_DIGITS = 15;

const POW10 = Array.from({ length: FAST_DIGITS + 1 }, (_, k) => 10 ** k);

/**
 * The batch worker's hot path: reads the feature columns of a line with no quotes straight
 * from its characters, without splitting it into field strings, and returns its field
 * count. `featureOf[c]` is the feature index of column c (-1: not a feature); feature j's
 * value goes to `out[at + j]`. A feature field must be a plain decimal (`-12.5`, `3`, `.5`)
 * of at most 15 digits; its value is then m / 10^k for integers m < 2^53 and k <= 15, both
 * exact doubles, so one correctly rounded division gives exactly what Number() gives
 * (Clinger's fast path). Returns -1 when the line needs the general path (a quote, a feature
 * field in another form, empty or absent, or fewer features than wanted), which also words
 * the errors.
 */
export function readPlainFeatures(line: string, featureOf: Int32Array, features: number, out: Float32Array, at: number): number {
  if (line.indexOf('"') >= 0) return -1;
  const n = line.length;
  let field = 0;
  let found = 0;
  let i = 0;
  for (;;) {
    const j = field < featureOf.length ? featureOf[field] : -1;
    if (j >= 0) {
      let c = line.charCodeAt(i);
      const negative = c === MINUS;
      if (negative) c = line.charCodeAt(++i);
      let mantissa = 0;
      let digits = 0;
      let scale = 0;
      let dot = false;
      for (; i < n; c = line.charCodeAt(++i)) {
        if (c >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO);
          digits++;
          if (dot) scale++;
        } else if (c === DOT && !dot) {
          dot = true;
        } else {
          break;
        }
      }
      if (digits === 0 || digits > FAST_DIGITS || (i < n && c !== COMMA)) return -1;
      const value = mantissa / POW10[scale];
      out[at + j] = negative ? -value : value;
      found++;
      if (i >= n) break;
      i++; // past the comma
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) break;
      i = comma + 1;
    }
    field++;
  }
  return found === features ? field + 1 : -1;
}
