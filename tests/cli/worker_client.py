"""The job protocol from Python, for the tests that play a worker by hand
(a forger, a probe, a worker that misbehaves): frames as docs/protocol.md
has them, a u32 length, a type byte, then JSON (a LOG's payload is a u32
header length, the JSON header and the raw bytes)."""
import json
import os
import select
import socket
import struct


class Conn:
    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def frame(self, kind, payload):
        self.sock.sendall(struct.pack(">IB", len(payload) + 1, kind) + payload)

    def send(self, kind, obj):
        self.frame(kind, json.dumps(obj).encode())

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise SystemExit("closed")
            buf += chunk
        return buf

    def recv(self):
        """The next frame, as (type, decoded JSON)."""
        length, kind = struct.unpack(">IB", self.recv_exact(5))
        return kind, json.loads(self.recv_exact(length - 1))

    def hello(self, token, worker_id, running=(), queues=("nothing-here",)):
        """Say HELLO as `worker_id`; the answer, (2, WELCOME) or (3, REJECT)."""
        self.send(1, {"version_min": 2, "version_max": 2, "token": token,
                      "worker_id": worker_id, "host": "h", "slots": 1,
                      "queues": list(queues), "running": list(running)})
        return self.recv()

    def frames_until(self, path):
        """Every frame received until the file `path` exists (or the
        scheduler closes), as (type, decoded JSON)."""
        while not os.path.exists(path):
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            try:
                yield self.recv()
            except SystemExit:
                return


def connect(port, timeout=20):
    return Conn(port, timeout)
