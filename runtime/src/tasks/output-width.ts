// The width of a model's one output (classes of a classifier, values of a regressor): the
// last dimension of its shape, when the model has one output and the shape says it.
import type { ServableModel } from '../model';

export function outputWidth(model: ServableModel): number | undefined {
  if (model.outputs.length !== 1) return undefined;
  const shape = model.outputs[0].shape;
  const last = shape && shape.length >= 2 ? shape[shape.length - 1] : null;
  return last ?? undefined;
}
