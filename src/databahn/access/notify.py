"""Notifications: a row in `access_notifications` (the in-app inbox) and, when DATABAHN_SMTP_URL is
set, an e-mail sent after the transaction committed (a failed send is logged, never fatal).

DATABAHN_SMTP_URL: smtp://[user:password@]host[:port][?from=hub@example.org&starttls=1]
(smtps:// for implicit TLS).
"""

from __future__ import annotations

import logging
import os
import smtplib
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy.orm import Session

from databahn.access.models import Notification
from databahn.db.models import User

log = logging.getLogger("databahn.access.notify")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class Outbox:
    """Collects notifications inside a transaction; `send()` mails them once it has committed."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    def notify(
        self, s: Session, subject: str, body: str, *, user_id: int | None = None, email: str | None = None
    ) -> None:
        if user_id is not None and email is None:
            user = s.get(User, user_id)
            email = user.email if user else None
        s.add(Notification(user_id=user_id, email=email, subject=subject[:300], body=body))
        if email:
            self.mails.append(Mail(email, subject, body))

    def send(self, smtp_url: str | None = None) -> int:
        url = smtp_url if smtp_url is not None else os.environ.get("DATABAHN_SMTP_URL")
        if not url or not self.mails:
            return 0
        try:
            return send_mails(url, self.mails)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("could not send %d notification e-mail(s): %s", len(self.mails), exc)
            return 0
        finally:
            self.mails = []


def send_mails(smtp_url: str, mails: list[Mail]) -> int:
    parts = urllib.parse.urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"DATABAHN_SMTP_URL must look like smtp://host:port, not {smtp_url!r}")
    query = dict(urllib.parse.parse_qsl(parts.query))
    sender = query.get("from") or "databahn@localhost"
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with cls(parts.hostname, port, timeout=10) as smtp:
        if query.get("starttls") in ("1", "true", "yes"):
            smtp.starttls()
        if parts.username:
            smtp.login(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
        for mail in mails:
            msg = EmailMessage()
            msg["From"] = sender
            msg["To"] = mail.to
            msg["Subject"] = mail.subject
            msg.set_content(mail.body)
            smtp.send_message(msg)
    return len(mails)
