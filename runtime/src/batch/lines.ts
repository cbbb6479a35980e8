// The lines a chunk owns: those that START in its byte range [start, end). Every line of
// an object starts in exactly one chunk, so chunks split anywhere (mid-line, mid-character)
// still cover each line once. A worker reads from start - 1 (a line starts at start only if
// the byte before it is a newline), skips the partial line there, and reads past end to
// finish its last line. Lines come in arrays, one per piece read, to keep awaits per row low.

/** A line longer than this is reported as an error row instead of being held in memory. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

const NEWLINE = 0x0a;

export interface Line {
  /** The line's text, without its line end (\n or \r\n). Empty when `tooLong`. */
  readonly text: string;
  /** Byte offset of the line's first byte in the object. */
  readonly offset: number;
  /** 1-based number of the line among the lines this chunk owns. */
  readonly no: number;
  readonly tooLong?: boolean;
}

/**
 * Splits `bytes`, the object's bytes from offset `from` on, into the lines that start in
 * [start, end). `from` is start - 1 (or 0 when start is 0). Stops reading at the first line
 * that starts at or after end, so the source can be longer than needed.
 */
export async function* ownedLines(bytes: AsyncIterable<Uint8Array>, start: number, end: number): AsyncGenerator<Line[]> {
  let pos = Math.max(0, start - 1); // object offset of the current piece's first byte
  let skipping = start > 0; // dropping the line that started before start
  let pending: Buffer[] = []; // pieces of the current line, before its newline arrives
  let pendingBytes = 0;
  let lineStart = start; // object offset where the current (pending) line starts
  let no = 0;

  for await (const raw of bytes) {
    const piece = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let i = 0;
    if (skipping) {
      const nl = piece.indexOf(NEWLINE);
      if (nl < 0) {
        pos += piece.length;
        if (pos >= end) return; // the line that started before start runs past end: no line starts here
        continue;
      }
      skipping = false;
      i = nl + 1;
      lineStart = pos + i;
    }
    const lines: Line[] = [];
    for (;;) {
      if (lineStart >= end) {
        if (lines.length) yield lines;
        return;
      }
      if (i >= piece.length) break;
      const nl = piece.indexOf(NEWLINE, i);
      if (nl < 0) {
        if (pendingBytes <= MAX_LINE_BYTES) pending.push(piece.subarray(i));
        pendingBytes += piece.length - i;
        break;
      }
      lines.push(makeLine(pending, pendingBytes, piece, i, nl, lineStart, ++no));
      pending = [];
      pendingBytes = 0;
      i = nl + 1;
      lineStart = pos + i;
    }
    pos += piece.length;
    if (lines.length) yield lines;
  }
  // The object ends without a final newline: the last line is still a line.
  if (!skipping && pendingBytes > 0 && lineStart < end) {
    yield [makeLine(pending, pendingBytes, Buffer.alloc(0), 0, 0, lineStart, ++no)];
  }
}

function makeLine(pending: Buffer[], pendingBytes: number, piece: Buffer, from: number, to: number, offset: number, no: number): Line {
  if (pendingBytes + (to - from) > MAX_LINE_BYTES) return { text: '', offset, no, tooLong: true };
  let text = pending.length === 0
    ? piece.toString('utf8', from, to)
    : Buffer.concat([...pending, piece.subarray(from, to)]).toString('utf8');
  if (text.endsWith('\r')) text = text.slice(0, -1);
  return { text, offset, no };
}
