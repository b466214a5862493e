#!/usr/bin/env python3
"""A SOCKS5 proxy (CONNECT, no login) for the relay's tests that says what
happens on each connection it accepts, numbered from 1, one line each:
"greeted N", "request N", "closed N"; "pipelined N" when the request was
already there as it read the greeting (sent together with it). UDP
ASSOCIATE is refused ("command not supported", "udp refused N"). With
--stale-after MS it hangs up ("hung up N") on a request that comes more
than MS after the connection's greeting: a proxy whose idle timeout ends a
greeted connection just as a request is sent on it. With --refuse-greeting
N it answers connection N's greeting with "no acceptable method" ("refused
N"). With --http it is an HTTP proxy instead (CONNECT, no login): "accepted
N" as it accepts, "request N" for the CONNECT, "closed N". With
--answer-and-close TEXT it plays a server that answers and hangs up at
once: CONNECT's reply, TEXT (may be empty) and its end of data leave in one
segment, and nothing is connected to.

    recording_socks5.py HOST PORT [--stale-after MS] [--refuse-greeting N]
                        [--http] [--answer-and-close TEXT]
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


def relay(conn, upstream):
    back = threading.Thread(target=pump, args=(upstream, conn))
    back.start()
    pump(conn, upstream)
    back.join()
    upstream.close()


def serve_http(conn, number):
    try:
        say(f"accepted {number}")
        head = b""
        while b"\r\n\r\n" not in head:
            more = conn.recv(4096)
            if not more or len(head) > 8192:
                raise EOFError
            head += more
        method, target = head.split(b" ")[:2]
        if method != b"CONNECT":
            raise EOFError
        host, port = target.decode().rsplit(":", 1)
        say(f"request {number}")
        upstream = socket.create_connection((host, int(port)), timeout=5)
        upstream.settimeout(None)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n"
                     + head.split(b"\r\n\r\n", 1)[1])
        relay(conn, upstream)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        conn.close()
        say(f"closed {number}")


def answer_and_close(conn, text):
    # Corked, the reply and TEXT wait; the end of data then rides on the
    # same segment (the kernel puts the FIN on unsent data).
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("0.0.0.0")
                 + b"\x00\x00" + text.encode())
    conn.shutdown(socket.SHUT_WR)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
    while conn.recv(4096):
        pass


def serve(conn, number, stale_after, refuse, answer):
    try:
        head = read_exactly(conn, 2)
        read_exactly(conn, head[1])
        if number == refuse:
            conn.sendall(b"\x05\xff")
            say(f"refused {number}")
            return
        try:
            if conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                say(f"pipelined {number}")
        except BlockingIOError:
            pass
        conn.sendall(b"\x05\x00")
        greeted = time.monotonic()
        say(f"greeted {number}")
        request = read_exactly(conn, 4)
        if request[1] == 3 and request[3] == 1:
            read_exactly(conn, 6)
            conn.sendall(b"\x05\x07\x00\x01" + bytes(6))
            say(f"udp refused {number}")
            return
        if request[1] != 1 or request[3] != 1:
            raise EOFError  # CONNECT to an IPv4 address only
        host = socket.inet_ntoa(read_exactly(conn, 4))
        port = int.from_bytes(read_exactly(conn, 2), "big")
        if stale_after and time.monotonic() - greeted > stale_after / 1000:
            say(f"hung up {number}")
            return
        say(f"request {number}")
        if answer is not None:
            answer_and_close(conn, answer)
            return
        upstream = socket.create_connection((host, port), timeout=5)
        upstream.settimeout(None)
        bound_ip, bound_port = upstream.getsockname()
        conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(bound_ip)
                     + bound_port.to_bytes(2, "big"))
        relay(conn, upstream)
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
    parser.add_argument("--refuse-greeting", type=int, default=0)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--answer-and-close", default=None)
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
        if args.http:
            work = (serve_http, (conn, number))
        else:
            work = (serve, (conn, number, args.stale_after,
                            args.refuse_greeting, args.answer_and_close))
        threading.Thread(target=work[0], args=work[1], daemon=True).start()


if __name__ == "__main__":
    main()
