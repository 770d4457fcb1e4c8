export * from './codes.js';
export * from './messages.js';
export * from './position.js';
export * from './room-name.js';
export * from './codec.js';
export * from './validate.js';
export * from './sse.js';
