export * from './common.js';
export * from './inference-service.js';
export * from './serving-runtime.js';
export * from './kserve-normalize.js';
export * from './autoscaler-class.js';
