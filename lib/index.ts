export * from './runtime-environment';
