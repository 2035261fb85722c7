"""A loopback TCP proxy that delays every byte by a fixed one-way time.

The kernel's netem is not available here, so a slow link is simulated in user
space: each chunk read from one side is written to the other ``delay``
seconds after it arrived, in order, so the added round-trip time is
2 x delay. Memory is bounded: a direction holding more than ``max_buffer``
bytes stops reading from its sender (TCP back-pressure). Only loopback
addresses are accepted; the proxy exits by itself after ``--lifetime``.

    python -m benchmarks.latency_proxy --listen 0 --target 11110 --delay-ms 25
prints ``READY <port>`` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import sys

__all__ = ["main"]


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, max_buffer: int
) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    buffered = 0
    room = asyncio.Event()
    room.set()

    async def release() -> None:
        nonlocal buffered
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            buffered -= len(data)
            if buffered <= max_buffer:
                room.set()
            await writer.drain()

    releaser = asyncio.create_task(release())
    try:
        while True:
            await room.wait()
            data = await reader.read(262144)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
            buffered += len(data)
            if buffered > max_buffer:
                room.clear()
        await releaser
    except (ConnectionError, OSError):
        releaser.cancel()


async def _serve(listen: int, target: int, delay: float, lifetime: float, max_buffer: int) -> None:
    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        for w in (cw, sw):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            _pump(cr, sw, delay, max_buffer), _pump(sr, cw, delay, max_buffer),
            return_exceptions=True,
        )
        for w in (cw, sw):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await asyncio.sleep(lifetime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--delay-ms", type=float, default=25.0, help="one-way delay")
    ap.add_argument("--lifetime", type=float, default=1800)
    ap.add_argument("--max-buffer", type=int, default=8 << 20)
    a = ap.parse_args(argv)
    if not ipaddress.ip_address(a.target_host).is_loopback:
        sys.exit("latency_proxy: the target must be a loopback address")
    asyncio.run(_serve(a.listen, a.target, a.delay_ms / 1000, a.lifetime, a.max_buffer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
