// Example: a node function. curl 'http://127.0.0.1:8080/function/hello-node?name=trellis'
export default async (req) => {
  const name = req.query.name ?? 'world';
  return { status: 200, body: { message: `Hello, ${name}!`, method: req.method, path: req.path, instance: process.env.TRELLIS_INSTANCE_ID } };
};
