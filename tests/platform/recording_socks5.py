#!/usr/bin/env python3
"""A SOCKS5 proxy (CONNECT, no login) for the relay's tests that says what
happens on each connection it accepts, numbered from 1, one line each:
"greeted N", "request N", "closed N". With --stale-after MS it hangs up
("hung up N") on a request that comes more than MS after the connection's
greeting: a proxy whose idle timeout ends a greeted connection just as a
request is sent on it.

    recording_socks5.py HOST PORT [--stale-after MS]
"""
import argparse
import socket
import threading
import time

lock = threading.Lock()


def say(text):
    with lock:
        print(text, flush=True)


def read_exactly(conn, size):
    data = b""
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(conn, number, stale_after):
    try:
        head = read_exactly(conn, 2)
        read_exactly(conn, head[1])
        conn.sendall(b"\x05\x00")
        greeted = time.monotonic()
        say(f"greeted {number}")
        request = read_exactly(conn, 4)
        if request[1] != 1 or request[3] != 1:
            raise EOFError  # CONNECT to an IPv4 address only
        host = socket.inet_ntoa(read_exactly(conn, 4))
        port = int.from_bytes(read_exactly(conn, 2), "big")
        if stale_after and time.monotonic() - greeted > stale_after / 1000:
            say(f"hung up {number}")
            return
        say(f"request {number}")
        upstream = socket.create_connection((host, port), timeout=5)
        upstream.settimeout(None)
        bound_ip, bound_port = upstream.getsockname()
        conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(bound_ip)
                     + bound_port.to_bytes(2, "big"))
        back = threading.Thread(target=pump, args=(upstream, conn))
        back.start()
        pump(conn, upstream)
        back.join()
        upstream.close()
    except (EOFError, OSError):
        pass
    finally:
        conn.close()
        say(f"closed {number}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--stale-after", type=float, default=0)
    args = parser.parse_args()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.host, args.port))
    server.listen(64)
    say("listening")
    number = 0
    while True:
        conn, _ = server.accept()
        number += 1
        threading.Thread(target=serve, args=(conn, number, args.stale_after),
                         daemon=True).start()


if __name__ == "__main__":
    main()
