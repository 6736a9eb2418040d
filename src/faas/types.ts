/**
 * The function platform's shared vocabulary. A deployment request is OpenFaaS'
 * `FunctionDeployment` JSON plus Trellis fields where OpenFaaS has none.
 */

/** Runtimes a function's code runs on. `command` = classic watchdog forking `envProcess`. */
export type RuntimeName = 'node' | 'python3' | 'command';

/** OpenFaaS' FunctionDeployment JSON (the fields we honour) plus Trellis' own. */
export interface FunctionDeployment {
  service: string;
  /** OpenFaaS: container image. Trellis: optional; a bundle id (`bundle:<sha256>`) or ignored. */
  image?: string;
  /** Command forked per request by the classic watchdog (`cat`, `python3 x.py` ...). */
  envProcess?: string;
  envVars?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Names of secrets (stored by the gateway) mounted as files for each instance. */
  secrets?: string[];
  limits?: { memory?: string; cpu?: string };
  requests?: { memory?: string; cpu?: string };
  /** Trellis: runtime; defaults to `command` when only envProcess is given. */
  runtime?: RuntimeName;
  /** Trellis: handler entry inside the bundle (`handler.js`, `handler.py`). */
  handler?: string;
  /** Trellis: max in-flight requests per instance; 0 = unlimited. */
  concurrency?: number;
  /** Trellis: exec timeout, Go-style duration (`30s`, `500ms`) or seconds as a number. */
  timeout?: string | number;
  /** Trellis: watchdog mode; `http` for node/python3 handlers, `classic` for envProcess. */
  mode?: 'http' | 'classic';
}

/** A stored function: the deployment plus what the platform derived from it. */
export interface FunctionRecord {
  name: string;
  spec: FunctionDeployment;
  /** Content hash of the deployed code bundle (absent for pure `envProcess` functions). */
  bundleId?: string;
  createdAt: string;
  updatedAt: string;
  /** Desired replicas as set by deploy/scale (the autoscaler may move it later). */
  replicas: number;
  /** Monotonic version, bumped on every update (rolling updates key on it). */
  version: number;
}

/** OpenFaaS' FunctionStatus as returned by GET /system/functions. */
export interface FunctionStatus {
  name: string;
  image: string;
  namespace: string;
  envProcess: string;
  envVars: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  secrets: string[];
  replicas: number;
  availableReplicas: number;
  invocationCount: number;
  createdAt: string;
  limits?: { memory?: string; cpu?: string };
  requests?: { memory?: string; cpu?: string };
}
