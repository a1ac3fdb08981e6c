"""Send breaches to the contract's channels: a Slack-compatible webhook and e-mail over SMTP.

Secrets never live in the contract: it names the environment variables that hold the webhook
URL and the SMTP password. Every alert is recorded in the store (table ``_cueva_alerts``, an
append-only log of ``created``, ``failed`` and ``sent`` events) before it is sent, so an alert
whose channel is down is not lost: :func:`pending_alerts` lists it, ``cueva check`` shows it
and ``cueva check --notify`` sends it again. Each send is retried with exponential backoff
(``notifications.retries`` and ``backoff_seconds``).
"""

from __future__ import annotations

import html
import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import ibis
import pandas as pd

from cueva.contract import Contract, EmailChannel, Notifications
from cueva.errors import CuevaError
from cueva.store import Store

ALERTS_TABLE = "_cueva_alerts"
ALERTS_SCHEMA = {
    "alert_id": "string",
    "channel": "string",
    "event": "string",  # created, failed, sent
    "at": "timestamp",
    "subject": "string",
    "message": "string",  # JSON of the Message, to send it again
    "error": "string",
}


class NotifyError(CuevaError, RuntimeError):
    """A channel could not be reached after every retry (the alert is kept in the store)."""


@dataclass(frozen=True)
class Message:
    """One alert, rendered for every channel."""

    subject: str
    text: str
    html: str
    slack: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {"subject": self.subject, "text": self.text, "html": self.html, "slack": self.slack}
        )

    @classmethod
    def from_json(cls, text: str) -> Message:
        d = json.loads(text)
        return cls(d["subject"], d["text"], d["html"], d["slack"])


def build_message(company: str, lines: list[str], as_of: datetime) -> Message:
    """The alert for breach ``lines`` (one per service level at risk or missed)."""
    n = len(lines)
    subject = f"{company}: {n} service level{'s' if n != 1 else ''} at risk or missed"
    stamp = f"cueva check, as of {as_of:%Y-%m-%d %H:%M}"
    text = subject + "\n\n" + "\n".join(f"- {ln}" for ln in lines) + f"\n\n{stamp}\n"
    items = "".join(f"<li>{html.escape(ln)}</li>" for ln in lines)
    body = (
        f"<html><body><h2>{html.escape(subject)}</h2><ul>{items}</ul>"
        f"<p style='color:#666'>{html.escape(stamp)}</p></body></html>"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}}
    ]
    blocks += [
        {"type": "section", "text": {"type": "plain_text", "text": ln[:3000]}} for ln in lines[:47]
    ]
    if n > 47:
        blocks.append(
            {"type": "section", "text": {"type": "plain_text", "text": f"... {n - 47} more"}}
        )
    blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": stamp}]})
    return Message(subject, text, body, {"text": subject, "blocks": blocks})


# --------------------------------------------------------------------------- the alert log


def _ensure_log(store: Store) -> None:
    con = store.con
    if ALERTS_TABLE not in con.list_tables():
        con.create_table(ALERTS_TABLE, schema=ibis.schema(ALERTS_SCHEMA))


def _record(
    store: Store, alert_id: str, channel: str, event: str, msg: Message, error: str = ""
) -> None:
    _ensure_log(store)
    row = pd.DataFrame(
        [
            {
                "alert_id": alert_id,
                "channel": channel,
                "event": event,
                "at": pd.Timestamp(datetime.now()),
                "subject": msg.subject,
                "message": msg.to_json(),
                "error": error,
            }
        ]
    )
    store.con.insert(ALERTS_TABLE, row.astype({"at": "datetime64[us]"}))


def pending_alerts(store: Store) -> pd.DataFrame:
    """Alerts not delivered yet, one row per (alert, channel): alert_id, channel, created_at,
    subject, attempts, last_error, message."""
    cols = ["alert_id", "channel", "created_at", "subject", "attempts", "last_error", "message"]
    if ALERTS_TABLE not in store.con.list_tables():
        return pd.DataFrame(columns=cols)
    t = store.table(ALERTS_TABLE)
    g = t.group_by(["alert_id", "channel"]).aggregate(
        created_at=t.at.min(),
        subject=t.subject.max(),
        attempts=(t.event == "failed").cast("int64").sum(),
        sent=(t.event == "sent").cast("int64").sum(),
        last_error=t.error.argmax(t.at, where=t.event == "failed"),
        message=t.message.max(),
    )
    g = g.filter(g.sent == 0).order_by("created_at")
    return g.select(*cols).execute()


# --------------------------------------------------------------------------- channels


def send_webhook(url: str, payload: dict[str, Any], timeout: float) -> None:
    if not url.startswith(("http://", "https://")):
        raise NotifyError("the webhook URL must start with http:// or https://")
    req = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"webhook answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotifyError(f"webhook unreachable: {reason}") from exc


def send_email(settings: EmailChannel, password: str | None, msg: Message, timeout: float) -> None:
    mail = EmailMessage()
    mail["Subject"] = msg.subject
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    mail.set_content(msg.text)
    mail.add_alternative(msg.html, subtype="html")
    try:
        smtp: smtplib.SMTP
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, password or "")
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(
            f"e-mail via {settings.host}:{settings.port} failed: {exc}".strip()
        ) from exc


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    channel: str
    ok: bool
    attempts: int
    error: str


def _channels(settings: Notifications) -> list[str]:
    out = []
    if settings.webhook is not None:
        out.append("webhook")
    if settings.email is not None:
        out.append("email")
    return out


def _send_once(channel: str, settings: Notifications, msg: Message, env: Mapping[str, str]) -> None:
    if channel == "webhook":
        assert settings.webhook is not None
        name = settings.webhook.url_env
        url = env.get(name)
        if not url:
            raise NotifyError(f"environment variable {name} (the webhook URL) is not set")
        send_webhook(url, msg.slack, settings.timeout_seconds)
    else:
        assert settings.email is not None
        password = None
        if settings.email.password_env:
            password = env.get(settings.email.password_env)
            if password is None:
                raise NotifyError(
                    f"environment variable {settings.email.password_env} (the SMTP password) "
                    "is not set"
                )
        send_email(settings.email, password, msg, settings.timeout_seconds)


def _deliver_one(
    store: Store,
    alert_id: str,
    channel: str,
    settings: Notifications,
    msg: Message,
    env: Mapping[str, str],
    sleep: Callable[[float], None],
) -> Delivery:
    wait = settings.backoff_seconds
    error = ""
    for attempt in range(1, settings.retries + 2):
        try:
            _send_once(channel, settings, msg, env)
        except NotifyError as exc:
            error = str(exc)
            _record(store, alert_id, channel, "failed", msg, error)
            if attempt <= settings.retries:
                sleep(wait)
                wait *= 2
            continue
        _record(store, alert_id, channel, "sent", msg)
        return Delivery(alert_id, channel, True, attempt, "")
    return Delivery(alert_id, channel, False, settings.retries + 1, error)


def notify(
    store: Store,
    contract: Contract,
    message: Message | None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send earlier undelivered alerts, then ``message`` (if any), to every channel of the
    contract. Each alert is recorded before it is sent; raises :class:`NotifyError` naming
    the failed channels once everything was tried (the failed alerts stay pending)."""
    settings = contract.notifications
    if settings is None or not _channels(settings):
        raise NotifyError(
            "the contract has no notification channels; add 'notifications:' with a webhook "
            "or email (see docs/scorecard.md)"
        )
    env = os.environ if env is None else env
    results: list[Delivery] = []
    for row in pending_alerts(store).itertuples(index=False):  # a few undelivered alerts
        if row.channel in _channels(settings):
            old = Message.from_json(str(row.message))
            results.append(
                _deliver_one(store, str(row.alert_id), str(row.channel), settings, old, env, sleep)
            )
    if message is not None:
        alert_id = uuid.uuid4().hex[:12]
        for channel in _channels(settings):
            _record(store, alert_id, channel, "created", message)
            results.append(_deliver_one(store, alert_id, channel, settings, message, env, sleep))
    failed = [r for r in results if not r.ok]
    if failed:
        details = "; ".join(f"{r.channel}: {r.error}" for r in failed)
        raise NotifyError(
            f"{len(failed)} alert(s) not delivered after {failed[0].attempts} attempt(s) "
            f"({details}); kept in the store and sent again by the next 'cueva check --notify'"
        )
    return results


__all__ = [
    "ALERTS_TABLE",
    "Delivery",
    "Message",
    "NotifyError",
    "build_message",
    "notify",
    "pending_alerts",
    "send_email",
    "send_webhook",
]
