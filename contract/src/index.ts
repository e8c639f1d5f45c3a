/** @tessera/contract: everything that crosses a process boundary, defined once. */
export * from './datatypes.js';
export * from './model-name.js';
export * from './model-settings.js';
export * from './pod-contract.js';
export * from './repository-api.js';
export * from './repository-client.js';
export * from './storage-uri.js';
