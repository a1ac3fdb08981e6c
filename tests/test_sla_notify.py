"""Notifications against real servers on loopback: an HTTP webhook and an SMTP server."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from email.message import Message as MailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cueva.contract import Contract, parse_contract
from cueva.sla import NotifyError, build_message, notify, pending_alerts
from cueva.store import Store

AS_OF = datetime(2026, 5, 29, 12, 0)
LINES = [
    "at risk: response_time (sales -> marketing) 2026-05: 60.0% vs target >= 90.0%",
    "missed: mql_volume (marketing -> sales) 2026-04: 80 vs target >= 100 <b>&</b>",
]


class Hook:
    """A Slack-like webhook: answers ``codes`` in turn (then 200) and keeps what it got."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = hook.codes.pop(0) if hook.codes else 200
                if code == 200:
                    hook.bodies.append(json.loads(body))
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"error")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], MailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"duckdb://{tmp_path / 'alerts.duckdb'}")
    yield s
    s.close()


def contract(webhook: bool = True, smtp_port: int | None = None, retries: int = 2) -> Contract:
    from cueva.contract import starter_contract

    channels = "notifications:\n"
    if webhook:
        channels += "  webhook: {url_env: TEST_HOOK_URL}\n"
    if smtp_port is not None:
        channels += (
            f"  email: {{host: 127.0.0.1, port: {smtp_port}, sender: cueva@acme.test, "
            "to: [heads@acme.test, cro@acme.test], security: none}\n"
        )
    channels += f"  retries: {retries}\n  backoff_seconds: 0.01\n  timeout_seconds: 5\n"
    return parse_contract(starter_contract("Acme") + channels)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_webhook_gets_slack_blocks(store: Store, hook: Hook) -> None:
    msg = build_message("Acme", LINES, AS_OF)
    sent = notify(store, contract(), msg, env={"TEST_HOOK_URL": hook.url})
    assert [(d.channel, d.ok, d.attempts) for d in sent] == [("webhook", True, 1)]
    (body,) = hook.bodies
    assert body["text"] == "Acme: 2 service levels at risk or missed"
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "section", "context"]
    assert body["blocks"][1]["text"]["text"] == LINES[0]
    assert "2026-05-29 12:00" in body["blocks"][-1]["elements"][0]["text"]
    assert pending_alerts(store).empty


def test_email_has_plain_text_and_escaped_html(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    notify(
        store, contract(webhook=False, smtp_port=port), build_message("Acme", LINES, AS_OF), env={}
    )
    ((rcpts, mail),) = inbox.messages
    assert sorted(rcpts) == ["cro@acme.test", "heads@acme.test"]
    assert mail["Subject"] == "Acme: 2 service levels at risk or missed"
    assert mail.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert LINES[0] in parts["text/plain"]
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in parts["text/html"]  # CRM text never becomes markup
    assert "<b>&</b>" not in parts["text/html"]


def test_failing_webhook_retries_with_backoff_then_keeps_the_alert(
    store: Store, hook: Hook
) -> None:
    hook.codes = [500, 500, 500]
    sleeps = Sleeps()
    c = contract(retries=2)
    env = {"TEST_HOOK_URL": hook.url}
    with pytest.raises(NotifyError, match=r"not delivered after 3 attempt\(s\).*HTTP 500"):
        notify(store, c, build_message("Acme", LINES, AS_OF), env=env, sleep=sleeps)
    assert sleeps == [0.01, 0.02]  # doubling backoff between the 3 attempts
    assert hook.bodies == []
    waiting = pending_alerts(store)
    assert len(waiting) == 1 and waiting["attempts"].iloc[0] == 3
    assert "HTTP 500" in waiting["last_error"].iloc[0]
    # next run: the endpoint is back; the old alert goes out without a new breach
    sent = notify(store, c, None, env=env, sleep=sleeps)
    assert [d.ok for d in sent] == [True]
    assert hook.bodies[0]["text"] == "Acme: 2 service levels at risk or missed"
    assert pending_alerts(store).empty


def test_a_recovering_webhook_succeeds_on_retry(store: Store, hook: Hook) -> None:
    hook.codes = [503]
    sleeps = Sleeps()
    sent = notify(
        store,
        contract(),
        build_message("Acme", LINES, AS_OF),
        env={"TEST_HOOK_URL": hook.url},
        sleep=sleeps,
    )
    assert [(d.ok, d.attempts) for d in sent] == [(True, 2)] and sleeps == [0.01]


def test_unreachable_webhook_and_missing_secret_are_clear_errors(store: Store) -> None:
    c = contract(retries=0)
    msg = build_message("Acme", LINES, AS_OF)
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with pytest.raises(NotifyError, match="webhook unreachable"):
        notify(store, c, msg, env={"TEST_HOOK_URL": url})
    with pytest.raises(NotifyError, match=r"environment variable TEST_HOOK_URL .* is not set"):
        notify(store, c, None, env={})  # retries the pending alert, still no URL
    assert len(pending_alerts(store)) == 1


def test_no_channels_is_a_clear_error(store: Store) -> None:
    from cueva.contract import starter_contract

    with pytest.raises(NotifyError, match="no notification channels"):
        notify(store, parse_contract(starter_contract("Acme")), None, env={})
