"""The dashboard server (``pgqrs serve``, docs/dashboard.md) inside a Python
process: HTML pages, the JSON API under ``/api/`` and Prometheus ``/metrics``,
served on threads of the library's own (libmicrohttpd)::

    with store.serve(listen="127.0.0.1:0") as srv:      # port 0: any free port
        print(srv.url)                                  # http://127.0.0.1:PORT
        srv.wait()                                      # until srv.stop() (another thread, a signal)

It listens on loopback unless given a token (16 bytes or more); every action
needs the token, same-origin headers and not ``read_only``."""

import ctypes

from . import _lib
from ._core import Handle, check, encode_name, lib


class Server:
    """A running dashboard server (``store.serve(...)``). The store must stay open
    while it runs; ``close()`` (or leaving the ``with`` block) stops and frees it."""

    def __init__(self):
        raise TypeError("use store.serve(...)")

    @classmethod
    def _start(cls, store, listen, token, read_only, log_requests):
        opts = _lib.ServerOptionsC()
        check(lib().pgqrs_server_options_init(ctypes.byref(opts), _lib.PGQRS_SERVER_OPTIONS_VERSION), None)
        listen_b = encode_name(listen, "listen", allow_none=True)
        token_b = encode_name(token, "token", allow_none=True)
        opts.listen, opts.token = listen_b, token_b
        opts.read_only, opts.log_requests = int(bool(read_only)), int(bool(log_requests))
        out = ctypes.c_void_p()
        check(lib().pgqrs_server_new(ctypes.byref(out), store._ptr(), ctypes.byref(opts)), None)
        self = object.__new__(cls)
        self._store = store
        self._host = (listen or "127.0.0.1:8080").rsplit(":", 1)[0]
        self._h = Handle(out.value, lib().pgqrs_server_free, "server")
        store._adopt(self._h)
        return self

    @property
    def port(self):
        """The TCP port it listens on (the chosen one when asked for port 0)."""
        return lib().pgqrs_server_port(self._h.get())

    @property
    def url(self):
        return "http://%s:%d" % (self._host, self.port)

    def wait(self):
        """Blocks (without holding the GIL) until :meth:`stop`."""
        lib().pgqrs_server_wait(self._h.get())

    def stop(self):
        """Makes :meth:`wait` return; the server keeps its port until :meth:`close`."""
        lib().pgqrs_server_stop(self._h.get())

    def close(self):
        """Stops serving (requests in progress finish) and frees. Idempotent."""
        self._store._forget(self._h)
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
