"""The far side of a link under test: ``python -m wsbench.link PROFILE -- python -m THIS``.

TCP on 9000, one request per connection, a line each: ``down N`` sends N bytes back; ``up``
reads until the client's EOF and answers with the count and the rate (Mbit/s) from the first
fifth of the bytes to the last, past TCP's slow start; ``udp`` answers with the number of
datagrams received on UDP 9001 so far. Prints ``peer ready`` once both ports listen.
"""

import asyncio
import time

PORT, UDP_PORT = 9000, 9001


class Datagrams(asyncio.DatagramProtocol):
    """Counts what arrives."""

    received = 0

    def datagram_received(self, data: bytes, addr: object) -> None:
        """One more."""
        Datagrams.received += 1


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One request, one answer."""
    command = (await reader.readline()).decode().split()
    if command[:1] == ["down"]:
        writer.write(b"x" * int(command[1]))
    elif command[:1] == ["up"]:
        expected, count, since, at = int(command[1]), 0, 0, 0.0
        while chunk := await reader.read(1 << 16):
            count += len(chunk)
            if not since and count >= expected / 5:
                since, at = count, time.perf_counter()
        rate = (count - since) * 8 / (time.perf_counter() - at) / 1e6
        writer.write(f"{count} {rate}\n".encode())
    elif command[:1] == ["udp"]:
        writer.write(f"{Datagrams.received}\n".encode())
    await writer.drain()
    writer.close()


async def main() -> None:
    """Listen on both ports until stopped."""
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Datagrams, local_addr=("0.0.0.0", UDP_PORT))
    server = await asyncio.start_server(handle, "0.0.0.0", PORT)
    print("peer ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
