"""Gives schemathesis a world to test in: people, companies, an auditor,
requests, grants, a rule, a webhook delivery, a verified notification
address and a mail's unsubscribe link, so that every operation is reached
with credentials and ids that exist (not only 401s and 404s).

Usage: setup.py BASE_URL APIOME DATA_DIR > env-file; prints `export NAME=value`
lines that tests/schemathesis/schemathesis.toml reads as ${NAME}.
Standard library only.
"""

import base64
import email
import hashlib
import glob
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, APIOME, DATA_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
PASSWORD = "correct horse battery staple"
OUT = {}


def call(method, path, body=None, token=None, form=None, basic=None, ok=(200, 201, 202, 204)):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    if token:
        headers["authorization"] = f"Bearer {token}"
    if basic:
        pair = f"{urllib.parse.quote(basic[0])}:{urllib.parse.quote(basic[1])}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in ok:
        sys.exit(f"setup: {method} {path} answered {status}: {text}")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def cli(*args):
    done = subprocess.run(
        [APIOME, *args, "--data-dir", DATA_DIR], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def sign_up(handle):
    return call("POST", "/v1/accounts", {"handle": handle, "password": PASSWORD})["token"]


def sign_in(handle):
    return call("POST", "/v1/session", {"handle": handle, "password": PASSWORD})["session"]["token"]


def client_token(client, scope=None):
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    return call("POST", "/oauth/token", form=form, basic=client)["access_token"]


def ask(company_token, attributes, offer=None):
    detail = {"type": "apiome_data", "attributes": attributes, "purpose": "analytics", "duration": "P30D"}
    if offer:
        detail["offer"] = offer
    made = call("POST", "/v1/requests", {"person": {"handle": "schemathesis"},
                                         "authorization_details": [detail]}, token=company_token)
    return made["request_id"]


def latest_mail(predicate, within=10.0):
    deadline = time.time() + within
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(DATA_DIR, "outbox", "*.eml")), key=os.path.getmtime, reverse=True):
            with open(path, "rb") as f:
                message = email.message_from_bytes(f.read())
            if predicate(message):
                return message
        time.sleep(0.2)
    sys.exit("setup: the expected mail never reached the outbox")


def body_of(message):
    part = message.get_body(("plain",)) if hasattr(message, "get_body") else None
    if message.is_multipart():
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode()
    return message.get_payload(decode=True).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cbor(value):
    """The few CBOR (RFC 8949) shapes a WebAuthn attestation object needs."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | info]) + n.to_bytes(size, "big")
        raise ValueError(n)
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


# The P-256 base point: a valid ES256 public key. Registration with `none`
# attestation signs nothing, so a software authenticator that only ever
# registers needs no private key (and these passkeys never sign in).
P256_X = bytes.fromhex("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296")
P256_Y = bytes.fromhex("4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5")


def add_passkey(token, name):
    """Adds a passkey to the signed-in person as an authenticator would
    (WebAuthn Level 3 §6.5.1, `none` attestation); returns its id."""
    start = call("POST", "/v1/me/passkeys", {}, token=token)
    public_key = start["options"]["publicKey"]
    origin = "http://" + public_key["rp"]["id"] + ":" + urllib.parse.urlparse(BASE).netloc.split(":")[1]
    client_data = json.dumps({"type": "webauthn.create", "challenge": public_key["challenge"],
                              "origin": origin, "crossOrigin": False}).encode()
    credential_id = os.urandom(16)
    cose_key = cbor({1: 2, 3: -7, -1: 1, -2: P256_X, -3: P256_Y})
    auth_data = (hashlib.sha256(public_key["rp"]["id"].encode()).digest()
                 + bytes([0x45]) + (0).to_bytes(4, "big")       # UP, UV, AT; counter 0
                 + bytes(16) + len(credential_id).to_bytes(2, "big") + credential_id + cose_key)
    attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
    credential = {"id": b64url(credential_id), "rawId": b64url(credential_id), "type": "public-key",
                  "response": {"attestationObject": b64url(attestation),
                               "clientDataJSON": b64url(client_data)},
                  "extensions": {}}
    added = call("POST", "/v1/me/passkeys/finish",
                 {"ceremony_id": start["ceremony_id"], "credential": credential, "name": name},
                 token=token)
    return added["id"]


# People: the one under test, and three whose sessions the sign-out operations end.
person = sign_up("schemathesis")
OUT["PERSON_TOKEN"] = person
for n, handle in enumerate(["leaver_one", "leaver_two", "leaver_three"], 1):
    sign_up(handle)
    OUT[f"LEAVER_{n}"] = sign_in(handle)
# One who erases their account (DELETE /v1/me): signed in just now, so the
# erasure's recent sign-in holds while the run lasts.
sign_up("eraser")
OUT["ERASER"] = sign_in("eraser")
call("PUT", "/v1/me/attributes/email", {"value": "ada@example.org", "bucket": "semi_private"}, token=person)
call("PUT", "/v1/me/attributes/display_name", {"value": "Ada", "bucket": "public"}, token=person)
call("PUT", "/v1/me/attributes/x-scratch", {"value": "scratch", "bucket": "semi_private"}, token=person)
call("PUT", "/v1/me/preferences", {"default": "ask_me"}, token=person)

# Passkeys: one to rename, the rest (up to the limit of 20) to delete.
OUT["PASSKEY_ID"] = add_passkey(person, "kept")
for n in range(18):
    OUT[f"PASSKEY_GONE_{n}"] = add_passkey(person, f"spare {n}")

# Companies: one under test, one the person blocks and unblocks; an auditor.
made = cli("company", "create", "--name", "Schemathesis", "--redirect-uri", "https://s.example/cb")
company_client = (made["client_id"], made["client_secret"])
pair = f"{urllib.parse.quote(company_client[0])}:{urllib.parse.quote(company_client[1])}"
OUT["CLIENT_BASIC"] = base64.b64encode(pair.encode()).decode()
other = cli("company", "create", "--name", "Blocked Ltd", "--redirect-uri", "https://b.example/cb")
OUT["OTHER_COMPANY"] = other["client_id"]
auditor = cli("auditor", "create", "--name", "Schemathesis Audit")
OUT["AUDITOR_TOKEN"] = client_token((auditor["client_id"], auditor["client_secret"]))
OUT["REGISTRATION_TOKEN"] = cli("company", "registration-token")["initial_access_token"]
company = client_token(company_client)
subprocess.run([APIOME, "company", "fund", company_client[0], "1000000.00", "EUR", "--data-dir", DATA_DIR],
               check=True, capture_output=True)
OUT["COMPANY_TOKEN"] = company

# A verified notification address, so requests waiting are mailed (with an
# unsubscribe link) and the verify operation has a real token to spend.
call("PUT", "/v1/me/notifications/address", {"address": "ada@example.org"}, token=person)
verify = latest_mail(lambda m: "verify" in body_of(m).lower())
token = re.search(r"token=([A-Za-z0-9_\-]+)", body_of(verify)).group(1)
OUT["VERIFY_TOKEN"] = token
call("POST", "/v1/me/notifications/verify", {"token": token}, token=person)
# A second, unspent verification token for the verify operation itself.
call("PUT", "/v1/me/notifications/address", {"address": "ada@example.org"}, token=person)
again = latest_mail(lambda m: "verify" in body_of(m).lower() and token not in body_of(m))
OUT["VERIFY_TOKEN"] = re.search(r"token=([A-Za-z0-9_\-]+)", body_of(again)).group(1)
call("POST", "/v1/me/notifications/verify", {"token": OUT["VERIFY_TOKEN"]}, token=person, ok=(200, 204, 422))

# Requests: one approved (its grant reads data), one approved to be revoked,
# two pending for approve and decline.
first = ask(company, ["display_name", "email"])
call("POST", f"/v1/me/requests/{first}/approve", {}, token=person)
tokens = call("POST", "/oauth/token", form={"grant_type": "urn:openid:params:grant-type:ciba",
                                            "auth_req_id": first}, basic=company_client)
OUT["DATA_TOKEN"] = tokens["access_token"]
OUT["REFRESH_TOKEN"] = tokens.get("refresh_token", "")
OUT["REQUEST_ID"] = first
second = ask(company, ["email"])
OUT["GRANT_TO_REVOKE"] = call("POST", f"/v1/me/requests/{second}/approve", {}, token=person)["id"]
OUT["PENDING_APPROVE"] = ask(company, ["email"])
OUT["PENDING_DECLINE"] = ask(company, ["display_name"])
# Counter-offers: one request with an offer for the person to counter, and
# one countered already for the company to accept.
OUT["PENDING_COUNTER"] = ask(company, ["email"], {"amount_micros": 10000, "currency": "EUR"})
countered = ask(company, ["email"], {"amount_micros": 10000, "currency": "EUR"})
call("POST", f"/v1/me/requests/{countered}/counter",
     {"price": {"amount_micros": 20000, "currency": "EUR"}}, token=person)
OUT["COUNTERED"] = countered
# Payouts: earnings to pay out (an approved offer of 100 EUR) and one
# payout, sent already, for the operations that read one; new ones may
# then be held (one waits at a time: 409 after it).
earning = ask(company, ["email"], {"amount_micros": 100000000, "currency": "EUR"})
call("POST", f"/v1/me/requests/{earning}/approve", {}, token=person)
OUT["PAYOUT_ID"] = call("POST", "/v1/me/payouts",
                        {"amount": {"amount_micros": 1000000, "currency": "EUR"},
                         "destination": {"kind": "iban", "iban": "DE89 3704 0044 0532 0130 00"}},
                        token=person)["id"]
cli("payout", "confirm", OUT["PAYOUT_ID"], "--transfer-id", "SCHEMATHESIS-1")
# Receipts and reported uses: the first request's grant (the company's),
# and the person's newest receipt.
OUT["USE_GRANT"] = call("GET", f"/v1/requests/{first}", token=company)["grant_id"]
OUT["RECEIPT_ID"] = call("GET", "/v1/me/receipts", token=person)["items"][0]["id"]
waiting = latest_mail(lambda m: m.get("List-Unsubscribe") is not None)
link = re.search(r"<(https?://[^>]+/v1/notifications/unsubscribe\?[^>]+)>", waiting["List-Unsubscribe"]).group(1)
query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(link).query))
OUT["UNSUB_PERSON"], OUT["UNSUB_KIND"], OUT["UNSUB_TOKEN"] = query["person"], query["kind"], query["token"]

# The contact relay: a grant for marketing, contact by email allowed, one
# message delivered (its mail's one-click link ends the company's contact).
call("PUT", "/v1/me/preferences", {"default": "ask_me",
                                   "contact": {"channels": ["email"], "max_per_week": 100}},
     token=person)
marketing = call("POST", "/v1/requests", {"person": {"handle": "schemathesis"},
                                          "authorization_details": [{"type": "apiome_data",
                                                                     "attributes": ["email"],
                                                                     "purpose": "marketing",
                                                                     "duration": "P30D"}]},
                 token=company)["request_id"]
OUT["MESSAGE_GRANT"] = call("POST", f"/v1/me/requests/{marketing}/approve", {}, token=person)["id"]
call("POST", "/v1/messages", {"grant_id": OUT["MESSAGE_GRANT"], "subject": "Winter tyres",
                              "text": "Fitted this week.", "why_valuable": "You asked for tyre news."},
     token=company)
sent = latest_mail(lambda m: "/v1/messages/unsubscribe" in (m.get("List-Unsubscribe") or ""))
link = re.search(r"<(https?://[^>]+/v1/messages/unsubscribe\?[^>]+)>", sent["List-Unsubscribe"]).group(1)
query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(link).query))
OUT["STOP_PERSON"], OUT["STOP_COMPANY"], OUT["STOP_TOKEN"] = query["person"], query["company"], query["token"]

# A rule, a webhook with one delivery.
OUT["RULE_ID"] = call("POST", "/v1/me/rules", {"company": "any", "purposes": ["analytics"],
                                                "attributes": {"keys": ["x-scratch"]}, "effect": "ask"},
                      token=person)["id"]
call("PUT", "/v1/webhook", {"url": "http://127.0.0.1:9/hook"}, token=company)
OUT["DELIVERY_ID"] = call("POST", "/v1/webhook/ping", token=company)["delivery_id"]

# The ledger as it stands: proofs of entries that exist.
# The checkpoint is a signed note (C2SP tlog-checkpoint): origin, then size.
tree_size = int(call("GET", "/v1/ledger/checkpoint").splitlines()[1])
OUT["TREE_SIZE"] = str(tree_size)
OUT["FIRST_SIZE"] = str(max(1, tree_size // 2))

# Dictionaries (libFuzzer format) of values that exist, for body members and
# ids schemathesis.toml binds (its dictionaries take no ${NAME}).
DICTIONARIES = {
    # Live tokens of this client that revocation may spend: not the ones
    # the other operations use.
    "tokens": [client_token(company_client) for _ in range(3)],
    "passkeys": [v for k, v in OUT.items() if k.startswith("PASSKEY_GONE_")],
    "message-grants": [OUT["MESSAGE_GRANT"]],
}
os.makedirs("target/schemathesis", exist_ok=True)
for name, values in DICTIONARIES.items():
    with open(f"target/schemathesis/{name}.dict", "w") as out:
        out.writelines(f'"{v}"\n' for v in values if v)

for name, value in OUT.items():
    print(f"export {name}='{value}'")
