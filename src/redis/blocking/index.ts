/** Blocking commands on dedicated connections; CLIENT UNBLOCK for proxy clients. */
export { BlockingCommands } from './blocking.js';
