// Synth-time validation errors that name the construct they come from, so a message in a
// large app points at the right place. (aws-cdk-lib's ValidationError is internal to it.)
import type { IConstruct } from 'constructs';

export class TensorFlowValidationError extends Error {
  public constructor(scope: IConstruct, message: string) {
    super(`${scope.node.path}: ${message}`);
    this.name = 'TensorFlowValidationError';
  }
}
