/**
 * The runtime provider contract (OpenFaaS' faas-provider idea): the gateway and the
 * activator talk to instances only through this. The embedded provider runs each instance
 * as a child process under a Trellis watchdog on its own loopback port.
 */
import type { FunctionRecord } from '../types.js';

export type InstanceState = 'starting' | 'ready' | 'draining' | 'stopped' | 'crashed';

export interface InstanceInfo {
  id: string;
  functionName: string;
  /** Function version this instance runs (FunctionRecord.version). */
  version: number;
  host: string;
  port: number;
  state: InstanceState;
  pid?: number;
  startedAt: number;
  /** ms from spawn (or pool take-over) to passing readiness; set once ready. */
  startupMs?: number;
  /** true when the instance came from the warm pool. */
  fromPool?: boolean;
}

export interface LogLine {
  /** ISO timestamp. */
  timestamp: string;
  name: string;
  instance: string;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
}

export interface FunctionHealth {
  /** consecutive crashes; resets after an instance stays up. */
  restarts: number;
  crashLoop: boolean;
  /** when the next restart is allowed (epoch ms), while backing off. */
  backoffUntil?: number;
  lastError?: string;
}

export type ProviderEvent =
  /**
   * The instance's process listens on host:port and is being specialised: not routable yet,
   * but a caller may open connections to it ahead of the 'instance-ready' that follows.
   */
  | { type: 'instance-starting'; instance: InstanceInfo }
  | { type: 'instance-ready'; instance: InstanceInfo }
  | { type: 'instance-gone'; instance: InstanceInfo; reason: string };

export interface RuntimeProvider {
  /** Creates or updates a function; with replicas>0 starts instances (rolling over old ones). */
  deploy(fn: FunctionRecord): Promise<void>;
  /** Sets the wanted instance count; scale-down drains (stop new work, finish in-flight). */
  scale(name: string, replicas: number): Promise<void>;
  /** Starts one more instance now and resolves when it is ready (activator's cold start). */
  startInstance(name: string): Promise<InstanceInfo>;
  /** Stops one instance after draining it for at most drainMs. */
  stopInstance(id: string, drainMs?: number): Promise<void>;
  remove(name: string): Promise<void>;
  instances(name: string): InstanceInfo[];
  health(name: string): FunctionHealth;
  logs(name: string, opts: { tail?: number; since?: Date }): LogLine[];
  /** Live log lines; returns an unsubscribe function. */
  followLogs(name: string, onLine: (l: LogLine) => void): () => void;
  on(listener: (e: ProviderEvent) => void): () => void;
  close(): Promise<void>;
}
