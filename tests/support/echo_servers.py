#!/usr/bin/env python3
"""TCP and UDP servers that say who they saw, for end-to-end tests.

usage: echo_servers.py ADDRESS PORT LOG

TCP on ADDRESS:PORT, one line per request:
  "echo TEXT"   answered "PEER_IP TEXT"
  "sink N"      then N bytes; answered "PEER_IP got N"
  "source N"    answered with N bytes, then the connection closes
UDP on ADDRESS:PORT: each datagram is answered "PEER_IP " + its payload.
Every TCP connection, echo and datagram appends "tcp PEER_IP",
"echo PEER_IP" or "udp PEER_IP" to LOG (a test counts who reached the
servers, and how far a connection got). Prints "ready".
"""
import socket
import sys
import threading

address, port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log_lock = threading.Lock()


def note(kind, peer):
    with log_lock, open(log_path, "a") as log:
        log.write(f"{kind} {peer}\n")


def serve_tcp(conn, peer):
    note("tcp", peer)
    with conn:
        reader = conn.makefile("rb")
        for line in reader:
            words = line.decode(errors="replace").strip().split(" ", 1)
            if words[0] == "echo":
                note("echo", peer)
                conn.sendall(f"{peer} {words[1] if len(words) > 1 else ''}\n".encode())
            elif words[0] == "sink":
                left = int(words[1])
                while left > 0:
                    chunk = reader.read(min(left, 1 << 20))
                    if not chunk:
                        return
                    left -= len(chunk)
                conn.sendall(f"{peer} got {words[1]}\n".encode())
            elif words[0] == "source":
                left = int(words[1])
                block = b"x" * (1 << 20)
                while left > 0:
                    n = min(left, len(block))
                    conn.sendall(block[:n])
                    left -= n
                return


def tcp_main(listener):
    while True:
        conn, (peer, _) = listener.accept()
        threading.Thread(target=serve_tcp, args=(conn, peer), daemon=True).start()


def udp_main(sock):
    while True:
        data, (peer, peer_port) = sock.recvfrom(65535)
        note("udp", peer)
        sock.sendto(peer.encode() + b" " + data, (peer, peer_port))


tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((address, port))
tcp.listen(64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
udp.bind((address, port))
threading.Thread(target=tcp_main, args=(tcp,), daemon=True).start()
threading.Thread(target=udp_main, args=(udp,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
