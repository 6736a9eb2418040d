# __NAME__: a Trellis python3 function. The watchdog imports this module once and calls
# handle(req) for every request (each in its own thread).
#   req.method, req.path, req.query (dict), req.raw_query, req.headers (dict, lower-case keys),
#   req.body (bytes), req.text(), req.json()
#   return {"status": ..., "headers": {...}, "body": ...} | str | bytes | dict/list (JSON) | None


def handle(req):
    name = req.query.get("name", "world")
    return {"status": 200, "body": {"message": "Hello, %s!" % name, "method": req.method, "path": req.path}}
