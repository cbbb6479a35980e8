// The runtime settings a function's props give: the warm-up prediction at init (a task's
// warmUpInput, rendered into SERVERLESS_TF_TASK's `warmUp`) and the largest synchronous answer
// (maxResponseSize, SERVERLESS_TF_MAX_RESPONSE_BYTES), each checked at synth with a message
// that says what to change.
import { CfnParameter, Size } from 'aws-cdk-lib';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { InferenceTask, RuntimeEnvironment, WarmUpInput } from '../lib';
import { classifier, envOf, newStack } from './support';

/** The task JSON the function of `task` gets. */
function taskOf(task: InferenceTask): Record<string, unknown> {
  const stack = newStack();
  classifier(stack, { task });
  return JSON.parse(envOf(Template.fromStack(stack))[RuntimeEnvironment.TASK]) as Record<string, unknown>;
}

describe('warmUpInput: the warm-up prediction at init', () => {
  test('unset: the task JSON has no warmUp, and the runtime warms up on its default input', () => {
    expect(taskOf(InferenceTask.tensor())).toEqual({ type: 'tensor' });
    expect(taskOf(InferenceTask.imageClassification({ inputSize: 32 }))).not.toHaveProperty('warmUp');
    expect(taskOf(InferenceTask.tabular({ features: ['a'] }))).not.toHaveProperty('warmUp');
  });

  test('WarmUpInput.shapes on a tensor task: the shape per input, as the runtime reads it', () => {
    const task = taskOf(InferenceTask.tensor({ warmUpInput: WarmUpInput.shapes({ input_ids: [1, 128], attention_mask: [1, 128] }) }));
    expect(task).toEqual({ type: 'tensor', warmUp: { inputs: { input_ids: [1, 128], attention_mask: [1, 128] } } });
  });

  test.each([
    ['tensor', InferenceTask.tensor({ warmUpInput: WarmUpInput.off() })],
    ['imageClassification', InferenceTask.imageClassification({ inputSize: 32, warmUpInput: WarmUpInput.off() })],
    ['tabular', InferenceTask.tabular({ features: ['a'], warmUpInput: WarmUpInput.off() })],
  ])('WarmUpInput.off() on the %s task: "warmUp": false', (_task, task) => {
    expect(taskOf(task).warmUp).toBe(false);
  });

  test.each([
    ['imageClassification', () => InferenceTask.imageClassification({ inputSize: 32, warmUpInput: WarmUpInput.shapes({ x: [1, 32, 32, 3] }) })],
    ['tabular', () => InferenceTask.tabular({ features: ['a'], warmUpInput: WarmUpInput.shapes({ x: [1, 1] }) })],
  ])('shapes on the %s task are refused: it warms up on an input of its own size', (name, task) => {
    expect(() => classifier(newStack(), { task: task() }))
      .toThrow(new RegExp(`^Test/Fn: InferenceTask\\.${name} warmUpInput: WarmUpInput\\.shapes is for tensor tasks; .*Use WarmUpInput\\.off\\(\\) to turn the warm-up off, or leave warmUpInput unset\\.$`));
  });

  test.each<[string, { [input: string]: number[] }, RegExp]>([
    ['no input', {}, /needs at least one input name with its shape, e\.g\. \{ input_ids: \[1, 128\] \}/],
    ['an empty input name', { '': [1] }, /has an empty input name; use the model's input names/],
    ['a shape without dimensions', { x: [] }, /the shape of 'x' must list 1 to 32 dimensions, batch dimension included; got \[\]/],
    ['a shape of rank 33', { x: Array(33).fill(1) }, /the shape of 'x' must list 1 to 32 dimensions/],
    ['a free dimension (-1)', { x: [1, -1] }, /every dimension of 'x' must be a whole number from 1 to 65536 \(a free dimension needs the size to warm up with\); got \[1, -1\]/],
    ['a zero dimension', { x: [0, 3] }, /every dimension of 'x' must be a whole number from 1 to 65536.*got \[0, 3\]/],
    ['a fraction', { x: [1.5] }, /every dimension of 'x' must be a whole number/],
    ['a dimension over 65536', { x: [1, 65537] }, /got \[1, 65537\]/],
    ['more than 100,000,000 values', { x: [10000, 10001] }, /'x' of shape \[10000, 10001\] holds 100010000 values, more than 100,000,000; warm up with a smaller input/],
  ])('WarmUpInput.shapes with %s is refused at synth', (_what, shapes, message) => {
    const build = () => classifier(newStack(), { task: InferenceTask.tensor({ warmUpInput: WarmUpInput.shapes(shapes) }) });
    expect(build).toThrow(/^Test\/Fn: InferenceTask\.tensor warmUpInput: /);
    expect(build).toThrow(message);
  });
});

describe('maxResponseSize: the largest synchronous answer', () => {
  test('unset: no variable, the runtime answers up to Lambda\'s 6 MB', () => {
    const stack = newStack();
    classifier(stack);
    expect(envOf(Template.fromStack(stack))).not.toHaveProperty(RuntimeEnvironment.MAX_RESPONSE_BYTES);
  });

  test('a Size: SERVERLESS_TF_MAX_RESPONSE_BYTES in whole bytes', () => {
    const stack = newStack();
    classifier(stack, { maxResponseSize: Size.mebibytes(2) });
    expect(envOf(Template.fromStack(stack))[RuntimeEnvironment.MAX_RESPONSE_BYTES]).toBe(String(2 * 1024 * 1024));
  });

  test('Lambda\'s limit itself is accepted', () => {
    const stack = newStack();
    classifier(stack, { maxResponseSize: Size.mebibytes(6) });
    expect(envOf(Template.fromStack(stack))[RuntimeEnvironment.MAX_RESPONSE_BYTES]).toBe('6291456');
  });

  test('more than Lambda\'s limit is refused: Lambda would fail the answer whatever the runtime allows', () => {
    expect(() => classifier(newStack(), { maxResponseSize: Size.mebibytes(7) }))
      .toThrow(/^Test\/Fn: maxResponseSize must be from 1 byte to 6291456 bytes \(Size\.mebibytes\(6\), Lambda's synchronous response limit: .*\); got 7340032 bytes\.$/);
  });

  test('zero bytes is refused', () => {
    expect(() => classifier(newStack(), { maxResponseSize: Size.bytes(0) })).toThrow(/maxResponseSize must be from 1 byte to 6291456 bytes.*got 0 bytes/);
  });

  test('a token in bytes passes through unchecked; in another unit it cannot be converted at synth', () => {
    const param = (stack: Stack) => new CfnParameter(stack, 'Value', { type: 'Number' }).valueAsNumber;
    const stack = newStack();
    classifier(stack, { maxResponseSize: Size.bytes(param(stack)) });
    expect(envOf(Template.fromStack(stack))[RuntimeEnvironment.MAX_RESPONSE_BYTES]).toEqual({ Ref: 'Value' });
    const other = newStack();
    expect(() => classifier(other, { maxResponseSize: Size.mebibytes(param(other)) }))
      .toThrow(/^Test\/Fn: maxResponseSize from a token must be given in bytes, Size\.bytes\(value\).*got a token in MiB\.$/);
  });
});

describe('ignoreIccProfile: decoding as TensorFlow and Pillow do', () => {
  test('unset: the task JSON leaves it to the runtime (profiles applied); true and false are passed as given', () => {
    expect(taskOf(InferenceTask.imageClassification({ inputSize: 32 }))).not.toHaveProperty('ignoreIccProfile');
    expect(taskOf(InferenceTask.imageClassification({ inputSize: 32, ignoreIccProfile: true })).ignoreIccProfile).toBe(true);
    expect(taskOf(InferenceTask.imageClassification({ inputSize: 32, ignoreIccProfile: false })).ignoreIccProfile).toBe(false);
  });
});
