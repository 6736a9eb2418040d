// __NAME__: a Trellis node function. The watchdog loads this module once and calls the
// default export for every request.
//   req: { method, path, query, rawQuery, headers, body (Buffer), text(), json() }
//   return: { status?, headers?, body? } | string | Buffer | any JSON value
export default async (req) => {
  const name = req.query.name ?? 'world';
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: { message: `Hello, ${name}!`, method: req.method, path: req.path },
  };
};
