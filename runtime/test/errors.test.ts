// The one place errors become HTTP answers: typed errors keep their status, out-of-memory
// (host, wasm heap or CUDA) becomes a 503 with Retry-After, anything else a 500 that
// hides internals.
import { BadRequestError, ServiceUnavailableError, UnprocessableError, isOutOfMemory, toHttpError } from '../src/errors';
import { errorResponse } from '../src/http';

describe('toHttpError', () => {
  test('typed errors keep their status, kind and message', () => {
    expect(toHttpError(new UnprocessableError('wrong shape'))).toEqual({ statusCode: 422, kind: 'Unprocessable', message: 'wrong shape', headers: {} });
    expect(toHttpError(new ServiceUnavailableError('warming up'))).toEqual({ statusCode: 503, kind: 'NotReady', message: 'warming up', headers: { 'Retry-After': '1' } });
    expect(new BadRequestError('x').name).toBe('BadRequestError');
  });

  test.each([
    ['CUDA', new Error('2026-11-24 W tensorflow/core/common_runtime/bfc_allocator.cc] OOM when allocating tensor with shape[64,3,224,224]: CUDA_ERROR_OUT_OF_MEMORY')],
    ['TensorFlow ResourceExhausted', new Error('ResourceExhaustedError: failed to allocate memory')],
    ['a V8 buffer', new RangeError('Array buffer allocation failed')],
    ['the wasm heap', new Error('RangeError: WebAssembly.Memory(): could not allocate memory')],
  ])('out of memory (%s) is a 503 with Retry-After that suggests what to do', (_what, err) => {
    expect(isOutOfMemory(err)).toBe(true);
    const e = toHttpError(err);
    expect(e).toMatchObject({ statusCode: 503, kind: 'OutOfMemory', headers: { 'Retry-After': '1' } });
    expect(e.message).toMatch(/raise the function's memory/);
  });

  test('an unknown error is a 500 whose body carries no message or stack from inside', () => {
    const err = new TypeError('Cannot read properties of undefined (reading \'shape\')');
    const res = errorResponse(err);
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toMatch(/shape|TypeError|at /);
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(/Internal error/) });
  });
});
