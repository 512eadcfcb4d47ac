"""A real SMTP server for rollcall's outbox tests (aiosmtpd).

Accepts every message and stores it as one JSON file in --dir: {"mail_from",
"rcpt_tos", "auth_user", "data"} (data is the RFC 5322 message as text). A message counts
as accepted only once the server answers 250 to DATA, as with a real MTA: with --delay the
answer waits, and a client that disconnects meanwhile leaves no file (aiosmtpd cancels the
handler when the connection drops). With --auth USER:PASS, AUTH is required (over plain
text: this is loopback). Prints "PORT <n>" once listening, so --port 0 is race-free.

With --serve, one process serves every test of a run (tests/api/peers.rs): it prints
{"ready": true}, then reads one request a line on stdin and answers on stdout:
  {"id": N, "open": {"dir": D, "port": P, "delay": S, "auth": "u:p"}}  -> {"id": N, "port": n}
      a mailbox of the test's own: a server on its own port storing into D
  {"id": N, "close": n}  -> {"id": N, "closed": true}
  {"id": N, "live": n}   -> {"id": N, "live": k}
      how many clients are connected to the mailbox on port n: once none is, no message
      can still arrive there (a DATA in progress ends with its connection)
and exits when stdin closes.
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
        # Connected clients: a test waits for none before it says nothing more arrives.
        self.live = 0

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
        # Written whole, then renamed: a test never reads half a message. No fsync: the
        # tests read these files on this machine, and one sink serves every test's mailbox.
        with open(tmp, "w") as f:
            json.dump(record, f)
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


class CountingSMTP(SMTP):
    """Keeps the handler's count of connected clients."""

    def connection_made(self, transport):
        self.event_handler.live += 1
        super().connection_made(transport)

    def connection_lost(self, error):
        # aiosmtpd cancels a DATA handler still waiting here, so once the count is back
        # down no message of this connection can be stored any more.
        super().connection_lost(error)
        self.event_handler.live -= 1


def factory_for(handler, auth):
    def factory():
        if auth:
            return CountingSMTP(
                handler,
                hostname="sink.test",
                auth_required=True,
                auth_require_tls=False,
                authenticator=authenticator(auth),
            )
        return CountingSMTP(handler, hostname="sink.test")

    return factory


async def open_mailbox(directory, host, port, delay, auth):
    os.makedirs(directory, exist_ok=True)
    loop = asyncio.get_running_loop()
    sink = Sink(directory, delay)
    server = await loop.create_server(
        factory_for(sink, auth), host, port, reuse_address=True
    )
    return server, sink


def say(message):
    print(json.dumps(message), flush=True)


async def serve():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    servers = {}
    sinks = {}
    say({"ready": True})
    while line := await reader.readline():
        try:
            request = json.loads(line)
        except ValueError:
            say({"protocol_error": f"not JSON: {line!r}"})
            continue
        answer = {"id": request.get("id")}
        try:
            if "open" in request:
                o = request["open"]
                server, sink = await open_mailbox(
                    o["dir"], "127.0.0.1", o.get("port", 0), o.get("delay", 0.0), o.get("auth")
                )
                port = server.sockets[0].getsockname()[1]
                servers[port] = server
                sinks[port] = sink
                answer["port"] = port
            elif "close" in request:
                server = servers.pop(request["close"], None)
                sinks.pop(request["close"], None)
                if server:
                    server.close()
                answer["closed"] = server is not None
            elif "live" in request:
                sink = sinks.get(request["live"])
                if sink is None:
                    answer["error"] = f"no mailbox on port {request['live']}"
                else:
                    answer["live"] = sink.live
            else:
                answer["error"] = f"unknown request {request}"
        except Exception as e:  # noqa: BLE001 - any failure is the test's to see
            answer["error"] = repr(e)
        say(answer)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--serve", action="store_true")
    p.add_argument("--dir")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--auth")
    args = p.parse_args()
    if args.serve:
        await serve()
        return
    if not args.dir:
        p.error("--dir is required without --serve")
    server, _ = await open_mailbox(args.dir, args.host, args.port, args.delay, args.auth)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Quit when the test (our parent) closes stdin or dies.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
