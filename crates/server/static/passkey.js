// apiome's passkey ceremonies (the one other script is the activity page's
// ledger-check.js). It talks to
// the JSON API (which sets the session cookie) and to the browser's WebAuthn
// API; everything else on the pages is a plain form. No inline script: this
// file is loaded with `defer` under `script-src 'self'`.
(function () {
  'use strict';

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return; // the password and recovery forms still work
  }
  document.querySelectorAll('.js-passkey').forEach(function (el) {
    el.hidden = false;
  });

  function toBuffer(text) {
    var base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) {
      base64 += '=';
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
  }

  function creationOptions(publicKey) {
    var options = Object.assign({}, publicKey);
    options.challenge = toBuffer(publicKey.challenge);
    options.user = Object.assign({}, publicKey.user, { id: toBuffer(publicKey.user.id) });
    options.excludeCredentials = withIds(publicKey.excludeCredentials);
    return options;
  }

  function requestOptions(publicKey) {
    var options = Object.assign({}, publicKey);
    options.challenge = toBuffer(publicKey.challenge);
    options.allowCredentials = withIds(publicKey.allowCredentials);
    return options;
  }

  function registration(credential) {
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toText(credential.response.attestationObject),
        clientDataJSON: toText(credential.response.clientDataJSON)
      },
      extensions: {}
    };
  }

  function assertion(credential) {
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toText(credential.response.authenticatorData),
        clientDataJSON: toText(credential.response.clientDataJSON),
        signature: toText(credential.response.signature),
        userHandle: toText(credential.response.userHandle)
      },
      extensions: {}
    };
  }

  // POSTs JSON to the API; resolves with the JSON answer or rejects with the
  // problem's detail.
  function post(path, body, csrf) {
    var headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (csrf) {
      headers['X-CSRF-Token'] = csrf;
    }
    return fetch(path, {
      method: 'POST',
      headers: headers,
      credentials: 'same-origin',
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.text().then(function (text) {
        var json = text ? JSON.parse(text) : {};
        if (!response.ok) {
          throw new Error(json.detail || json.title || 'the server said ' + response.status);
        }
        return json;
      });
    });
  }

  function showError(id, error) {
    var el = document.getElementById(id);
    if (!el) {
      return;
    }
    var message = error && error.name === 'NotAllowedError'
      ? 'The passkey request was cancelled or timed out. Try again.'
      : (error && error.message) || String(error);
    el.textContent = message;
    el.hidden = false;
  }

  function clearError(id) {
    var el = document.getElementById(id);
    if (el) {
      el.hidden = true;
      el.textContent = '';
    }
  }

  function busy(button, on) {
    if (button) {
      button.disabled = on;
      button.setAttribute('aria-busy', on ? 'true' : 'false');
    }
  }

  // Sign up with a passkey, then show the recovery codes once.
  var signup = document.getElementById('passkey-signup');
  if (signup) {
    signup.addEventListener('submit', function (event) {
      event.preventDefault();
      var button = signup.querySelector('button[type=submit]');
      var handle = signup.elements.handle.value.trim();
      var name = signup.elements.name.value.trim() || 'passkey';
      clearError('passkey-signup-error');
      busy(button, true);
      post('/v1/accounts', { handle: handle })
        .then(function (start) {
          return navigator.credentials
            .create({ publicKey: creationOptions(start.options.publicKey) })
            .then(function (credential) {
              return post('/v1/accounts/passkey', {
                ceremony_id: start.ceremony_id,
                credential: registration(credential),
                name: name
              });
            });
        })
        .then(function (session) {
          var list = document.getElementById('recovery-code-list');
          (session.recovery_codes || []).forEach(function (code) {
            var item = document.createElement('li');
            var text = document.createElement('code');
            text.textContent = code;
            item.appendChild(text);
            list.appendChild(item);
          });
          document.getElementById('signup-forms').hidden = true;
          document.getElementById('recovery-codes').hidden = false;
          document.getElementById('codes-heading').focus();
        })
        .catch(function (error) {
          showError('passkey-signup-error', error);
        })
        .then(function () {
          busy(button, false);
        });
    });
  }

  // Where to go after signing in: the page's `data-next` (the server
  // renders only a checked path on this server), checked again here so
  // nothing but a same-origin path is ever followed.
  function landing(button) {
    var next = button && button.getAttribute('data-next');
    var safe = typeof next === 'string' && next.length > 0 && next.length <= 2048 &&
      next.charAt(0) === '/' && next.charAt(1) !== '/' && next.indexOf('\\') === -1;
    return safe ? next : '/dashboard';
  }

  function signInWith(ceremony, errorId, button) {
    clearError(errorId);
    busy(button, true);
    return navigator.credentials
      .get({ publicKey: requestOptions(ceremony.options.publicKey) })
      .then(function (credential) {
        return post('/v1/session/passkey/finish', {
          ceremony_id: ceremony.ceremony_id,
          credential: assertion(credential)
        });
      })
      .then(function () {
        window.location.assign(landing(button));
      })
      .catch(function (error) {
        showError(errorId, error);
        busy(button, false);
      });
  }

  // Sign in with a discoverable passkey: no handle typed.
  var signin = document.getElementById('passkey-signin');
  if (signin) {
    signin.addEventListener('click', function () {
      busy(signin, true);
      post('/v1/session/passkey', {})
        .then(function (ceremony) {
          return signInWith(ceremony, 'passkey-signin-error', signin);
        })
        .catch(function (error) {
          showError('passkey-signin-error', error);
          busy(signin, false);
        });
    });
  }

  // The passkey step after a right password: the challenge is in the page.
  var next = document.getElementById('passkey-continue');
  if (next) {
    next.addEventListener('click', function () {
      var ceremony = {
        ceremony_id: next.getAttribute('data-ceremony-id'),
        options: JSON.parse(next.getAttribute('data-options'))
      };
      signInWith(ceremony, 'passkey-continue-error', next);
    });
  }

  // Add another passkey from the dashboard (cookie session: CSRF header).
  var add = document.getElementById('passkey-add');
  if (add) {
    add.addEventListener('submit', function (event) {
      event.preventDefault();
      var csrf = add.getAttribute('data-csrf');
      var button = add.querySelector('button[type=submit]');
      var name = add.elements.name.value.trim() || 'passkey';
      clearError('passkey-add-error');
      busy(button, true);
      post('/v1/me/passkeys', {}, csrf)
        .then(function (start) {
          return navigator.credentials
            .create({ publicKey: creationOptions(start.options.publicKey) })
            .then(function (credential) {
              return post('/v1/me/passkeys/finish', {
                ceremony_id: start.ceremony_id,
                credential: registration(credential),
                name: name
              }, csrf);
            });
        })
        .then(function () {
          window.location.assign('/dashboard?status=passkey-added#passkeys');
        })
        .catch(function (error) {
          showError('passkey-add-error', error);
          busy(button, false);
        });
    });
  }
})();
