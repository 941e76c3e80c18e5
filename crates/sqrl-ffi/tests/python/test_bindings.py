"""The sqrl_ffi bindings from CPython, run by crates/sqrl-ffi/tests/bindings.rs.

`vectors`: the community vectors (SQRL_VECTORS, read in place) replayed through the
bindings: EnScrypt, identity keys and site keys, identity lock, INS, base56 (per line and
the full textual format, read back too). EnScrypt replays every row of 1, 2 and 10
iterations and two of the twenty 40-iteration rows (the Rust tests replay them all).

`login`: a whole login against a running sqrl-site (SQRL_SITE, HTTPS with the CA in
SQRL_CA), with urllib as the app's HTTP client and browser.
"""

import base64
import csv
import http.cookiejar
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import sqrl_ffi as sqrl


def b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rows(name):
    path = os.path.join(os.environ["SQRL_VECTORS"], name)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return [row for row in reader if row]


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def link(domain):
    # The whole path counts toward the auth domain, as in the Rust vector tests.
    return "sqrl://%s?x=999&nut=n" % domain


def vectors():
    done = 0
    forty = 0
    table = rows("enscrypt-vectors.txt")
    for password, salt, iterations, result, _ in table:
        iterations = int(iterations)
        if iterations == 40:
            forty += 1
            if forty > 2:
                continue
        key = sqrl.vector_enscrypt(password.encode(), salt.encode(), iterations)
        check(key == b64(result), "enscrypt %r %r %d" % (password, salt, iterations))
        done += 1
    print("enscrypt %d (replayed %d)" % (len(table), done))

    table = rows("identity-vectors.txt")
    for iuk, ilk, imk, domain, alt_id, idk in table:
        keys = sqrl.vector_identity(b64(iuk))
        check(keys.ilk == b64(ilk), "ilk of %s" % iuk)
        check(keys.imk == b64(imk), "imk of %s" % iuk)
        got = keys.unlocked.public_key(link(domain), alt_id)
        check(got == idk, "idk at %s/%s: %s != %s" % (domain, alt_id, got, idk))
    print("identity %d" % len(table))

    table = rows("identity-lock-vectors.txt")
    for iuk, ilk, rlk, suk, dhka, vuk in table:
        lock = sqrl.vector_identity_lock(bytes.fromhex(iuk), bytes.fromhex(rlk))
        check(lock.ilk.hex() == ilk, "ilk %s" % iuk)
        check(lock.suk.hex() == suk, "suk %s" % iuk)
        check(lock.dhka.hex() == dhka, "dhka %s" % iuk)
        check(lock.vuk.hex() == vuk, "vuk %s" % iuk)
    print("identity-lock %d" % len(table))

    table = rows("ins-vectors.txt")
    for imk, domain, sin, ins in table:
        got = sqrl.vector_ins(b64(imk), link(domain), sin)
        check(got == b64(ins), "ins %s %s" % (domain, sin))
    print("ins %d" % len(table))

    table = rows("base56-vectors.txt")
    for data, line, digits, check_char in table:
        got = sqrl.vector_base56_line(bytes.fromhex(data), int(line))
        check(got == [digits, check_char], "base56 %s line %s: %r" % (data, line, got))
    print("base56 %d" % len(table))

    table = rows("base56-full-format-vectors.txt")
    for data64, data, output in table:
        text = output.replace("\\n", "\n")
        raw = bytes.fromhex(data)
        check(b64(data64) == raw, "row %s" % data)
        check(sqrl.vector_base56_textual(raw) == text, "textual %s" % data)
        # Read back as a person types it: extra spaces, other line breaks.
        typed = "  " + text.replace(" ", "  ").replace("\n", "\r\n ") + "\n"
        check(sqrl.vector_base56_decode(typed) == raw, "decode %s" % data)
    print("base56-full %d" % len(table))


class Counter(sqrl.ProgressListener):
    def __init__(self, stop_after=None):
        self.calls = 0
        self.stop_after = stop_after

    def on_progress(self, stage, done, total):
        self.calls += 1
        return self.stop_after is None or self.calls < self.stop_after


class Browser:
    """The page that shows the code, with its cookies."""

    def __init__(self, base, tls):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def post(self, path):
        request = urllib.request.Request(self.base + path, data=b"", method="POST")
        try:
            with self.opener.open(request, timeout=20) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def new_code(self):
        status, body = self.post("/sqrl/new")
        check(status == 200, "new code: %d %s" % (status, body))
        return json.loads(body)["url"]


def post(tls, request):
    """The app's POST of one SQRL request."""
    data = request.body.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(request.url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, context=tls, timeout=20) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def run(exchange, tls, decide):
    step = sqrl.ExchangeStep.SEND(exchange.first_request())
    for _ in range(16):
        if step.is_SEND():
            try:
                status, body = post(tls, step.request)
            except OSError as e:
                step = exchange.send_failed(str(e))
                continue
            step = exchange.receive(status, body)
        elif step.is_CONFIRM():
            step = exchange.decide(decide(step.prompt))
        else:
            return step.outcome
    raise AssertionError("the exchange did not end")


def login():
    base, ca = os.environ["SQRL_SITE"], os.environ["SQRL_CA"]
    tls = ssl.create_default_context(cafile=ca)

    listener = Counter()
    made = sqrl.create_identity("hunter2 hunter2", sqrl.Stretch.ITERATIONS(2), listener)
    check(listener.calls == 4, "progress calls: %d" % listener.calls)
    code = made.rescue_code.grouped()
    check(len(code) == 29 and sqrl.normalize_rescue_code(code.replace("-", " ")) == code,
          "rescue code")

    # Cancelled from the listener, then a wrong password, then the right one.
    try:
        made.identity.unlock("hunter2 hunter2", Counter(stop_after=1))
        raise AssertionError("not cancelled")
    except sqrl.SqrlError.Cancelled:
        pass
    try:
        made.identity.unlock("wrong", None)
        raise AssertionError("wrong password accepted")
    except sqrl.SqrlError.WrongPassword as e:
        check(str(e) == "Wrong password.", str(e))

    # Stored and read back as a file would be.
    identity = sqrl.Identity.import_bytes(made.identity.export_bytes())
    unlocked = identity.unlock("hunter2 hunter2", None)

    browser = Browser(base, tls)
    exchange = sqrl.SqrlExchange.start(
        unlocked, browser.new_code(), sqrl.SqrlAction.LOGIN, sqrl.ExchangeOptions())
    prompts = []

    def approve(prompt):
        prompts.append(prompt)
        return sqrl.Decision.APPROVE()

    outcome = run(exchange, tls, approve)
    check(outcome.kind == sqrl.OutcomeKind.NEW_ACCOUNT, repr(outcome))
    check(len(prompts) == 1 and not prompts[0].known and prompts[0].ips_matched,
          repr(prompts))
    status, body = browser.post("/sqrl/redeem")
    check(status == 200, "redeem: %d %s" % (status, body))
    print("login ok")


def main():
    if sys.argv[1] == "vectors":
        vectors()
    else:
        login()


if __name__ == "__main__":
    main()
