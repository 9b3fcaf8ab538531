"""I/O between a command and the SSH channel: byte accounting for the idle timer, the
``ssh_disconnect_after`` fault, and a blocking facade for commands that run in a worker thread."""

from __future__ import annotations

import asyncio


class CommandError(Exception):
    """A command failed: ``message`` goes to stderr, ``status`` is the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.message = message
        self.status = status


class ForceDisconnect(Exception):
    """Close the whole connection after writing ``message`` (may be empty) to stderr, as the
    platform does when a write hits the file size limit."""

    def __init__(self, message=""):
        super().__init__(message)
        self.message = message


class ChannelClosed(Exception):
    """The client went away, or the connection is being closed by the server."""


class ChannelIO:
    """Async access to one exec channel (binary streams)."""

    def __init__(self, session, process, disconnect_after=None):
        self.session = session
        self.process = process
        self.disconnect_after = disconnect_after
        self.out_bytes = 0
        self.in_bytes = 0

    async def _send(self, stream, data):
        if not data:
            return
        if self.session.closing:
            raise ChannelClosed()
        try:
            stream.write(data)
            await stream.drain()
        except (BrokenPipeError, ConnectionError, OSError) as exc:
            raise ChannelClosed() from exc
        except Exception as exc:  # asyncssh raises its own errors on a closed channel
            if self.session.closing or self.process.channel.is_closing():
                raise ChannelClosed() from exc
            raise
        self.session.touch()

    async def write(self, data):
        """Write to stdout; applies the ``ssh_disconnect_after`` fault (counting stdout bytes)."""
        if self.disconnect_after is not None and self.out_bytes + len(data) >= self.disconnect_after:
            head = data[:max(self.disconnect_after - self.out_bytes, 0)]
            if head:
                await self._send(self.process.stdout, head)
                self.out_bytes += len(head)
            await self.session.force_close(message=None)
            raise ChannelClosed()
        await self._send(self.process.stdout, data)
        self.out_bytes += len(data)

    async def write_err(self, data):
        if isinstance(data, str):
            data = data.encode()
        await self._send(self.process.stderr, data)

    async def read(self, size=65536):
        """Read up to ``size`` bytes of stdin; b'' at end of input."""
        if self.session.closing:
            raise ChannelClosed()
        try:
            data = await self.process.stdin.read(size)
        except (BrokenPipeError, ConnectionError, OSError) as exc:
            raise ChannelClosed() from exc
        except Exception as exc:
            if self.session.closing or self.process.channel.is_closing():
                raise ChannelClosed() from exc
            raise
        if data:
            self.in_bytes += len(data)
            self.session.touch()
        elif self.session.closing:
            raise ChannelClosed()
        return data


class SyncIO:
    """Blocking facade over :class:`ChannelIO` for code running in a worker thread."""

    def __init__(self, aio, loop):
        self._aio = aio
        self._loop = loop

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        if data:
            self._call(self._aio.write(data))

    def err(self, text):
        if text:
            self._call(self._aio.write_err(text))

    def read(self, size=65536):
        return self._call(self._aio.read(size))

    def touch(self):
        """Count as activity (long computations that make progress)."""
        self._aio.session.touch()
