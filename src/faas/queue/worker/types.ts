/** The invocation path the worker depends on (the gateway's, so scale-from-zero applies). */
export interface InvokeRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface InvokeResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Resolves with the function's response; rejects only when the function was unreachable. */
export type InvokeFn = (fn: string, req: InvokeRequest) => Promise<InvokeResponse>;

/** Labels and annotations of a function, for per-function retry overrides. */
export type FunctionMetaLookup = (fn: string) =>
  | { labels?: Record<string, string>; annotations?: Record<string, string> }
  | undefined
  | Promise<{ labels?: Record<string, string>; annotations?: Record<string, string> } | undefined>;
