/** Runtime: the provider contract, the process provider, and the watchdog's control protocol. */
export type { RuntimeProvider, InstanceInfo, InstanceState, LogLine, FunctionHealth, ProviderEvent } from './provider.js';
export { ProcessProvider, type ProcessProviderOptions } from './process-provider.js';
export { WatchdogProcess, type SpawnWatchdogOptions, type WatchdogKind } from './watchdog-process.js';
export { planFor, prepareInstanceDir, prepareInstanceDirSync, writeInstanceSecrets, instanceEnv, loadSpecFor, type RunPlan, type InstanceDirs } from './instance-plan.js';
export { afterCrash, settle, waitBeforeStart, DEFAULT_BACKOFF, type BackoffPolicy, type CrashState } from './crash-backoff.js';
export { parseMemory, parseDuration } from './limits.js';
export { LogBuffer } from './log-buffer.js';
export { splitCommandLine } from './watchdog/argv.js';
export type { LoadSpec, WatchdogStats } from './watchdog/protocol.js';
