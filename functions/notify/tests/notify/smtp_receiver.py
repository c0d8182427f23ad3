"""A real SMTP receiver for the notify tests (aiosmtpd).

Listens on 127.0.0.1:PORT, prints "ready" once it accepts connections, then one JSON
line per message received: the envelope, the parsed headers and the decoded plain
text body (a real mail parser undoes quoted-printable and header encoding). With
USERNAME and PASSWORD given it requires AUTH and reports the login used. It exits
when its standard input closes, so it never outlives the test that started it.
"""

import json
import sys
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port = int(sys.argv[1])
expected = tuple(sys.argv[2:4]) if len(sys.argv) >= 4 else None


class Record:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        login = session.auth_data.login.decode() if session.auth_data is not None else None
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "body": msg.get_content(),
            "login": login,
        }), flush=True)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = expected is not None and (auth_data.login.decode(), auth_data.password.decode()) == expected
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


kwargs = {}
if expected is not None:
    kwargs = dict(authenticator=authenticate, auth_required=True, auth_require_tls=False)
controller = Controller(Record(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
