"""A relying party written with Authlib (not by this project) against sqrl-site's OpenID
Connect provider: the whole login (the SQRL part by the `sqrl` command), then the protocol's
negative cases. Run by crates/sqrl-e2e/tests/oidc.rs; exits non-zero on the first failure.

argv: base client_id client_secret public_client_id sqrl_binary identity other_identity
rescue_code (of identity)
"""
import base64
import json
import re
import secrets
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

BASE, CLIENT_ID, SECRET, PUBLIC_ID, SQRL, IDENTITY, OTHER_IDENTITY, RESCUE_CODE = sys.argv[1:9]
REDIRECT = "http://127.0.0.1:9/cb"
LOGOUT_BACK = "http://127.0.0.1:9/bye"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


meta = requests.get(f"{BASE}/.well-known/openid-configuration").json()
check(meta["issuer"] == BASE, "discovery names the issuer")
check(meta["code_challenge_methods_supported"] == ["S256"], "only S256 is offered")
jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())

browser = requests.Session()


def query(location):
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


identity = IDENTITY


last_prompts = ""


def sqrl_login(new_code="/sqrl/new"):
    """The login page's widget, done by hand: a code (from the page's `data-sqrl-new`), the
    phone (`sqrl login --yes`, which answers the site's question with its first button), redeem."""
    global last_prompts
    code = browser.post(BASE + new_code, headers={"Origin": BASE}).json()
    done = subprocess.run(
        [SQRL, "login", "--yes", code["url"], "--danger-loopback-http"],
        capture_output=True, text=True,
        env={"SQRL_IDENTITY": identity, "SQRL_PASSWORD": "correct horse battery staple"},
    )
    check(done.returncode == 0, f"the sqrl command logs in ({done.stderr.strip()[-200:]})")
    last_prompts = done.stderr
    redeemed = browser.post(f"{BASE}/sqrl/redeem", headers={"Origin": BASE})
    check(redeemed.status_code == 200, "the browser redeems the login")
    return redeemed.json()["redirect"]


def rp(secret=SECRET, client_id=CLIENT_ID, method="client_secret_basic", scope="openid"):
    return OAuth2Session(
        client_id, secret, scope=scope, redirect_uri=REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method=method,
    )


def authorize(client, **extra):
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    uri, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra)
    return uri, state, verifier, nonce


def follow_to_code(uri):
    """Follows the provider's pages (login, consent) to the redirect with the code."""
    response = browser.get(uri, allow_redirects=False)
    for _ in range(4):
        if response.status_code == 303:
            location = response.headers["location"]
            if location.startswith(REDIRECT):
                return location
            response = browser.get(BASE + location if location.startswith("/") else location,
                                   allow_redirects=False)
            continue
        page = response.text
        if "data-sqrl-login" in page:
            resume = re.search(r'data-sqrl-after-login="([^"]+)"', page).group(1)
            resume = resume.replace("&amp;", "&")
            new_code = re.search(r'data-sqrl-new="([^"]+)"', page).group(1).replace("&amp;", "&")
            check(new_code.startswith("/oidc/new?req="), "the widget gets its codes from the provider")
            app = "Wiki" if "Log in to Wiki" in page else "Notes"
            check(f"Log in to {app}" in page, "the login page names the application")
            code = browser.post(BASE + new_code, headers={"Origin": BASE})
            check(code.status_code == 200, "the provider gives the page a code")
            named = query(code.json()["url"].replace("sqrl://", "http://")).get("app", "")
            check(base64.urlsafe_b64decode(named + "=" * (-len(named) % 4)).decode() == app,
                  "the code names the application (app=)")
            check(sqrl_login(new_code) == resume, "redeem returns the browser to the provider")
            response = browser.get(BASE + resume, allow_redirects=False)
            continue
        if 'name="decision"' in page:
            req = re.search(r'name="req" value="([^"]+)"', page).group(1)
            response = browser.post(f"{BASE}/oidc/consent", data={"req": req, "decision": "allow"},
                                    headers={"Origin": BASE}, allow_redirects=False)
            continue
        check(False, f"unexpected page {response.status_code}: {page[:300]}")
    check(False, "no code after four steps")


def verify(id_token, nonce, client_id=CLIENT_ID):
    claims = jwt.decode(
        id_token, jwks, claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": BASE}},
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    claims.validate()
    return claims


# 1. The whole login: login page, SQRL, consent, code, token, ID token, UserInfo.
client = rp()
uri, state, verifier, nonce = authorize(client)
location = follow_to_code(uri)
params = query(location)
check(params.get("iss") == BASE and params.get("state") == state, "the code comes with iss and state (RFC 9207)")
token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
claims = verify(token["id_token"], nonce)
claims_token = token["id_token"]
check(claims["amr"] == ["pop"] and "auth_time" in claims, "the ID token verifies, with nonce, auth_time and amr")
check(jwt.decode(token["id_token"], jwks).header["alg"] == "RS256", "RS256 by default")
info = client.get(meta["userinfo_endpoint"]).json()
check(info["sub"] == claims["sub"], "UserInfo names the same subject")

# 1b. Refresh tokens (offline_access), rotated on each use; a reused one revokes its chain.
check("refresh_token" not in token, "no refresh token without offline_access")
offline = rp(scope="openid offline_access")
offline_uri, _, offline_verifier, _ = authorize(offline)
first = offline.fetch_token(meta["token_endpoint"], authorization_response=follow_to_code(offline_uri),
                            code_verifier=offline_verifier)
check("refresh_token" in first, "offline_access gets a refresh token")
second = offline.refresh_token(meta["token_endpoint"], refresh_token=first["refresh_token"])
check(second["refresh_token"] != first["refresh_token"], "a refresh rotates the refresh token")
refreshed = jwt.decode(second["id_token"], jwks, claims_options={"iss": {"essential": True, "value": BASE}})
refreshed.validate()
check(refreshed["sub"] == claims["sub"] and refreshed["auth_time"] == claims["auth_time"] and "nonce" not in refreshed,
      "the refreshed ID token names the same user and login, without a nonce")
check(requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + second["access_token"]}).status_code == 200,
      "the refreshed access token works")
other_client = requests.post(meta["token_endpoint"], data={
    "grant_type": "refresh_token", "refresh_token": second["refresh_token"], "client_id": PUBLIC_ID})
check(other_client.status_code == 400 and other_client.json()["error"] == "invalid_grant",
      "another client cannot use the refresh token")
reuse = requests.post(meta["token_endpoint"], auth=(CLIENT_ID, SECRET), data={
    "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
check(reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant", "a used refresh token is invalid_grant")
after = requests.post(meta["token_endpoint"], auth=(CLIENT_ID, SECRET), data={
    "grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
check(after.status_code == 400 and after.json()["error"] == "invalid_grant",
      "reusing a refresh token revokes its chain: the newest one fails too")
check(requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + second["access_token"]}).status_code == 401,
      "and the chain's access tokens")

# 1c. Withdrawing the consent ends a refresh chain for good: consenting again revives none.
offline_uri, _, offline_verifier, _ = authorize(offline)
third = offline.fetch_token(meta["token_endpoint"], authorization_response=follow_to_code(offline_uri),
                            code_verifier=offline_verifier)
withdrawn = browser.post(f"{BASE}/oidc/apps/revoke", data={"client_id": CLIENT_ID},
                         headers={"Origin": BASE}, allow_redirects=False)
check(withdrawn.status_code == 303, "the user withdraws the consent on the applications page")
again = rp()
again_uri, _, again_verifier, _ = authorize(again)
again.fetch_token(meta["token_endpoint"], authorization_response=follow_to_code(again_uri),
                  code_verifier=again_verifier)
revived = requests.post(meta["token_endpoint"], auth=(CLIENT_ID, SECRET), data={
    "grant_type": "refresh_token", "refresh_token": third["refresh_token"]})
check(revived.status_code == 400 and revived.json()["error"] == "invalid_grant",
      "a refresh token from before a withdrawn consent stays dead after consenting again")

# 2. The code again: refused, and the token it issued is revoked.
replay = requests.post(meta["token_endpoint"], auth=(CLIENT_ID, SECRET), data={
    "grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
    "code_verifier": verifier})
check(replay.status_code == 400 and replay.json()["error"] == "invalid_grant", "a replayed code is invalid_grant")
check(client.get(meta["userinfo_endpoint"]).status_code == 401, "the replayed code's access token is revoked")
check(requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Basic x"}).status_code == 401,
      "UserInfo refuses anything but a bearer token")

# 3. A second login needs neither the SQRL login nor consent; a wrong verifier fails.
client = rp()
uri, state, verifier, nonce = authorize(client)
location = browser.get(uri, allow_redirects=False).headers["location"]
check(location.startswith(REDIRECT) and "code=" in location, "a known user with consent goes straight back")
try:
    client.fetch_token(meta["token_endpoint"], authorization_response=location,
                       code_verifier=secrets.token_urlsafe(48))
    check(False, "a wrong PKCE verifier must fail")
except OAuthError as e:
    check(e.error == "invalid_grant", "a wrong PKCE verifier is invalid_grant")

# 4. Client authentication: a wrong secret, and client_secret_post.
client = rp()
uri, state, verifier, nonce = authorize(client)
location = browser.get(uri, allow_redirects=False).headers["location"]
try:
    rp(secret="wrong").fetch_token(meta["token_endpoint"], authorization_response=location,
                                   code_verifier=verifier, state=state)
    check(False, "a wrong client secret must fail")
except OAuthError as e:
    check(e.error == "invalid_client", "a wrong client secret is invalid_client")
client = rp(method="client_secret_post")
uri, state, verifier, nonce = authorize(client)
location = browser.get(uri, allow_redirects=False).headers["location"]
token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
verify(token["id_token"], nonce)
check(True, "client_secret_post works")

# 5. Pairwise subjects: the public client (EdDSA) sees another sub for the same user. It is
# a browser app on another origin: CORS lets it call the token and UserInfo endpoints.
SPA = "https://spa.example"
for endpoint in ("token_endpoint", "userinfo_endpoint", "jwks_uri"):
    pre = requests.options(meta[endpoint], headers={
        "Origin": SPA, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    check(pre.status_code == 204 and pre.headers.get("access-control-allow-origin") == "*"
          and "POST" in pre.headers.get("access-control-allow-methods", "")
          and "authorization" in pre.headers.get("access-control-allow-headers", "").lower(),
          f"a CORS preflight of the {endpoint} is allowed")
public = rp(secret=None, client_id=PUBLIC_ID, method="none")
uri, state, verifier, nonce = authorize(public)
location = follow_to_code(uri)
token = public.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier,
                           headers={"Origin": SPA})
info = requests.get(meta["userinfo_endpoint"], headers={
    "Origin": SPA, "Authorization": "Bearer " + token["access_token"]})
check(info.status_code == 200 and info.headers.get("access-control-allow-origin") == "*",
      "a browser app on another origin reads UserInfo")
other = verify(token["id_token"], nonce, client_id=PUBLIC_ID)
check(jwt.decode(token["id_token"], jwks).header["alg"] == "EdDSA", "a client registered for EdDSA gets EdDSA")
check(other["sub"] != claims["sub"], "pairwise: each client sees its own sub")

# 6. Authorization requests refused: plain PKCE and a foreign redirect URI.
plain = browser.get(meta["authorization_endpoint"], params={
    "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
    "state": "s1", "code_challenge": secrets.token_urlsafe(40), "code_challenge_method": "plain"},
    allow_redirects=False)
check(plain.status_code == 303 and query(plain.headers["location"]).get("error") == "invalid_request"
      and query(plain.headers["location"]).get("state") == "s1", "plain PKCE is refused to the client")
evil = browser.get(meta["authorization_endpoint"], params={
    "client_id": CLIENT_ID, "redirect_uri": "https://evil.example/cb", "response_type": "code",
    "scope": "openid", "code_challenge": "x" * 43, "code_challenge_method": "S256"},
    allow_redirects=False)
check(evil.status_code == 400 and "location" not in evil.headers, "a foreign redirect URI gets a page, no redirect")

# 7. Logout CSRF: an ID token of another user (anyone can hold their own) does not log this
# browser out without asking.
mine = browser
browser = requests.Session()
identity = OTHER_IDENTITY
client = rp()
uri, state, verifier, nonce = authorize(client)
location = follow_to_code(uri)
others = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
browser, identity = mine, IDENTITY
r = browser.get(meta["end_session_endpoint"], params={
    "id_token_hint": others["id_token"], "post_logout_redirect_uri": LOGOUT_BACK}, allow_redirects=False)
check(r.status_code == 200 and "Log out?" in r.text, "another user's id_token_hint asks before logging out")
uri, state, verifier, nonce = authorize(rp(), prompt="none")
r = browser.get(uri, allow_redirects=False)
check("code=" in r.headers.get("location", ""), "and the user is still logged in")
# id_token_hint at the authorization endpoint: a hint naming another user is no login for
# prompt=none; the user's own hint is; a forged one goes back to the client.
uri, state, verifier, nonce = authorize(rp(), prompt="none", id_token_hint=others["id_token"])
r = browser.get(uri, allow_redirects=False)
check(query(r.headers.get("location", "")).get("error") == "login_required",
      f"prompt=none with another user's id_token_hint is login_required ({r.status_code} {r.headers.get('location')} {r.text[:200]})")
uri, state, verifier, nonce = authorize(rp(), prompt="none", id_token_hint=claims_token)
r = browser.get(uri, allow_redirects=False)
check("code=" in r.headers.get("location", ""), "prompt=none with the user's own id_token_hint issues a code")
forged = others["id_token"][:-4] + ("AAAA" if not others["id_token"].endswith("AAAA") else "BBBB")
uri, state, verifier, nonce = authorize(rp(), prompt="none", id_token_hint=forged)
r = browser.get(uri, allow_redirects=False)
check(query(r.headers["location"]).get("error") == "invalid_request",
      "a forged id_token_hint is invalid_request, sent to the client")

# 8. Logout: alg=none and unregistered URIs refused; a valid hint logs out and returns.
none_token = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")
                      for p in ({"alg": "none"}, {"iss": BASE, "aud": CLIENT_ID})) + "."
r = browser.get(meta["end_session_endpoint"], params={"id_token_hint": none_token}, allow_redirects=False)
check(r.status_code == 400, "an alg=none id_token_hint is refused")
r = browser.get(meta["end_session_endpoint"], params={
    "id_token_hint": token["id_token"],
    "post_logout_redirect_uri": "https://evil.example/"}, allow_redirects=False)
check(r.status_code == 400, "an unregistered post_logout_redirect_uri is refused")
client = rp()
uri, state, verifier, nonce = authorize(client)
location = browser.get(uri, allow_redirects=False).headers["location"]
token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
r = browser.get(meta["end_session_endpoint"], params={
    "id_token_hint": token["id_token"], "post_logout_redirect_uri": LOGOUT_BACK, "state": "bye1"},
    allow_redirects=False)
check(r.status_code == 303 and r.headers["location"] == LOGOUT_BACK + "?state=bye1", "logout returns to the registered URI")
uri, state, verifier, nonce = authorize(rp(), prompt="none")
r = browser.get(uri, allow_redirects=False)
check(query(r.headers["location"]).get("error") == "login_required", "after logout, prompt=none is login_required")

# 9. A known identity is asked by the site; the question names the application and the
# provider ("Log in to Wiki via 127.0.0.1 in ...").
client = rp()
uri, state, verifier, nonce = authorize(client)
location = follow_to_code(uri)
host = urlparse(BASE).hostname
check(f"Log in to Wiki via {host} in " in last_prompts,
      f"the phone's question names the application and the provider: {last_prompts[-400:]}")

# 10. The user removes their identity from the site: its tokens give nothing any more.
token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
check(client.get(meta["userinfo_endpoint"]).status_code == 200, "UserInfo answers before the removal")
code = requests.post(f"{BASE}/sqrl/new", headers={"Origin": BASE}).json()
removed = subprocess.run(
    [SQRL, "remove", "--yes", code["url"], "--danger-loopback-http"], capture_output=True, text=True,
    env={"SQRL_IDENTITY": identity, "SQRL_PASSWORD": "correct horse battery staple",
         "SQRL_RESCUE_CODE": RESCUE_CODE},
)
check(removed.returncode == 0, f"sqrl remove succeeds ({removed.stderr.strip()[-200:]})")
check(client.get(meta["userinfo_endpoint"]).status_code == 401,
      "a removed identity's access token is refused at UserInfo")
print(f"{checks} checks passed")
