// "Sign in with apiome" from Node.js with openid-client, as its README
// shows: discovery, the authorization code flow with PKCE and a nonce, the
// ID token validated, then UserInfo.
//
// Run by tests/tests/examples.rs against the live server: `npm ci`, then
// `node sign-in.mjs` with APIOME_URL, APIOME_CLIENT_ID,
// APIOME_CLIENT_SECRET and APIOME_REDIRECT_URI set (`apiome company create`
// prints the client). Where a web app would redirect the person's browser,
// this one drives a headless Chromium (./browser.mjs) in which a person
// signs up and signs in with a passkey and consents.
import * as client from 'openid-client'
import { personSignsIn } from './browser.mjs'

const issuer = new URL(process.env.APIOME_URL)
const redirect_uri = process.env.APIOME_REDIRECT_URI

// Discovery reads /.well-known/openid-configuration. The client
// authenticates as it was registered (`apiome company create`:
// client_secret_basic; openid-client's own default is client_secret_post).
// allowInsecureRequests only because the test server is http on localhost.
const config = await client.discovery(
  issuer,
  process.env.APIOME_CLIENT_ID,
  undefined,
  client.ClientSecretBasic(process.env.APIOME_CLIENT_SECRET),
  { execute: [client.allowInsecureRequests] },
)

// PKCE and a nonce, kept (in a real app: in the session) for the callback.
const code_verifier = client.randomPKCECodeVerifier()
const code_challenge = await client.calculatePKCECodeChallenge(code_verifier)
const nonce = client.randomNonce()
const url = client.buildAuthorizationUrl(config, {
  redirect_uri,
  scope: 'openid email',
  code_challenge,
  code_challenge_method: 'S256',
  nonce,
})

// The person signs in with their passkey and consents; the browser lands
// on the redirect URI with the code.
const callback = await personSignsIn(url, redirect_uri)

// The code for tokens; openid-client validates the ID token (signature
// from the JWKS, iss, aud, exp, iat, nonce) before it returns.
const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: code_verifier,
  expectedNonce: nonce,
  idTokenExpected: true,
})
const claims = tokens.claims()

// UserInfo: only what the person granted, for the same subject.
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
console.log(JSON.stringify({ id_token: claims }))
console.log(JSON.stringify({ userinfo }))
