// At init, the task is checked against the loaded model: labels (and tabular outputNames)
// must name as many classes or values as the model's output has. For a model read from
// S3 this is the only check (the construct checks a model at hand at synth as well), so a
// wrong count fails the init with a message that says what to change, instead of answering
// with wrong or made-up labels.
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, demoTask, serviceFor, trainIrisModel } from './support/models';
import { ConfigurationError } from '../src/errors';

describe('labels against the model at init', () => {
  test('two labels on the five-class demo model: the init fails with a ConfigurationError that asks for five', async () => {
    const task = { ...(await demoTask()), labels: ['cat', 'dog'] };
    const init = serviceFor(DEMO_MODEL_DIR, task);
    await expect(init).rejects.toThrow(ConfigurationError);
    await expect(serviceFor(DEMO_MODEL_DIR, task)).rejects.toThrow(/labels name 2 classes, but the model's output '[^']+' scores 5: give 5 labels, in the order of the model's outputs, or omit labels/);
  });

  test('the demo model with its five labels loads', async () => {
    const service = await serviceFor(DEMO_MODEL_DIR, await demoTask());
    expect(service.model.outputs[0].shape).toEqual([null, 5]);
    service.model.dispose();
  });

  describe('tabular (the Iris model: 4 features in, 3 classes out)', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await trainIrisModel();
    });

    test('labels for two classes fail', async () => {
      await expect(serviceFor(dir, { type: 'tabular', features: [...IRIS_FEATURES], labels: ['setosa', 'other'] }))
        .rejects.toThrow(/tabular task's labels name 2 outputs, but the model's output '[^']+' has 3: give 3 labels/);
    });

    test('outputNames for one value fail', async () => {
      await expect(serviceFor(dir, { type: 'tabular', features: [...IRIS_FEATURES], outputNames: ['score'] }))
        .rejects.toThrow(/outputNames name 1 outputs, but the model's output '[^']+' has 3: give 3 outputNames/);
    });

    test('three labels load', async () => {
      const service = await serviceFor(dir, { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] });
      expect(service.info.task).toBe('tabular');
      service.model.dispose();
    });
  });
});
