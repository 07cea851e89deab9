"""A TCP proxy in front of the API server whose connections a test can cut: what a client
sees when the network between it and the API server fails (its watches break, and it cannot
reconnect until the link is mended), while the cluster itself goes on."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import yaml


class Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.cut_off = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client_side, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.cut_off:
                    client_side.close()
                    continue
                try:
                    server_side = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client_side.close()
                    continue
                server_side.settimeout(None)
                self.open.update((client_side, server_side))
            for source, sink in ((client_side, server_side), (server_side, client_side)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Every open connection broken, and new ones refused, until `mend`."""
        with self.lock:
            self.cut_off = True
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()
            self.open.clear()

    def mend(self) -> None:
        with self.lock:
            self.cut_off = False

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def kubeconfig(self, original: Path, written: Path) -> Path:
        """A copy of `original` whose server is this proxy (the API server's certificate
        names 127.0.0.1, whatever the port)."""
        config = yaml.safe_load(original.read_text())
        for cluster in config["clusters"]:
            server = urlparse(cluster["cluster"]["server"])
            cluster["cluster"]["server"] = f"{server.scheme}://127.0.0.1:{self.port}"
        written.write_text(yaml.safe_dump(config))
        return written


@contextlib.contextmanager
def proxy_to(kubeconfig: Path, written: Path) -> Iterator[tuple[Proxy, Path]]:
    """A proxy to the kubeconfig's API server, and a kubeconfig that goes through it."""
    config = yaml.safe_load(kubeconfig.read_text())
    server = urlparse(config["clusters"][0]["cluster"]["server"])
    proxy = Proxy((server.hostname or "127.0.0.1", server.port or 443))
    try:
        yield proxy, proxy.kubeconfig(kubeconfig, written)
    finally:
        proxy.close()
