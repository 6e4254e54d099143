"""golive.client (real httpx) on mistakes and odd answers: a base_url that cannot work is refused when the client
is made, a text that is not valid Unicode before sending, and what the server or a proxy answers instead of
golive's body (a broken gzip, an HTML 500, a redirect, a stall) becomes a GoliveError that says what happened.
Answers come from httpx.MockTransport in place of the client's transport, or from a socket that never answers."""

from __future__ import annotations

import asyncio
import gzip
import socket

import httpx
import pytest

from golive.client import AsyncClient, Client, GoliveError
from golive.client.base import _http_options

URL = "http://golive.test"


class Server:
    """Answers every request with `answer(request)`, and counts them."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def sync_client(server: Server, **options) -> Client:
    api = Client(URL, backoff=0, max_backoff=0, **options)
    api._http = httpx.Client(**_http_options(URL, None, None, None), transport=httpx.MockTransport(server))
    return api


def call(kind: str, server: Server, texts, **options):
    """`predict(texts)` with the sync or the async client; the GoliveError it raised."""
    if kind == "sync":
        with sync_client(server, **options) as api, pytest.raises(GoliveError) as raised:
            api.predict(texts)
        return raised.value

    async def run():
        api = AsyncClient(URL, backoff=0, max_backoff=0, **options)
        api._http = httpx.AsyncClient(**_http_options(URL, None, None, None), transport=httpx.MockTransport(server))
        async with api:
            with pytest.raises(GoliveError) as raised:
                await api.predict(texts)
        return raised.value

    return asyncio.run(run())


KINDS = ["sync", "async"]


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
@pytest.mark.parametrize(
    "base_url,message",
    [
        ("localhost:8000", "base_url needs http:// or https:// (got 'localhost:8000')"),
        ("127.0.0.1:8000", "base_url needs http:// or https:// (got '127.0.0.1:8000')"),
        ("ftp://example.com", "base_url needs http:// or https:// (got 'ftp://example.com')"),
        ("http://[::1", "base_url is not a valid URL (Invalid port: ':1'; got 'http://[::1')"),
        ("http://", "base_url names no host (got 'http://')"),
    ],
)
def test_a_base_url_that_cannot_work_is_refused_when_the_client_is_made(client_class, base_url, message):
    with pytest.raises(ValueError) as raised:
        client_class(base_url)
    assert str(raised.value).startswith(message) and "http://127.0.0.1:8000" in str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "texts,where",
    [("\udbb1", "`inputs` holds a lone UTF-16 surrogate at position 0"), (["ok", "ab\udbb1"], "`inputs[1]`")],
)
def test_a_lone_surrogate_is_invalid_text_before_anything_is_sent(kind, texts, where):
    server = Server(lambda request: httpx.Response(200, json={}))
    error = call(kind, server, texts)
    assert (error.type, error.status) == ("invalid_text", None)
    assert where in error.message and "(\\udbb1 is half a character); send valid Unicode" in error.message
    assert server.requests == []


def test_feedback_with_a_lone_surrogate_is_invalid_text():
    server = Server(lambda request: httpx.Response(200, json={}))
    with sync_client(server) as api, pytest.raises(GoliveError) as raised:
        api.feedback("id", "pos\udc80")
    assert raised.value.type == "invalid_text" and "`label` holds a lone UTF-16 surrogate at position 3" in str(
        raised.value
    )
    assert server.requests == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_does_not_decode_is_bad_response_and_not_retried(kind):
    server = Server(lambda request: httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip"))
    error = call(kind, server, "fine")
    assert error.type == "bad_response" and "could not be decoded" in error.message
    assert "Content-Encoding" in error.message
    assert len(server.requests) == 1


def test_a_good_gzip_body_still_reads():
    body = b'{"model_version": "v1", "predictions": [{"prediction_id": "p", "label": "pos", "score": 0.9}]}'
    server = Server(
        lambda request: httpx.Response(200, headers={"content-encoding": "gzip"}, content=gzip.compress(body))
    )
    with sync_client(server) as api:
        assert api.predict("fine").predictions[0].label == "pos"


HTML_500 = (
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title><style>body { color: red; }</style>"
    "<script>var tracking = 'x';</script></head><body><h1>Internal Server Error</h1><p>The server encountered "
    "an internal error &amp; could not complete your request.</p>" + "<p>filler text</p>" * 50 + "</body></html>"
)


@pytest.mark.parametrize("kind", KINDS)
def test_an_html_500_page_is_a_short_server_error_that_is_not_retried(kind):
    server = Server(lambda request: httpx.Response(500, html=HTML_500))
    error = call(kind, server, "fine")
    assert (error.status, error.type) == (500, "server_error")
    assert error.message.startswith("500 Internal Server Error Internal Server Error The server encountered an")
    assert "&" in error.message and "<" not in error.message and "tracking" not in error.message
    assert "color" not in error.message and len(error.message) <= 200
    assert len(server.requests) == 1  # a server's bug: the same request would fail the same way


def test_a_proxys_html_502_is_still_retried():
    answers = [httpx.Response(502, html="<html><body><h1>502 Bad Gateway</h1></body></html>")] * 2
    server = Server(lambda request: answers.pop() if answers else httpx.Response(503, text="busy"))
    error = call("sync", server, "fine", max_attempts=3)
    assert [error.status, error.type, error.message] == [503, "service_unavailable", "busy"]
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "location,absolute",
    [
        ("https://golive.test/v1/predict", "https://golive.test/v1/predict"),
        ("/dev/v1/predict", "http://golive.test/dev/v1/predict"),
    ],
)
def test_a_redirect_names_where_it_points(location, absolute):
    server = Server(lambda request: httpx.Response(301, headers={"location": location}))
    error = call("sync", server, "fine")
    assert (error.status, error.type) == (301, "http_301")
    assert error.message == (
        f"Moved Permanently: the server redirects to {absolute}; use that URL (its scheme, host and stage) as base_url"
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_that_never_answers_times_out_saying_what_and_how_long(kind):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def run_async():
            async with AsyncClient(url, timeout=0.3, max_attempts=1) as api:
                with pytest.raises(GoliveError) as raised:
                    await api.predict("fine")
            return raised.value

        if kind == "async":
            error = asyncio.run(run_async())
        else:
            with Client(url, timeout=0.3, max_attempts=1) as api, pytest.raises(GoliveError) as raised:
                api.predict("fine")
            error = raised.value
    assert error.type == "connection_error" and error.status is None
    assert error.message.startswith("ReadTimeout: the server did not answer within 0.3 s (the client's timeout")
