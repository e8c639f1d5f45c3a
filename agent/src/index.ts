/** @tessera/agent: the `tessera agent` sidecar. */
export { runAgent, startAgent, type RunningAgent } from './main.js';
export { loadAgentSettings, type AgentSettings } from './config.js';
