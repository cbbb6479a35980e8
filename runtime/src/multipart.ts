// multipart/form-data bodies (an HTML form or `curl -F image=@cat.jpg`): finds one file
// field with busboy. The promise settles for every input, and no stream error is left
// unhandled: busboy reports a cut or malformed body as an 'error' on itself and on the
// file stream being read, and both are listened to.
import type busboy from 'busboy';
import type { Readable } from 'node:stream';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors';

export interface MultipartFile {
  readonly bytes: Buffer;
  /** The part's Content-Type as sent ('application/octet-stream' when it sent none with a filename). */
  readonly contentType: string;
  readonly filename?: string;
}

export interface MultipartOptions {
  /** The name of the file field to read (the HTTP surface uses 'image'). */
  readonly field: string;
  /** Largest file accepted, in bytes. */
  readonly maxBytes: number;
}

interface FileEntry {
  chunks: Buffer[];
  size: number;
  contentType: string;
  filename?: string;
  ended: boolean;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? 'none' : [...new Set(names)].map((n) => `'${n}'`).join(', ');
}

/**
 * Reads the first file in the form field `options.field`. Other parts are skipped; a
 * second file in the same field is ignored.
 */
export async function readMultipartFile(body: Buffer, contentType: string, options: MultipartOptions): Promise<MultipartFile> {
  const { field, maxBytes } = options;
  const essence = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (essence !== 'multipart/form-data') {
    throw new UnsupportedMediaTypeError(`Expected a multipart/form-data body, got Content-Type '${contentType ?? ''}'.`);
  }

  // busboy loads on the first multipart request, not at init.
  const { default: createParser } = await import('busboy');
  let parser: busboy.Busboy;
  try {
    // busboy emits 'limit' when a file *reaches* fileSize, so a file of exactly maxBytes
    // would look over the limit; one byte more tells "at the limit" from "over it".
    parser = createParser({ headers: { 'content-type': contentType }, limits: { fileSize: maxBytes + 1 } });
  } catch (err) {
    // Thrown synchronously for a missing boundary or an unparsable Content-Type.
    throw new BadRequestError(`Malformed multipart/form-data Content-Type (${(err as Error).message}); it needs a boundary, e.g. 'multipart/form-data; boundary=...'.`);
  }

  return new Promise<MultipartFile>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const malformed = (err: unknown) => fail(new BadRequestError(`Malformed multipart/form-data body: ${(err as Error)?.message ?? String(err)}.`));

    const seen: string[] = [];
    let textField = false;
    let file = undefined as FileEntry | undefined;

    parser.on('file', (name: string, stream: Readable, info: busboy.FileInfo) => {
      seen.push(name);
      // A stream error (cut body) also reaches busboy's own 'error'; this listener keeps
      // it from being an unhandled 'error' event.
      stream.on('error', malformed);
      if (name !== field || file) {
        stream.resume(); // drain: an unread file stream would stall the parser
        return;
      }
      const entry: FileEntry = { chunks: [], size: 0, contentType: info.mimeType, filename: info.filename, ended: false };
      file = entry;
      stream.on('data', (chunk: Buffer) => {
        entry.chunks.push(chunk);
        entry.size += chunk.length;
      });
      stream.on('limit', () => {
        fail(new PayloadTooLargeError(`The file in field '${field}' is over the limit of ${maxBytes} bytes. Send a smaller file.`));
      });
      stream.on('end', () => {
        entry.ended = true;
      });
    });
    parser.on('field', (name: string) => {
      seen.push(name);
      if (name === field) textField = true;
    });
    parser.on('error', malformed);
    parser.on('finish', () => {
      if (settled) return;
      if (file && file.ended) {
        settled = true;
        const bytes = file.chunks.length === 1 ? file.chunks[0] : Buffer.concat(file.chunks, file.size);
        resolve({ bytes, contentType: file.contentType, ...(file.filename !== undefined ? { filename: file.filename } : {}) });
      } else if (file) {
        malformed(new Error(`the file in field '${field}' did not end`));
      } else if (textField) {
        fail(new BadRequestError(`The form field '${field}' was sent as a text value, not a file. Send it as a file part (with a filename, as 'curl -F ${field}=@photo.jpg' does).`));
      } else {
        fail(new BadRequestError(`The form has no file field '${field}'. Fields present: ${list(seen)}. Send the image as '${field}', e.g. 'curl -F ${field}=@photo.jpg'.`));
      }
    });
    // Safety net: if busboy ever closes without 'finish' or 'error', still settle.
    parser.on('close', () => malformed(new Error('the form ended early')));

    try {
      parser.end(body);
    } catch (err) {
      malformed(err);
    }
  });
}
