"""`golive monitor` pointed at something that is not `golive serve`: a real HTTP server (the stdlib's, in a thread)
answers /metrics with a body golive does not write, and the command says so in one line, exit 2, no traceback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from cli.main import main


@pytest.fixture()
def serving() -> Iterator[list[bytes]]:
    """A server whose /metrics answers 200 with the last body appended to the yielded list; its URL in body[0]."""
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[-1]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bodies.append(f"http://127.0.0.1:{server.server_address[1]}".encode())
    try:
        yield bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize(
    "body, what",
    [
        (b"<html><body>hello</body></html>\n", "invalid metric name, line 1: '<html><body>hello</body></html>'"),
        (b'# HELP bar x\nbar{le="x"} abc\n', "could not convert string to float, line 2: 'bar{le=\"x\"} abc'"),
        (b"# HELP ok fine\nok 1\n\xff\xfe\n", "not UTF-8: byte 0xff, line 3"),
        (b"# TYPE\n", "not a Prometheus sample or comment, line 1: '# TYPE'"),
        (
            b'golive_errors_total{code="500"} 1\n',
            "golive_errors_total has no 'status' label, line 1: 'golive_errors_total{code=\"500\"} 1'",
        ),
        (
            b'golive_errors_total{status="teapot"} 1\n',
            "golive_errors_total has a 'status' label that is not a number ('teapot'), line 1",
        ),
        (
            b'golive_predict_latency_seconds_bucket{le="soon"} 3\n',
            "golive_predict_latency_seconds_bucket has a 'le' label that is not a number ('soon'), line 1",
        ),
        (b"other_total 1\n", "it holds no golive metrics"),
    ],
)
def test_a_body_golive_serve_does_not_write_is_one_clear_error(serving, body, what, capsys):
    url = serving[0].decode()
    serving.append(body)
    assert main(["monitor", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {url}/metrics is not Prometheus text golive serve writes (")
    assert what in err and err.rstrip().endswith("is this a `golive serve` server?")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "url, what",
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://127.0.0.1:abc", "nonnumeric port"),
        ("http://127.0.0.1:8000/a b", "control characters"),
    ],
)
def test_a_url_that_cannot_be_requested_is_one_clear_error(url, what, capsys):
    assert main(["monitor", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {url!r} is not a usable URL (") and what in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--watch", "nan"], "argument --watch: must be a finite number, got nan"),
        (["--watch", "inf"], "argument --watch: must be a finite number, got inf"),
        (["--watch", "0"], "argument --watch: must be above 0, got 0"),
        (["--count", "0"], "argument --count: must be 1 or more, got 0"),
    ],
)
def test_watch_and_count_must_be_finite_and_positive(argv, message, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["monitor", *argv])
    assert raised.value.code == 2 and message in capsys.readouterr().err
