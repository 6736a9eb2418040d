// __NAME__: a Trellis TypeScript function, compiled by `trellis fn build`.
export interface Request {
  method: string;
  path: string;
  query: Record<string, string>;
  rawQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export interface Response {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export default async (req: Request): Promise<Response> => {
  const name = req.query.name ?? 'world';
  return { status: 200, body: { message: `Hello, ${name}!`, method: req.method, path: req.path } };
};
