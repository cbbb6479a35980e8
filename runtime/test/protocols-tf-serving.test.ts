// TF Serving's JSON as its REST API doc describes it: NaN, Infinity and -Infinity are valid
// float values in requests and answers; signature_name picks the signature (an unknown one is
// a 400); the doc's own `curl -d` example (application/x-www-form-urlencoded) works.
import fc from 'fast-check';
import { linearGraphModel, serviceFor } from './support/models';
import { route } from '../src/routes';
import { parseTfServingJson, stringifyTfServingJson } from '../src/protocols/tf-serving-json';
import type { InferenceService } from '../src/service';

let linear: InferenceService;

beforeAll(async () => {
  linear = await serviceFor((await linearGraphModel()).dir, { type: 'tensor' }, { modelName: 'half_plus_three' });
});

async function predict(body: string, contentType = 'application/json') {
  return route(linear, { method: 'POST', path: '/v1/models/half_plus_three:predict', headers: { 'content-type': contentType }, body: Buffer.from(body) });
}

/** Values equal as TF Serving's JSON carries them: NaN equals NaN, and -0 is 0 (JSON has no -0). */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) ? Number.isNaN(b) : a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

const doubles = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0, -1.5e-300));
const tfsValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, doubles, fc.string(), fc.constantFrom('NaN', 'Infinity', '-Infinity', '"NaN"', '\\"Infinity'), fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('NaN', 'Infinity')), tie('value'), { maxKeys: 4 })),
})).value;

describe('the TF Serving JSON parser and writer', () => {
  test('property: what the writer writes, the parser reads back (NaN, ±Infinity, and the same words inside strings)', () => {
    fc.assert(fc.property(tfsValue, (value) => sameValue(parseTfServingJson(stringifyTfServingJson(value)), value)), { numRuns: 2000 });
  });

  test('property: on standard JSON it is JSON.parse, and the writer is JSON.stringify where no float is non-finite', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const text = JSON.stringify(value);
      return sameValue(parseTfServingJson(text), JSON.parse(text)) && stringifyTfServingJson(value) === text;
    }), { numRuns: 2000 });
  });

  test('property: text that is neither JSON nor JSON with the tokens is refused with a SyntaxError', () => {
    const pieces = fc.constantFrom('NaN', 'Infinity', '-Infinity', '-', '[', ']', ',', '1', '"', ' ', 'a', '{', '}', ':', '\\', '.');
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.array(pieces, { maxLength: 12 }).map((p) => p.join(''))), (text) => {
      let expected: unknown;
      try {
        expected = JSON.parse(text.replace(/-Infinity|Infinity|NaN/g, '0'));
      } catch {
        expected = undefined;
      }
      try {
        parseTfServingJson(text);
      } catch (err) {
        return err instanceof SyntaxError;
      }
      // Accepted: then it was valid once the tokens are numbers (a token inside a string stays text).
      return expected !== undefined || /"/.test(text);
    }), { numRuns: 3000 });
  });

  test('tokens are words: NaNa, xInfinity and -NaN are not values; tokens in strings stay text', () => {
    for (const text of ['[NaNa]', '[Infinityx]', '[-NaN]', '[1.NaN]', '[+Infinity]', '{"a":Nan}']) expect(() => parseTfServingJson(text)).toThrow(SyntaxError);
    expect(parseTfServingJson('{"NaN": ["NaN", NaN, "a\\"Infinity", -Infinity, Infinity]}')).toEqual({ NaN: ['NaN', NaN, 'a"Infinity', -Infinity, Infinity] });
  });
});

describe('TF Serving predict', () => {
  test('NaN and Infinity in a request are float values, and come back as those tokens', async () => {
    const res = await predict('{"instances": [[NaN, 0, 0], [Infinity, 0, 0], [1.0, 2.0, -Infinity]]}');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^\{"predictions":\[\[NaN,NaN\],\[Infinity,-Infinity\],\[-?Infinity,-?Infinity\]\]\}$/);
    expect(parseTfServingJson(res.body)).toEqual({ predictions: [[NaN, NaN], [Infinity, -Infinity], [Infinity, -Infinity]] });
  });

  test('the doc\'s curl -d example: Content-Type application/x-www-form-urlencoded with a JSON body', async () => {
    // curl -d '{"instances": [[1.0,2.0,5.0]]}' -X POST http://localhost:8501/v1/models/half_plus_three:predict
    const res = await predict('{"instances": [[1.0,2.0,5.0]]}', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(res.body) as { predictions: number[][] }).predictions).toHaveLength(1);
  });

  test.each([['serving_default'], [''], [undefined]])('signature_name %p is the model\'s signature', async (name) => {
    const res = await predict(JSON.stringify({ signature_name: name, instances: [[1, 2, 3]] }));
    expect(res.statusCode).toBe(200);
  });

  test('an unknown signature_name is a 400 in TF Serving\'s words', async () => {
    const res = await predict(JSON.stringify({ signature_name: 'tensorflow/serving/regress', instances: [[1, 2, 3]] }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/^Serving signature name: "tensorflow\/serving\/regress" not found in signature def\. This model has one signature, "serving_default"/);
  });

  test('a body that is JSON with the tokens misspelled is a 400, not a 500', async () => {
    const res = await predict('{"instances": [[Nan, 1, 2]]}');
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/not valid JSON/);
  });

  test('KServe V2 JSON stays standard JSON: NaN is not a token there', async () => {
    const res = await route(linear, { method: 'POST', path: '/v2/models/half_plus_three/infer', headers: {}, body: Buffer.from('{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[NaN,1,2]}]}') });
    expect(res.statusCode).toBe(400);
  });
});
