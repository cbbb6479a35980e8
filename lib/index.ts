export * from './compute';
export * from './inference-monitoring';
export * from './inference-task';
export * from './model';
export * from './runtime-environment';
export * from './tensorflow-function';
export * from './tensorflow-runtime-layer';
