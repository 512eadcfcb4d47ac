"""A real SMTP server for rollcall's outbox tests (aiosmtpd).

Accepts every message and stores it as one JSON file in --dir: {"mail_from",
"rcpt_tos", "auth_user", "data"} (data is the RFC 5322 message as text). A message counts
as accepted only once the server answers 250 to DATA, as with a real MTA: with --delay the
answer waits, and a client that disconnects meanwhile leaves no file (aiosmtpd cancels the
handler when the connection drops). With --auth USER:PASS, AUTH is required (over plain
text: this is loopback). Prints "PORT <n>" once listening, so --port 0 is race-free.
"""

import argparse
import asyncio
import json
import os
import sys
import uuid

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, delay):
        self.directory = directory
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": session.auth_data,
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(self.directory, "." + name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.directory, name + ".json"))
        return "250 OK"


def authenticator(expected):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and f"{auth_data.login.decode()}:{auth_data.password.decode()}" == expected
        )
        # What the session keeps as auth_data: the user name, for the test to check.
        # handled=False: aiosmtpd then answers 535 itself (True would leave it silent).
        return AuthResult(
            success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None
        )

    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--auth")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir, args.delay)

    def factory():
        if args.auth:
            return SMTP(
                handler,
                hostname="sink.test",
                auth_required=True,
                auth_require_tls=False,
                authenticator=authenticator(args.auth),
            )
        return SMTP(handler, hostname="sink.test")

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, args.host, args.port, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Quit when the test (our parent) closes stdin or dies.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
