#!/usr/bin/env bash
# A company's whole flow with curl and jq: its own token, a pushed
# authorization request (PAR, RFC 9126) with Rich Authorization Request
# details (RAR, RFC 9396) and PKCE S256, the person's consent, the code for
# tokens, GET /v1/data, then an asynchronous request the person answers
# later from their inbox, polled until they do.
#
# Run by tests/tests/examples.rs against the live server, which plays the
# person. By hand: set the four variables (`apiome company create` prints
# the client) and APIOME_PERSON, open the printed URL, paste where you land.
set -euo pipefail
API=${APIOME_URL:?the server, e.g. http://localhost:8080}
ID=${APIOME_CLIENT_ID:?}
SECRET=${APIOME_CLIENT_SECRET:?}
REDIRECT=${APIOME_REDIRECT_URI:?a redirect URI registered for the client}
PERSON=${APIOME_PERSON:?the handle of the person to ask later}

# PKCE: a random verifier and its S256 challenge (base64url, no padding).
b64url() { base64 | tr '+/' '-_' | tr -d '=\n'; }
VERIFIER=$(openssl rand 32 | b64url)
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
STATE=$(openssl rand 16 | b64url)

# 1. Push the authorization request, authenticated with the client secret:
#    what the company asks for, why and for how long, as RAR details.
DETAILS='[{"type": "apiome_data", "attributes": ["display_name", "email"],
  "purpose": "service_provision", "duration": "P30D"}]'
REQUEST_URI=$(curl -fsS -u "$ID:$SECRET" "$API/oauth/par" \
  -d response_type=code --data-urlencode "redirect_uri=$REDIRECT" \
  -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 -d state="$STATE" \
  --data-urlencode "authorization_details=$DETAILS" | jq -r .request_uri)

# 2. Send the person's browser to the authorization endpoint with only the
#    request_uri; they sign in and consent, and land on the redirect URI.
echo "authorize: $API/oauth/authorize?client_id=$ID&request_uri=$(jq -rn --arg u "$REQUEST_URI" '$u|@uri')"
read -r -p "paste the URL you landed on: " LANDED
echo
[[ $LANDED == *"state=$STATE"* ]] || { echo "state mismatch: $LANDED" >&2; exit 1; }
CODE=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$LANDED")

# 3. The code and the PKCE verifier for tokens.
ACCESS=$(curl -fsS -u "$ID:$SECRET" "$API/oauth/token" \
  -d grant_type=authorization_code -d code="$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" -d code_verifier="$VERIFIER" | jq -r .access_token)

# 4. Read what was granted: {subject, grant_id, attributes, withheld}.
curl -fsS -H "authorization: Bearer $ACCESS" "$API/v1/data" | jq -c '{data: .}'

# 5. Later, with the person away: the company's own token (client
#    credentials), and an asynchronous request naming them by handle.
TOKEN=$(curl -fsS -u "$ID:$SECRET" "$API/oauth/token" \
  -d grant_type=client_credentials | jq -r .access_token)
REQUEST=$(curl -fsS -H "authorization: Bearer $TOKEN" "$API/v1/requests" \
  -H 'content-type: application/json' -d "{\"person\": {\"handle\": \"$PERSON\"},
  \"authorization_details\": [{\"type\": \"apiome_data\", \"attributes\": [\"birth_date\"],
  \"purpose\": \"service_provision\", \"duration\": \"P30D\"}]}")
REQUEST_ID=$(jq -r .request_id <<<"$REQUEST")
echo "request: $REQUEST_ID $(jq -r .status <<<"$REQUEST")"

# 6. Poll it until the person answers (or register a webhook instead).
until STATUS=$(curl -fsS -H "authorization: Bearer $TOKEN" "$API/v1/requests/$REQUEST_ID" \
  | jq -r .status) && [[ $STATUS != pending ]]; do sleep 1; done
echo "answered: $STATUS"
[[ $STATUS == approved ]] || exit 0

# 7. An approved request is redeemed at the token endpoint, as in CIBA's
#    poll mode, for a token that reads the new grant.
GRANTED=$(curl -fsS -u "$ID:$SECRET" "$API/oauth/token" \
  -d grant_type=urn:openid:params:grant-type:ciba -d auth_req_id="$REQUEST_ID" | jq -r .access_token)
curl -fsS -H "authorization: Bearer $GRANTED" "$API/v1/data" | jq -c '{later: .}'
