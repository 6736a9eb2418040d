/**
 * The watchdog control protocol, shared by the provider, the node watchdog and the python
 * watchdog. Starting a runtime process and loading a function into it are separate steps,
 * so a warm pool can pre-start generic processes and specialise them later:
 *
 *   1. spawn: the watchdog listens on 127.0.0.1:<ephemeral> and writes `{"port":N}\n` on fd 3;
 *   2. POST /_/load  {LoadSpec}      → 200 once the handler is loaded (500 + reason if not);
 *   3. GET  /_/ready                 → 200 ready, 503 not loaded / draining, 429 at max in-flight;
 *   4. POST /_/drain                 → stop taking new work (Connection: close, ready → 503);
 *   5. GET  /_/stats                 → {inflight, served, lastRequestAt, loaded, draining};
 *   6. SIGTERM                       → finish in-flight requests, then exit.
 *
 * The node watchdog also reads requests on fd 3 (a socket pair, see channel.ts): one JSON
 * line `{id, load: LoadSpec}` (the same as POST /_/load, answered `{id, loadMs}` once the
 * handler is loaded and the watchdog serves it, or `{id, error}`) or `{id, warm: {handlerPath}}`
 * (rehearse the load and request path with a throwaway handler, for an idle pooled process).
 *
 * `/_/load`, `/_/drain` and `/_/stats` need the `x-trellis-control` header carrying the
 * per-process token from TRELLIS_CONTROL_TOKEN, so a request forwarded from the gateway to
 * `/function/x/_/load` cannot reload the function. `GET /_/health` is 200 once listening
 * (OpenFaaS' of-watchdog path). Every other path is the function's.
 */
import type { RuntimeName } from '../../types.js';

export const CONTROL_HEADER = 'x-trellis-control';
export const CONTROL_TOKEN_ENV = 'TRELLIS_CONTROL_TOKEN';
/** The file descriptor the watchdog reports its port (and fatal events) on. */
export const REPORT_FD = 3;

export interface LoadSpec {
  name: string;
  instanceId: string;
  mode: 'http' | 'classic';
  runtime: RuntimeName;
  /** Absolute path of the handler module (http mode). */
  handlerPath?: string;
  /** Command line forked per request (classic mode); split shell-free. */
  envProcess?: string;
  /** Merged into the process environment before loading. */
  env: Record<string, string>;
  /** Working directory for the handler / forked processes. */
  cwd: string;
  /** Exec timeout in ms; 0 = none. */
  timeoutMs: number;
  /** Max in-flight requests; 0 = unlimited (429 beyond). */
  concurrency: number;
  /** Classic mode: address-space limit for forked processes (via prlimit when available). */
  memoryLimitBytes?: number;
}

export interface WatchdogStats {
  inflight: number;
  served: number;
  /** epoch ms of the last function request (0 = none). */
  lastRequestAt: number;
  loaded: boolean;
  draining: boolean;
}

/** Lines the watchdog writes on fd 3. */
export type ReportMessage = { port: number } | { fatal: string };

/** A request on the node watchdog's fd 3 channel. */
export type ChannelRequest =
  | { id: number; load: LoadSpec }
  | { id: number; warm: { handlerPath: string } };

/** The answer to a ChannelRequest with the same id: `error` set when it failed. */
export interface ChannelReply { id: number; error?: string; loadMs?: number }
