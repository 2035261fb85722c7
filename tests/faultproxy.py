"""A loopback TCP proxy that breaks connections on cue (for real-server tests).

``drop_on``: when the client sends bytes containing this, forward them and
then cut both sides at once -- the server got the command but never a QUIT.
``drop_after``: cut after this many server-to-client bytes.
"""

from __future__ import annotations

import socket
import threading


class FaultProxy:
    def __init__(self, target_port: int, *, drop_on: bytes | None = None,
                 drop_after: int | None = None) -> None:
        self.target_port = target_port
        self.drop_on = drop_on
        self.drop_after = drop_after
        self.drops = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = False
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            state = {"sent": 0, "dead": False}
            for src, dst, up in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, up, state, client, server),
                                     daemon=True)
                t.start()
                self._threads.append(t)

    def _cut(self, state: dict[str, int | bool], *socks: socket.socket) -> None:
        if not state["dead"]:
            state["dead"] = True
            self.drops += 1
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool,
              state: dict[str, int | bool], client: socket.socket, server: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or state["dead"]:
                    break
                if not up and self.drop_after is not None:
                    room = self.drop_after - int(state["sent"])
                    if len(data) >= room:
                        dst.sendall(data[:max(0, room)])
                        self._cut(state, client, server)
                        return
                    state["sent"] = int(state["sent"]) + len(data)
                dst.sendall(data)
                if up and self.drop_on is not None and self.drop_on in data:
                    self._cut(state, client, server)
                    return
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self._stop = True
        self._listener.close()
