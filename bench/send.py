#!/usr/bin/env python3
"""Sends one message file COUNT times over SESSIONS concurrent SMTP sessions
(each session sends its share, one connection each), for loads smtp-source
cannot make: a message with real text (smtp-source writes lines of X).

    bench/send.py HOST:PORT COUNT SESSIONS FILE MAIL_FROM RCPT [RCPT...]

Exits non-zero if any message was not accepted with a 2xx reply.
"""
import smtplib
import sys
import threading


def main():
    hostport, count, sessions, path, mail_from, *rcpts = sys.argv[1:]
    host, port = hostport.rsplit(":", 1)
    count, sessions = int(count), int(sessions)
    with open(path, "rb") as f:
        message = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    failures = []

    def session(n):
        try:
            with smtplib.SMTP(host, int(port), local_hostname="bench.local", timeout=120) as s:
                for _ in range(n):
                    refused = s.sendmail(mail_from, rcpts, message)
                    if refused:
                        failures.append(refused)
        except Exception as e:  # a refused message or a dropped session
            failures.append(e)

    share = [count // sessions + (1 if i < count % sessions else 0) for i in range(sessions)]
    threads = [threading.Thread(target=session, args=(n,)) for n in share if n]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print(f"send.py: {len(failures)} failures, first: {failures[0]!r}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
