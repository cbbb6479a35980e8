// One CSV record per line (RFC 4180 fields, comma-separated, optional double quotes with ""
// escapes). Batch input is split into chunks at line starts, so a quoted field cannot span
// lines: a line whose quotes do not close is an error row, not the start of a record that
// would swallow the lines after it. Most rows have no quotes and take the split() path.

export class CsvLineError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'CsvLineError';
  }
}

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
