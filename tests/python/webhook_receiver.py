#!/usr/bin/env python3
"""A webhook receiver for the end-to-end tests: HTTPS (Python's ssl), keep-alive, and a
signature check written apart from the relay's own code (Python's hmac).

Usage: webhook_receiver.py DIR CERT KEY

Writes its port to DIR/port. Before every request it reads DIR/control.json (if present):
  secrets       signing secrets; a request is "signature_ok" if any v1 matches under one of
                them and t is within 300 s of now
  fail_first    the first N event requests (verification excluded) are refused ...
  fail_status   ... with this status (default 503) ...
  retry_after   ... and this Retry-After header, if set
  down          refuse every event request with fail_status while true
  hang_ms       wait this long before answering an event request
Each request is appended to DIR/requests.jsonl: the time, the event id header, the signature
header, whether it verified, the body (parsed), and the status answered.
"""
import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR, CERT, KEY = sys.argv[1], sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
STATE = {"failed": 0}


def control():
    try:
        with open(os.path.join(DIR, "control.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def signature_ok(header, body, secrets):
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    signatures = [v for k, v in parts if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    if abs(time.time() - int(stamps[0])) > 300:
        return False
    signed = stamps[0].encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, s) for s in signatures):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        c = control()
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        status, answer, extra = 200, b"ok", {}
        verification = isinstance(doc, dict) and doc.get("type") == "bizrelay.verification"
        if verification:
            answer = doc["challenge"].encode()
        else:
            with LOCK:
                failing = c.get("down", False) or STATE["failed"] < c.get("fail_first", 0)
                if failing and not c.get("down", False):
                    STATE["failed"] += 1
            if failing:
                status, answer = c.get("fail_status", 503), b"not now"
                if "retry_after" in c:
                    extra["Retry-After"] = str(c["retry_after"])
            if c.get("hang_ms"):
                time.sleep(c["hang_ms"] / 1000.0)
        record = {
            "time": time.time(),
            "event_id": self.headers.get("Bizrelay-Event-Id", ""),
            "signature": self.headers.get("Bizrelay-Signature", ""),
            "signature_ok": signature_ok(self.headers.get("Bizrelay-Signature", ""), body,
                                         c.get("secrets", [])),
            "verification": verification,
            "body": doc,
            "status": status,
        }
        with LOCK:
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        try:
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the relay gave up waiting


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
server.serve_forever()
