"""store.serve(): the dashboard server (pgqrs serve, docs/dashboard.md) started
from Python; tests/serve/test_serve.py covers the pages and the API in depth."""

import json
import threading
import urllib.error
import urllib.request

import pytest

import pgqrs


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode("utf-8")


def test_serve_api_and_metrics(store, admin):
    admin.create_queue("emails")
    store.producer("emails").enqueue({"to": "ann@example.com"})
    with store.serve(listen="127.0.0.1:0") as srv:
        assert srv.port > 0 and srv.url == "http://127.0.0.1:%d" % srv.port
        st, body = get(srv.url + "/api/queues")
        assert st == 200
        q = [x for x in json.loads(body)["queues"] if x["name"] == "emails"]
        assert len(q) == 1
        st, body = get(srv.url + "/metrics")
        assert st == 200 and 'pgqrs_queue_depth{queue="emails"} 1' in body
        # an action without the token's proofs (no csrf, no same-origin) is refused
        req = urllib.request.Request(srv.url + "/api/workers/reclaim", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert 400 <= e.value.code < 500


def test_wait_returns_after_stop(store):
    with store.serve(listen="127.0.0.1:0") as srv:
        t = threading.Thread(target=srv.wait)
        t.start()
        srv.stop()
        t.join(10)
        assert not t.is_alive()
    with pytest.raises(pgqrs.Misuse):
        srv.port


def test_bad_options_are_refused(store):
    with pytest.raises(pgqrs.InvalidInput):
        store.serve(listen="0.0.0.0:0")                      # not loopback: needs a token
    with pytest.raises(pgqrs.InvalidInput):
        store.serve(listen="0.0.0.0:0", token="short")       # under 16 bytes
    with pytest.raises(pgqrs.InvalidInput):
        store.serve(listen="no-port")
    with store.serve(listen="127.0.0.1:0", token="t" * 20, read_only=True) as srv:
        req = urllib.request.Request(srv.url + "/api/queues", headers={"Authorization": "Bearer " + "t" * 20})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as e:   # read-only: no action, whatever the token
            urllib.request.urlopen(urllib.request.Request(
                srv.url + "/api/workers/reclaim", data=b"", method="POST",
                headers={"Authorization": "Bearer " + "t" * 20}), timeout=10)
        assert e.value.code == 403
