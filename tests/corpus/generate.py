#!/usr/bin/env python3
"""Writes the labelled corpus: one NNN-name.eml and NNN-name.toml per case.

Content rules are labelled by hand in CASES below. The four structural rules
(silent-copy, route-via-proper-officer, keep-manager-informed, press-contact)
are labelled by the small oracle in this file, written from the policy issue's
definitions independently of the Rust engine. Run from this folder:
    python3 generate.py
"""
import base64, os, quopri, tomllib
from email.header import Header
from email.utils import formataddr

import sys
HERE = os.path.dirname(os.path.abspath(__file__))
# python3 generate.py [CASES_MODULE OUTPUT_DIR [DIRECTORY_TOML]]
DIRECTORY = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else os.path.join(HERE, "directory.toml")
DIR = tomllib.load(open(DIRECTORY, "rb"))
DOM = DIR["council"]["domains"][0]
PEOPLE = DIR["people"]
BY_ADDR = {a.lower(): i for i, p in enumerate(PEOPLE) for a in p["addresses"]}
MEDIA = DIR["council"]["media_domains"]
EXEMPTIONS = DIR.get("exemptions", [])

def person(addr):
    return BY_ADDR.get(addr.lower())

def role(i):
    return None if i is None else PEOPLE[i]["role"]

def junior(i):
    p = PEOPLE[i]
    return p["role"] == "officer" and not set(p.get("positions", [])) & {"proper-officer", "deputy-proper-officer", "senior"}

def is_po(i):
    return i is not None and "proper-officer" in PEOPLE[i].get("positions", [])

def is_media(addr):
    d = addr.split("@")[1].lower()
    return any(d == m or d.endswith("." + m) for m in MEDIA)

def structural(case):
    """The structural rules, from the issue's table."""
    frm = case["from"][1]
    sender = person(frm)
    visible = [a for _, a in case["to"] + case.get("cc", [])]
    rcpts = visible + [a for _, a in case.get("bcc", [])]
    vis_people = {person(a) for a in visible}
    rules = []
    rp = [(a, person(a)) for a in rcpts if person(a) != sender or sender is None]
    if role(sender) == "officer":
        vis_cllr = [p for a, p in rp if role(p) == "councillor" and a in visible]
        bcc_cllr = [p for a, p in rp if role(p) == "councillor" and a not in visible and p not in vis_people]
        if vis_cllr and bcc_cllr:
            rules.append("silent-copy")
    if role(sender) == "councillor":
        po_present = any(is_po(p) for _, p in rp)
        officers = [p for _, p in rp if role(p) == "officer" and not is_po(p)]
        at = case.get("at", "2026-11-22")[:10]
        def exempt(o):
            return any(person(e["councillor"]) == sender and person(e["officer"]) == o
                       and at <= e["until"] and e["matter"].lower() in case["subject"].lower() for e in EXEMPTIONS)
        if officers and not po_present and any(not exempt(o) for o in officers):
            rules.append("route-via-proper-officer")
        present = {p for _, p in rp}
        for _, p in rp:
            if role(p) == "officer" and junior(p):
                m = person(PEOPLE[p]["manager"])
                if m not in present and m != sender:
                    rules.append("keep-manager-informed")
                    break
        if any(is_media(a) for a, _ in rp):
            rules.append("press-contact")
    return rules

DISCLAIMER = ("This email and any attachments are confidential and intended solely for the addressee. "
              "If you have received this email in error please notify the sender immediately and delete it. "
              f"Emails to and from {DIR['council']['name']} may be monitored and may be disclosed under the "
              "Freedom of Information Act 2000.")

def header_addr(name, addr):
    if name and not name.isascii():
        return f"{Header(name, 'utf-8').encode()} <{addr}>"
    return formataddr((name, addr)) if name else addr

def quoted(style, who, when, text):
    if style == "gmail":
        lines = "\n".join("> " + l if l else ">" for l in text.split("\n"))
        return f"\n\nOn {when}, {who[0]} <{who[1]}> wrote:\n{lines}\n"
    if style == "outlook":
        return (f"\n\n________________________________\nFrom: {who[0]} <{who[1]}>\nSent: {when}\n"
                f"To: Millbrook Town Council\nSubject: {text.split(chr(10))[0]}\n\n" + "\n".join(text.split("\n")[1:]) + "\n")
    if style == "forward":
        first, rest = text.split("\n", 1)
        return (f"\n\n---------- Forwarded message ---------\nFrom: {who[0]} <{who[1]}>\nDate: {when}\n"
                f"Subject: {first}\nTo: <clerk@{DOM}>\n\n{rest}\n")
    raise ValueError(style)

def render(case):
    body = case["body"].strip("\n")
    if case.get("quote"):
        body += quoted(*case["quote"])
    if case.get("disclaimer"):
        body += "\n\n" + DISCLAIMER
    subject = case["subject"]
    subj = subject if subject.isascii() else Header(subject, "utf-8").encode()
    h = [f"From: {header_addr(*case['from'])}",
         "To: " + ", ".join(header_addr(n, a) for n, a in case["to"])]
    if case.get("cc"):
        h.append("Cc: " + ", ".join(header_addr(n, a) for n, a in case["cc"]))
    h += [f"Subject: {subj}", f"Date: Mon, 16 Nov 2026 09:{len(case['id']) % 60:02d}:00 +0000",
          f"Message-ID: <{case['id']}@corpus.test>", "MIME-Version: 1.0"]
    h += case.get("headers", [])
    fmt = case.get("fmt", "plain")
    def html_of(text):
        paras = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
        return f"<html><head><style>p{{margin:0}}</style></head><body><div dir=\"ltr\">{paras}</div></body></html>"
    if fmt == "plain":
        h += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        out = "\n".join(h) + "\n\n" + body + "\n"
        return out.replace("\n", "\r\n").encode("utf-8")
    if fmt == "qp":
        h += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"]
        enc = quopri.encodestring(body.replace("\n", "\r\n").encode("utf-8")).decode("ascii")
        return ("\r\n".join(h) + "\r\n\r\n" + enc.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n").encode("ascii")
    if fmt == "html":
        h += ["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64"]
        b = base64.encodebytes(html_of(body).encode("utf-8")).decode("ascii")
        return ("\r\n".join(h) + "\r\n\r\n" + b.replace("\n", "\r\n")).encode("ascii")
    if fmt == "alt":
        h += ['Content-Type: multipart/alternative; boundary="alt-boundary-1"']
        plain = body.replace("\n", "\r\n")
        html = html_of(body)
        parts = ("--alt-boundary-1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                 + plain + "\r\n--alt-boundary-1\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                 + quopri.encodestring(html.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
                 + "\r\n--alt-boundary-1--\r\n")
        return ("\r\n".join(h) + "\r\n\r\n" + parts).encode("utf-8")
    if fmt == "attach":
        h += ['Content-Type: multipart/mixed; boundary="mixed-1"']
        pdf = base64.encodebytes(b"%PDF-1.4\n% corpus attachment\n" * 8).decode("ascii").replace("\n", "\r\n")
        parts = ("--mixed-1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                 + body.replace("\n", "\r\n") + "\r\n--mixed-1\r\nContent-Type: application/pdf; name=\"document.pdf\"\r\n"
                 "Content-Disposition: attachment; filename=\"document.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                 + pdf + "\r\n--mixed-1--\r\n")
        return ("\r\n".join(h) + "\r\n\r\n" + parts).encode("utf-8")
    raise ValueError(fmt)

def toml_list(xs):
    return "[" + ", ".join('"' + x + '"' for x in xs) + "]"

OUT = HERE

def write(n, case):
    name = f"{n:03d}-{case['id']}"
    with open(os.path.join(OUT, name + ".eml"), "wb") as f:
        f.write(render(case))
    rcpts = [a for _, a in case["to"] + case.get("cc", []) + case.get("bcc", [])]
    rules = sorted(set(structural(case) + case.get("rules", [])))
    hold = {"instruction-to-staff", "party-political-work", "undue-pressure", "criticism-not-private",
            "confidential-to-third-party", "councillor-commitment", "pre-election-publicity"}
    verdict = "hold" if set(rules) & hold else "deliver"
    with open(os.path.join(OUT, name + ".toml"), "w") as f:
        f.write(f"# {case.get('note', '')}\n")
        f.write(f'mail_from = "{case["from"][1]}"\n')
        f.write(f"rcpt = {toml_list(rcpts)}\n")
        f.write(f'at = "{case.get("at", "2026-11-22T10:00:00Z")}"\n')
        f.write(f'verdict = "{verdict}"\n')
        f.write(f"rules = {toml_list(rules)}\n")

if __name__ == "__main__":
    import importlib
    module = sys.argv[1] if len(sys.argv) > 1 else "cases"
    OUT = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else HERE
    CASES = importlib.import_module(module).CASES
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f[:3].isdigit() and f[3] == "-" and (f.endswith(".eml") or f.endswith(".toml")):
            os.remove(os.path.join(OUT, f))
    for n, case in enumerate(CASES, 1):
        write(n, case)
    print(f"wrote {len(CASES)} cases to {OUT}")
