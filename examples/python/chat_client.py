#!/usr/bin/env python3
"""A command-line client for the chat, written against docs/PROTOCOL.md.

It connects as a guest with a display name, or with --username and --password as an account
(logging in with POST /api/login first, or creating the account with --register), prints the
welcome, catches up with `sync`, sends one message with a `clientId` and prints the
acknowledgement, then prints every message that arrives, every edit and deletion of a message,
and every invitation into a room or direct conversation (which it then catches up on too). With
--to USER_ID it writes in the direct conversation with that person instead of a room. Lines typed
on standard input are sent as further messages; end of input (Ctrl-D) disconnects.

With --once it sends its one message, waits until that message comes back as a broadcast, then
disconnects and exits 0. It exits 1 if anything fails or takes longer than --timeout seconds, if
the login is refused, or if the server refuses the connection (a ban; a chat for members only).

    python chat_client.py [URL] [--name NAME] [--username USER --password PASSWORD [--register]]
                          [--room ROOM | --to USER_ID] [--text TEXT] [--once]

Needs Python 3.11 or later and python-socketio with aiohttp (examples/python/requirements.txt).
"""

import argparse
import asyncio
import contextlib
import sys
import threading
import urllib.parse
import uuid

import aiohttp
import socketio

DEFAULT_URL = "http://127.0.0.1:4000"
DEFAULT_NAME = "Python example"
# A client seeing a room for the first time picks where to start; this one shows the last few
# messages as context. Older pages are one POST /api/history away.
BACKLOG = 10
ACK_TIMEOUT = 5.0
# Attempts to send one message, waiting 1 s, 2 s, ... in between: long enough to ride out a
# reconnect.
SEND_ATTEMPTS = 5


def say(*parts):
    # Flushed at once so a person (or a test reading the pipe) sees lines as they happen.
    print(*parts, flush=True)


class Refused(Exception):
    """The server answered a request with `{status: "error"}`."""

    def __init__(self, error):
        super().__init__(f"{error['code']}: {error['message']}")
        self.code = error["code"]


class Timeline:
    """Each room's messages and changes (edits, deletions) exactly once and in `seq` order,
    however they arrive: a change takes the room's next `seq` like a message.

    Broadcasts, `sync` replies and acknowledgements can overlap and interleave. Keyed by
    (room, seq), anything at or below a room's cursor is a repeat and dropped; anything past the
    next expected number waits until the gap before it is filled.
    """

    def __init__(self):
        self.cursor = {}  # room -> highest seq shown
        self.held = {}  # room -> {seq: message or change} that arrived ahead of a gap

    def start(self, room, seq):
        """Sets where a room begins, unless it is known already (a reconnect keeps its place)."""
        self.cursor.setdefault(room, seq)

    def add(self, entry):
        """Takes a message or a change and returns those that can now be shown, in order."""
        room, seq = entry["room"], entry["seq"]
        cursor = self.cursor.setdefault(room, seq - 1)
        if seq <= cursor:
            return []
        held = self.held.setdefault(room, {})
        held[seq] = entry
        ready = []
        while cursor + 1 in held:
            cursor += 1
            ready.append(held.pop(cursor))
        self.cursor[room] = cursor
        return ready

    def has_gap(self):
        return any(self.held.values())

    def cursors(self):
        return [{"room": room, "afterSeq": seq} for room, seq in self.cursor.items()]


class ChatClient:
    def __init__(self, url, name):
        self.url = url
        self.name = name
        self.user = None
        # Presented on reconnects so the server knows it is the same person.
        self.token = None
        self.timeline = Timeline()
        self.syncing = None
        self.closing = False
        self.reconnecting = None
        self.welcomed = asyncio.get_running_loop().create_future()
        # Resolved with the reason when the server refuses a (re)connection: that is final.
        self.refused = asyncio.get_running_loop().create_future()
        # clientId -> future resolved when the server broadcasts that message back to us.
        self.echoes = {}
        self.sio = socketio.AsyncClient()
        self.sio.on("welcome", self.on_welcome)
        self.sio.on("chatMessage", self.on_chat_message)
        self.sio.on("messageChanged", self.show)
        self.sio.on("presence", self.on_presence)
        self.sio.on("typing", self.on_typing)
        self.sio.on("roomHead", self.on_room_head)
        self.sio.on("invited", self.on_invited)
        self.sio.on("chatError", self.on_chat_error)
        self.sio.on("connect_error", self.on_connect_error)
        self.sio.on("disconnect", self.on_disconnect)

    def auth(self):
        # Called on every (re)connection attempt, so a reconnect resumes the session.
        return {"token": self.token} if self.token else {"name": self.name}

    async def sign_in(self, action, username, password, name=None):
        """`login` or `register` over HTTP; the session's token then goes in `auth`."""
        fields = {"username": username, "password": password, **({"name": name} if name else {})}
        url = urllib.parse.urljoin(self.url, f"/api/{action}")
        async with aiohttp.ClientSession() as http, http.post(url, data=fields) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
        if response.status != 200:
            raise Refused(answer or {"code": response.status, "message": "no answer"})
        self.token = answer["token"]
        user, account = answer["user"], answer["account"]
        say(f"{action}: you are {user['name']} (@{account['username']}, {account['role']})")

    async def connect(self):
        await self.sio.connect(self.url, auth=self.auth)

    async def close(self):
        self.closing = True
        if self.reconnecting:
            self.reconnecting.cancel()
        await self.sio.shutdown()

    async def reconnect(self):
        # python-socketio retries by itself after a network failure, but not after the server
        # ended the session on purpose (it does so to every client when it shuts down).
        delay = 1
        while not self.closing:
            await asyncio.sleep(delay)
            try:
                await self.sio.connect(self.url, auth=self.auth)
                return
            except socketio.exceptions.ConnectionError as error:
                say(f"reconnect failed ({error}); trying again")
                delay = min(delay * 2, 10)

    # Events from the server. Handlers that touch the timeline do not await, so they run to
    # completion in the order the events arrived.

    def on_welcome(self, welcome):
        self.user = welcome["user"]
        self.token = welcome["token"]
        rooms = ", ".join(f"#{r['name']} (last seq {r['lastSeq']})" for r in welcome["rooms"])
        account = welcome.get("account")
        who = f"{self.user['id']}, @{account['username']}" if account else self.user["id"]
        say(
            f"welcome: you are {self.user['name']} ({who}); rooms: {rooms}; "
            f"messages up to {welcome['maxMessageChars']} characters"
        )
        for room in welcome["rooms"]:
            self.timeline.start(room["name"], max(0, room["lastSeq"] - BACKLOG))
        self.catch_up_soon()
        if not self.welcomed.done():
            self.welcomed.set_result(welcome)

    def on_chat_message(self, message):
        self.show(message)
        echo = self.echoes.get(message.get("clientId"))
        if echo and not echo.done() and self.user and message["author"]["id"] == self.user["id"]:
            echo.set_result(message)

    def on_presence(self, presence):
        joined = ", ".join(member["name"] for member in presence["joined"]) or "-"
        left = ", ".join(member["name"] for member in presence["left"]) or "-"
        say(f"presence #{presence['room']}: {presence['online']} online; joined {joined}; left {left}")

    def on_typing(self, typing):
        say(f"typing #{typing['room']}: {typing['user']['name']}")

    def on_room_head(self, head):
        # Live delivery may have missed messages up to lastSeq (a cluster's fan-out was down).
        if self.timeline.cursor.get(head["room"], head["lastSeq"]) < head["lastSeq"]:
            self.catch_up_soon()

    def on_invited(self, invited):
        room = invited["room"]
        if room.get("people"):
            say(f"direct: {invited['by']['name']} opened a conversation with you (#{room['name']})")
        else:
            private = " (private)" if room.get("private") else ""
            say(f"invited: {invited['by']['name']} brought you into #{room['name']}{private}")
        # A room like the ones of the welcome, but all of it is new to us: catch up from the start.
        self.timeline.start(room["name"], 0)
        # A catch-up already under way may have asked before the room was known.
        if self.syncing and not self.syncing.done():
            self.syncing.add_done_callback(lambda _: self.catch_up_soon())
        else:
            self.catch_up_soon()

    def on_chat_error(self, error):
        say(f"refused: {error['code']}: {error['message']}")

    def on_connect_error(self, data):
        # Either the network failed (a string; python-socketio retries) or the server refused the
        # handshake with a reason (`{message}`), such as a ban or a name that is too long.
        if isinstance(data, dict):
            say(f"connection refused: {data.get('message')}")
            if not self.refused.done():
                self.refused.set_result(data.get("message"))
        else:
            say(f"could not connect: {data}")

    def on_disconnect(self, reason=None):
        say(f"disconnected ({reason})")
        # Whichever way the connection comes back, its welcome starts a catch-up.
        if reason == self.sio.reason.SERVER_DISCONNECT and not self.closing:
            self.reconnecting = asyncio.ensure_future(self.reconnect())

    # Catch-up.

    def show(self, entry):
        """Prints a message or a change (`messageChanged`) once its turn in the room comes."""
        for ready in self.timeline.add(entry):
            say(f"[#{ready['room']} {ready['seq']}] {describe(ready, self.user)}")
        if self.timeline.has_gap():
            self.catch_up_soon()

    def catch_up_soon(self):
        if self.syncing is None or self.syncing.done():
            self.syncing = asyncio.ensure_future(self.catch_up())

    async def catch_up(self):
        """Asks for everything after each cursor until no room has more and no gap is left."""
        try:
            while True:
                reply = await self.request("sync", {"rooms": self.timeline.cursors()})
                messages, changes = reply["messages"], reply.get("changes", [])
                say(f"sync: {len(messages)} message(s) and {len(changes)} change(s) to catch up on")
                # Messages come as they are now (edited, or a tombstone); the changes are for
                # those shown before. Both take their turn by seq.
                for entry in messages + changes:
                    self.show(entry)
                # `more`: the server cut the reply short (a page per room, a size per reply).
                if reply.get("more"):
                    continue
                # A gap left after a pass that brought nothing new is not this sync's to fill;
                # the next broadcast or reconnect tries again.
                if not messages + changes or not self.timeline.has_gap():
                    return
        except (socketio.exceptions.SocketIOError, Refused) as error:
            # The next welcome (after a reconnect) starts another catch-up.
            say(f"sync failed: {error!r}")

    # Requests.

    async def request(self, event, payload):
        ack = await self.sio.call(event, payload, timeout=ACK_TIMEOUT)
        if ack["status"] != "ok":
            raise Refused(ack["error"])
        return ack

    async def join(self, room):
        """Joins `room` unless this session is in it already; returns its canonical name."""
        if room in self.timeline.cursor:
            return room
        reply = await self.request("joinRoom", {"room": room})
        info = reply["room"]
        names = ", ".join(member["name"] for member in reply["members"])
        say(f"joined #{info['name']} (last seq {info['lastSeq']}); online: {names}")
        return await self.entered(info)

    async def open_direct(self, user_id):
        """Opens the direct conversation with the user `user_id`; returns its room's name."""
        info = (await self.request("openDirect", {"with": [user_id]}))["room"]
        others = ", ".join(p["name"] for p in info["people"] if p["id"] != self.user["id"])
        say(f"direct: with {others} in #{info['name']} (last seq {info['lastSeq']})")
        return await self.entered(info)

    async def entered(self, info):
        """A room this session is now in: caught up on from its last few messages."""
        if info["name"] in self.timeline.cursor:
            return info["name"]
        self.timeline.start(info["name"], max(0, info["lastSeq"] - BACKLOG))
        # A catch-up already under way may have asked before the room was known.
        if self.syncing:
            await self.syncing
        self.catch_up_soon()
        await self.syncing
        return info["name"]

    async def send(self, text, room):
        """Sends one message, retrying with the same clientId so it is stored at most once."""
        client_id = str(uuid.uuid4())
        self.echoes[client_id] = asyncio.get_running_loop().create_future()
        payload = {"text": text, "room": room, "clientId": client_id}
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                ack = await self.request("chatMessage", payload)
            except socketio.exceptions.SocketIOError as error:
                say(f"send attempt {attempt} got no ack ({error!r}); retrying, same clientId")
                await asyncio.sleep(attempt)
                continue
            except Refused as refusal:
                if refusal.code != "rate_limited" or attempt == SEND_ATTEMPTS:
                    raise
                say(f"rate limited; retrying in {attempt} s")
                await asyncio.sleep(attempt)
                continue
            message = ack["message"]
            say(f"ack: stored as #{message['room']} {message['seq']} (clientId {client_id})")
            self.show(message)
            return client_id
        raise TimeoutError(f"no acknowledgement after {SEND_ATTEMPTS} attempts")


def describe(entry, me):
    """One line for a message or a change, after its `[#room seq]`."""
    if "target" in entry:
        if entry["change"] == "edited":
            return f"#{entry['target']} edited: {entry['text']}"
        if entry["change"] in ("reacted", "unreacted"):
            verb = "reacted" if entry["change"] == "reacted" else "took back"
            return f"#{entry['target']} {entry['user']['name']} {verb} {entry['emoji']}"
        by = "removed by an admin" if entry["by"] == "admin" else "deleted by its author"
        return f"#{entry['target']} {by}"
    mine = " (you)" if me and entry["author"]["id"] == me["id"] else ""
    deleted = {"author": "(message deleted)", "admin": "(removed by an admin)"}
    text = deleted.get(entry.get("deleted")) or (
        f"{entry['text']} (edited)" if entry.get("editedAt") else entry["text"]
    )
    # Reactions as the message had them when it was read: `(👍 2, 🎉 1)`.
    counts = [f"{r['emoji']} {len(r['by'])}" for r in entry.get("reactions", [])]
    reactions = f" ({', '.join(counts)})" if counts else ""
    return f"{entry['author']['name']}{mine}: {text}{reactions}"


def read_stdin(loop, lines):
    # A daemon thread: a blocked read never keeps the process from exiting.
    for line in sys.stdin:
        loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(lines.put_nowait, None)


async def run(args):
    client = ChatClient(args.url, args.name or DEFAULT_NAME)
    try:
        if args.username is not None:
            action = "register" if args.register else "login"
            try:
                name = args.name if args.register else None
                await client.sign_in(action, args.username, args.password, name)
            except Refused as refusal:
                say(f"{action} refused: {refusal}")
                return 1
            except aiohttp.ClientError as error:
                say(f"gave up: {action} failed: {error!r}")
                return 1
        chatting = asyncio.ensure_future(chat(client, args))
        # A refused reconnection (say, the user was banned) ends the run as well.
        await asyncio.wait([chatting, client.refused], return_when=asyncio.FIRST_COMPLETED)
        chatting.cancel()  # if still under way
        with contextlib.suppress(asyncio.CancelledError):
            return await chatting
        return 1
    finally:
        await client.close()


async def chat(client, args):
    try:
        await client.connect()
    except socketio.exceptions.ConnectionError as error:
        if not client.refused.done():  # a refusal has been printed already
            say(f"gave up connecting to {args.url}: {error}")
        return 1
    try:
        await asyncio.wait_for(client.welcomed, args.timeout)
        await client.syncing
        room = await client.open_direct(args.to) if args.to else await client.join(args.room)
        client_id = await client.send(args.text, room)
        if args.once:
            echo = await asyncio.wait_for(client.echoes[client_id], args.timeout)
            say(f"echo: our message came back as #{echo['room']} {echo['seq']}")
            return 0
        lines = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threading.Thread(target=read_stdin, args=(loop, lines), daemon=True).start()
        while (line := await lines.get()) is not None:
            if line.strip():
                try:
                    await client.send(line, room)
                except Refused as refusal:
                    say(f"refused: {refusal}")
        return 0
    except TimeoutError as error:  # asyncio's is the same class since Python 3.11
        say(f"gave up: {error or f'nothing came back within {args.timeout} s'}")
        return 1
    except Refused as refusal:
        say(f"refused: {refusal}")
        return 1


def main():
    parser = argparse.ArgumentParser(description="Example Socket.io client for the chat.")
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument(
        "--name", help=f"display name (default {DEFAULT_NAME}; with --register, the username)"
    )
    parser.add_argument("--username", help="log in to this account instead of being a guest")
    parser.add_argument("--password", help="the account's password (never printed)")
    parser.add_argument("--register", action="store_true", help="create the account, then use it")
    parser.add_argument("--room", default="general", help="room to post in (default general)")
    parser.add_argument("--to", help="a user id: post in the direct conversation with them")
    parser.add_argument("--text", default="Hello from the Python example", help="first message")
    parser.add_argument("--once", action="store_true", help="exit once the message is echoed")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for replies")
    args = parser.parse_args()
    if (args.username is None) != (args.password is None) or (args.register and not args.username):
        parser.error("--username and --password go together (and --register needs them)")
    try:
        sys.exit(asyncio.run(run(args)))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
