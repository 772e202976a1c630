"""A company's client with Authlib: the authorization code flow with PKCE
(S256), pushed to the server first (PAR, RFC 9126) with Rich Authorization
Request details (RAR, RFC 9396), then GET /v1/data with the access token.

Run by tests/tests/examples.rs against the live server, which plays the
person. By hand: `pip install --require-hashes -r requirements.txt`, set
APIOME_URL, APIOME_CLIENT_ID, APIOME_CLIENT_SECRET and APIOME_REDIRECT_URI
(`apiome company create` prints the client), open the printed URL and paste
the URL you land on.
"""

import json
import os
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

api = os.environ["APIOME_URL"]
client = OAuth2Session(
    os.environ["APIOME_CLIENT_ID"],
    os.environ["APIOME_CLIENT_SECRET"],
    redirect_uri=os.environ["APIOME_REDIRECT_URI"],
    code_challenge_method="S256",
)
# Every endpoint is in the server's metadata (RFC 8414).
meta = client.get(f"{api}/.well-known/oauth-authorization-server",
                  withhold_token=True).json()
par = meta["pushed_authorization_request_endpoint"]

# What the company asks for, why and for how long.
details = [{"type": "apiome_data", "attributes": ["display_name", "email"],
            "purpose": "service_provision", "duration": "P30D"}]

# Authlib builds the authorization request (state, PKCE challenge)...
verifier = generate_token(48)
url, state = client.create_authorization_url(
    par, code_verifier=verifier, authorization_details=json.dumps(details))
# ...which is pushed, with the client authenticated as at the token endpoint.
pushed = client.post(par, data=dict(parse_qsl(urlsplit(url).query)),
                     auth=client.client_auth("client_secret_basic"))
pushed.raise_for_status()

# The person's browser goes to the authorization endpoint with the
# request_uri alone, signs in, consents and lands on the redirect URI.
print("authorize: " + meta["authorization_endpoint"] + "?" + urlencode(
    {"client_id": client.client_id, "request_uri": pushed.json()["request_uri"]}),
    flush=True)
landed = input()

# Authlib checks the state and trades the code and verifier for tokens.
client.fetch_token(meta["token_endpoint"], authorization_response=landed,
                   state=state, code_verifier=verifier)
data = client.get(f"{api}/v1/data")
data.raise_for_status()
print(json.dumps({"data": data.json()}))
