/**
 * The python3 watchdog (standard library only), speaking the same control protocol as the
 * node watchdog (protocol.ts). The provider writes it to a file once and runs
 * `python3 -u <file>`. Handler contract, `handler.py`:
 *
 *   def handle(req):  # req.method, .path, .query (dict), .raw_query, .headers (dict,
 *       ...            # lower-case keys), .body (bytes), .text(), .json()
 *       return {"status": 201, "headers": {...}, "body": ...}  # or str / bytes / dict / list / None
 *
 * A dict is a response when it has a "body" key or an int "status"; any other dict/list is
 * sent as JSON. Each request runs in its own thread; the exec timeout answers 504 (the
 * thread cannot be killed, so it finishes in the background).
 */
export const PYTHON_WATCHDOG_SOURCE = String.raw`
import importlib.util, json, os, signal, sys, threading, time, traceback
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import parse_qsl

threading.stack_size(512 * 1024)
TOKEN = os.environ.pop("TRELLIS_CONTROL_TOKEN", "")
REPORT_FD = 3
S = {"handler": None, "spec": None, "loading": False, "draining": False, "terminating": False,
     "inflight": 0, "served": 0, "last": 0}
LOCK = threading.Lock()
MAX_BODY = int(os.environ.get("TRELLIS_MAX_BODY_BYTES") or 64 * 1024 * 1024)

class BodyTooLarge(Exception):
    pass

def report(msg):
    try:
        os.write(REPORT_FD, (json.dumps(msg) + "\n").encode())
    except OSError:
        pass

class Request:
    def __init__(self, method, path, raw_query, headers, body):
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.query = {}
        for k, v in parse_qsl(raw_query, keep_blank_values=True):
            self.query.setdefault(k, v)
        self.headers = headers
        self.body = body
    def text(self):
        return self.body.decode("utf-8", "replace")
    def json(self):
        return json.loads(self.body.decode("utf-8") or "null")

def to_response(out):
    status, headers, body = 200, {}, out
    if isinstance(out, dict) and ("body" in out or isinstance(out.get("status"), int)):
        status = out.get("status", 200)
        headers = dict(out.get("headers") or {})
        body = out.get("body")
    if not isinstance(status, int) or status < 100 or status > 599:
        raise ValueError("handler returned invalid status %r" % (status,))
    ctype = None
    if body is None:
        payload = b""
    elif isinstance(body, str):
        payload, ctype = body.encode(), "text/plain; charset=utf-8"
    elif isinstance(body, (bytes, bytearray)):
        payload, ctype = bytes(body), "application/octet-stream"
    else:
        payload, ctype = json.dumps(body).encode(), "application/json"
    if ctype and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = ctype
    return status, headers, payload

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trellis-watchdog-python"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, fmt, *args):
        pass

    def send(self, status, payload, headers=None, ctype="text/plain; charset=utf-8"):
        if isinstance(payload, str):
            payload = (payload + "\n").encode()
        self.send_response(status)
        hdrs = headers or {"Content-Type": ctype}
        for k, v in hdrs.items():
            if k.lower() not in ("content-length", "connection"):
                self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(payload)))
        if S["draining"]:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise BodyTooLarge()
        if n:
            return self.rfile.read(n)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise BodyTooLarge()
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return b""

    def authed(self):
        return TOKEN != "" and self.headers.get("x-trellis-control") == TOKEN

    def control(self, path):
        if path == "/_/health":
            self.read_body(); self.send(200, "OK"); return True
        if path == "/_/ready":
            self.read_body()
            spec = S["spec"]
            if S["handler"] is None or S["draining"]:
                self.send(503, "draining" if S["draining"] else "not loaded")
            elif spec["concurrency"] > 0 and S["inflight"] >= spec["concurrency"]:
                self.send(429, "at max in-flight")
            else:
                self.send(200, "OK")
            return True
        if not self.authed():
            return False
        if path == "/_/stats":
            self.read_body()
            stats = {"inflight": S["inflight"], "served": S["served"], "lastRequestAt": S["last"],
                     "loaded": S["handler"] is not None, "draining": S["draining"]}
            self.send(200, json.dumps(stats).encode(), {"Content-Type": "application/json"})
            return True
        if path == "/_/drain" and self.command == "POST":
            self.read_body(); S["draining"] = True
            self.send(200, json.dumps({"inflight": S["inflight"]}).encode(), {"Content-Type": "application/json"})
            return True
        if path == "/_/load" and self.command == "POST":
            self.load(self.read_body()); return True
        return False

    def load(self, body):
        if S["handler"] is not None or S["loading"]:
            self.send(409, json.dumps({"error": "already loaded"}).encode(), {"Content-Type": "application/json"}); return
        S["loading"] = True
        t0 = time.time()
        try:
            spec = json.loads(body.decode())
            os.environ.update(spec.get("env") or {})
            os.chdir(spec["cwd"])
            path = spec["handlerPath"]
            bundle = os.path.dirname(path)
            for p in (os.path.join(bundle, ".python_packages"), bundle):
                if p not in sys.path:
                    sys.path.insert(0, p)
            mod_spec = importlib.util.spec_from_file_location("handler", path)
            mod = importlib.util.module_from_spec(mod_spec)
            sys.modules["handler"] = mod
            mod_spec.loader.exec_module(mod)
            fn = getattr(mod, "handle", None)
            if not callable(fn):
                raise RuntimeError("%s must define handle(req)" % path)
            S["spec"] = spec
            S["handler"] = fn
            self.send(200, json.dumps({"ok": True, "loadMs": int((time.time() - t0) * 1000)}).encode(), {"Content-Type": "application/json"})
        except BaseException as e:
            traceback.print_exc()
            self.send(500, json.dumps({"error": "%s: %s" % (type(e).__name__, e)}).encode(), {"Content-Type": "application/json"})
        finally:
            S["loading"] = False

    def handle_any(self):
        path, _, raw_query = self.path.partition("?")
        try:
            if path.startswith("/_/") and self.control(path):
                return
            body = self.read_body()
        except BodyTooLarge:
            self.close_connection = True
            self.send(413, "request body larger than %d bytes (TRELLIS_MAX_BODY_BYTES)" % MAX_BODY)
            return
        fn, spec = S["handler"], S["spec"]
        if fn is None:
            self.send(503, "function not loaded"); return
        with LOCK:
            if spec["concurrency"] > 0 and S["inflight"] >= spec["concurrency"]:
                full = True
            else:
                full = False
                S["inflight"] += 1
                S["last"] = int(time.time() * 1000)
        if full:
            self.send(429, "max in-flight (%d) reached" % spec["concurrency"]); return
        try:
            self.run(fn, spec, path, raw_query, body)
        finally:
            with LOCK:
                S["inflight"] -= 1
                S["served"] += 1
            maybe_exit()

    def run(self, fn, spec, path, raw_query, body):
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, path, raw_query, headers, body)
        box = {}
        def target():
            try:
                box["out"] = to_response(fn(req))
            except BaseException as e:
                box["err"] = e
                traceback.print_exc()
        t = threading.Thread(target=target, daemon=True)
        t.start()
        timeout = spec["timeoutMs"] / 1000.0 if spec["timeoutMs"] > 0 else None
        t.join(timeout)
        if t.is_alive():
            sys.stderr.write("watchdog: %s %s exceeded the exec timeout of %d ms\n" % (self.command, self.path, spec["timeoutMs"]))
            self.send(504, "function timed out after %d ms" % spec["timeoutMs"]); return
        if "err" in box:
            self.send(500, "handler error: %s" % (box["err"],)); return
        status, hdrs, payload = box["out"]
        self.send(status, payload, hdrs)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

SERVER = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("TRELLIS_WATCHDOG_PORT", "0"))), Handler)
SERVER.daemon_threads = True

def maybe_exit():
    if S["terminating"] and S["inflight"] == 0:
        threading.Thread(target=lambda: (SERVER.shutdown(), os._exit(0)), daemon=True).start()

def on_term(signum, frame):
    S["draining"] = True
    S["terminating"] = True
    maybe_exit()

def watch_parent(parent):
    # Orphaned (the provider was SIGKILLed and could not stop us): exit rather than linger.
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)

threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
signal.signal(signal.SIGTERM, on_term)
report({"port": SERVER.server_address[1]})
SERVER.serve_forever(poll_interval=0.05)
`;
