// apiome's activity page, checked in the person's own browser instead of
// taken on the server's word. With WebCrypto only (Ed25519 verify, SHA-256
// digest) and nothing but this server's public ledger endpoints, it
//
//  1. fetches the log's signed checkpoint (a C2SP signed note holding a
//     C2SP tlog-checkpoint) and verifies its Ed25519 signature with the log's
//     verifier key — the one the person pinned on this device, if any;
//  2. for every entry on the page, hashes the entry's leaf bytes (the
//     `data-leaf` attribute) as SHA-256(0x00 || leaf), fetches its RFC 9162
//     inclusion proof for the checkpoint's tree size and recomputes the root;
//  3. marks each entry "verified in your browser" or "NOT verified", and
//     sets `data-state="done"` on #browser-check when it has finished.
//
// What it does not check: that an entry's words on the page are what its
// bytes say (the bytes are the server's encoding; the page's text is the
// server's reading of them), and that the log only grew (consistency).
//
// Loaded with `defer` under `script-src 'self'`, by a hashed name with a
// Subresource Integrity hash. The pure functions are on `window.apiomeLedger`
// so tests can run them against RFC 6962 and C2SP test vectors.
(function () {
  'use strict';

  var PIN_STORAGE_KEY = 'apiome.ledger.vkey';
  var ED25519 = 1; // the C2SP signature type of plain Ed25519
  var HASH_BYTES = 32;
  var SIGNATURE_BYTES = 64;
  var MAX_PROOF_HASHES = 64; // a tree of at most 2^63 leaves
  var PARALLEL_PROOFS = 4; // fetches in flight at once
  var encoder = new TextEncoder();

  // ---- bytes ----

  function fromBase64(text) {
    if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
      throw new Error('not standard base64');
    }
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function concat(parts) {
    var length = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(length);
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
      diff |= a[i] ^ b[i];
    }
    return diff === 0;
  }

  function sha256(bytes) {
    return crypto.subtle.digest('SHA-256', bytes).then(function (d) { return new Uint8Array(d); });
  }

  // ---- RFC 9162 Merkle tree ----

  /** SHA-256(0x00 || leaf). */
  function leafHash(leaf) {
    return sha256(concat([Uint8Array.of(0), leaf]));
  }

  function nodeHash(left, right) {
    return sha256(concat([Uint8Array.of(1), left, right]));
  }

  /**
   * Whether `proof` (hashes, lowest level first) shows that `leafHashBytes`
   * is leaf `index` of the tree of `treeSize` leaves whose root is `root`
   * (RFC 9162 section 2.1.3.2). `index` and `treeSize` are BigInts.
   */
  async function verifyInclusion(leafHashBytes, index, treeSize, proof, root) {
    if (index < 0n || index >= treeSize || proof.length > MAX_PROOF_HASHES) {
      return false;
    }
    if (!proof.every(function (p) { return p.length === HASH_BYTES; })) {
      return false;
    }
    var fn = index;
    var sn = treeSize - 1n;
    var r = leafHashBytes;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0n) {
        return false;
      }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(proof[i], r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, proof[i]);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equalBytes(r, root);
  }

  // ---- C2SP signed notes and checkpoints ----

  function isKeyName(name) {
    return name.length > 0 && !/[\s\x00-\x1f\x7f+]/.test(name);
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  /**
   * A C2SP verifier key `<name>+<key id, 8 hex>+<base64(0x01 || key)>`,
   * checked (the key id is the first 4 bytes of
   * SHA-256(name || 0x0A || 0x01 || key)) and imported for Ed25519.
   */
  async function parseVerifierKey(vkey) {
    var first = vkey.indexOf('+');
    var second = vkey.indexOf('+', first + 1);
    if (first < 0 || second < 0) {
      throw new Error('a verifier key needs a name, a key id and a key');
    }
    var name = vkey.slice(0, first);
    var id = vkey.slice(first + 1, second);
    if (!isKeyName(name) || !/^[0-9a-f]{8}$/.test(id)) {
      throw new Error('malformed verifier key');
    }
    var typed = fromBase64(vkey.slice(second + 1));
    if (typed.length !== 1 + 32 || typed[0] !== ED25519) {
      throw new Error('not an Ed25519 verifier key');
    }
    var publicKey = typed.slice(1);
    var digest = await sha256(concat([encoder.encode(name), Uint8Array.of(0x0a, ED25519), publicKey]));
    if (hex(digest.slice(0, 4)) !== id) {
      throw new Error('the key id does not match the key');
    }
    var key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    return { vkey: vkey, name: name, id: id, key: key };
  }

  /**
   * The text of `note` if it carries a good signature by `verifier`;
   * throws saying why not. Lines by other keys are skipped (C2SP); a line
   * by the same name with another key id means the log's key changed.
   */
  async function openNote(note, verifier) {
    if (/[\x00-\x09\x0b-\x1f]/.test(note) || note.slice(-1) !== '\n') {
      throw new Error('the checkpoint is not a well-formed signed note');
    }
    var split = note.lastIndexOf('\n\n');
    if (split < 0) {
      throw new Error('the checkpoint has no signature');
    }
    var text = note.slice(0, split + 1);
    var lines = note.slice(split + 2, -1).split('\n');
    var verified = false;
    var otherKeyId = null;
    for (var i = 0; i < lines.length; i++) {
      var match = /^\u2014 (\S+) (\S+)$/.exec(lines[i]);
      if (!match) {
        throw new Error('the checkpoint has a malformed signature line');
      }
      var blob = fromBase64(match[2]);
      if (match[1] !== verifier.name || blob.length < 5) {
        continue;
      }
      var id = hex(blob.slice(0, 4));
      if (id !== verifier.id) {
        otherKeyId = id;
        continue;
      }
      var signature = blob.slice(4);
      var good = signature.length === SIGNATURE_BYTES &&
        await crypto.subtle.verify({ name: 'Ed25519' }, verifier.key, signature, encoder.encode(text));
      if (!good) {
        throw new Error('the checkpoint\u2019s signature by ' + verifier.name + ' does not verify');
      }
      verified = true;
    }
    if (!verified && otherKeyId) {
      throw new Error('the checkpoint is signed by another key (id ' + otherKeyId + ') under the log\u2019s name');
    }
    if (!verified) {
      throw new Error('the checkpoint carries no signature by ' + verifier.name);
    }
    return text;
  }

  /** A C2SP tlog-checkpoint's origin, tree size (BigInt) and root hash. */
  function parseCheckpoint(text) {
    var lines = text.split('\n');
    if (lines.length < 4 || !/^(0|[1-9][0-9]{0,19})$/.test(lines[1])) {
      throw new Error('the checkpoint is malformed');
    }
    var root = fromBase64(lines[2]);
    if (root.length !== HASH_BYTES) {
      throw new Error('the checkpoint\u2019s root is not 32 bytes');
    }
    return { origin: lines[0], treeSize: BigInt(lines[1]), root: root };
  }

  window.apiomeLedger = {
    fromBase64: fromBase64,
    leafHash: leafHash,
    verifyInclusion: verifyInclusion,
    parseVerifierKey: parseVerifierKey,
    openNote: openNote,
    parseCheckpoint: parseCheckpoint,
  };

  // ---- the page ----

  var section = document.getElementById('browser-check');
  if (!section || !window.crypto || !crypto.subtle || !window.BigInt) {
    return; // the page keeps the server's marks and says so
  }
  var summary = document.getElementById('check-summary');
  var warning = document.getElementById('key-warning');
  var logKey = document.getElementById('log-key');
  var pinState = document.getElementById('key-pin-state');
  var pinButton = document.getElementById('pin-key');
  var unpinButton = document.getElementById('unpin-key');
  var entries = Array.prototype.slice.call(document.querySelectorAll('li[data-leaf]'));
  section.hidden = false;
  document.getElementById('marks-source').textContent =
    'Each mark below says whether your browser verified the entry itself, against the log\u2019s signed checkpoint.';

  function pinned() {
    try {
      return localStorage.getItem(PIN_STORAGE_KEY);
    } catch (e) {
      return null; // storage off: nothing pinned, nothing to pin
    }
  }

  function mark(li, verified, why) {
    var el = li.querySelector('.mark');
    el.className = 'mark ' + (verified ? 'browser-verified' : 'browser-failed');
    el.textContent = verified ? '\u2713 verified in your browser' : '\u2717 NOT verified (' + why + ')';
    el.title = verified
      ? 'your browser hashed this entry and checked its inclusion proof against the signed checkpoint'
      : 'your browser could not confirm this entry is in the signed log';
    li.dataset.browserCheck = verified ? 'verified' : 'failed';
  }

  function finish(result, text) {
    summary.textContent = text;
    section.dataset.result = result;
    section.dataset.state = 'done';
  }

  function warn(text) {
    var p = document.createElement('p');
    p.textContent = text;
    warning.appendChild(p);
    warning.hidden = false;
  }

  async function fetchText(path) {
    var response = await fetch(path, { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) {
      throw new Error(path + ' answered ' + response.status);
    }
    return response.text();
  }

  async function checkEntry(li, checkpoint) {
    var index = BigInt(li.dataset.index);
    if (index >= checkpoint.treeSize) {
      return mark(li, false, 'not yet in the signed checkpoint');
    }
    try {
      var leaf = fromBase64(li.dataset.leaf);
      var response = await fetch('/v1/ledger/proofs/inclusion?index=' + index + '&tree_size=' + checkpoint.treeSize,
        { cache: 'no-store', credentials: 'omit' });
      if (!response.ok) {
        return mark(li, false, 'no inclusion proof: ' + response.status);
      }
      var body = await response.json();
      var proof = (body.proof || []).map(fromBase64);
      var good = BigInt(body.index) === index && BigInt(body.tree_size) === checkpoint.treeSize &&
        await verifyInclusion(await leafHash(leaf), index, checkpoint.treeSize, proof, checkpoint.root);
      mark(li, good, good ? '' : 'its inclusion proof does not lead to the signed root');
    } catch (e) {
      mark(li, false, e.message);
    }
  }

  async function checkAll(checkpoint) {
    var queue = entries.slice();
    async function worker() {
      while (queue.length) {
        await checkEntry(queue.shift(), checkpoint);
      }
    }
    var workers = [];
    for (var i = 0; i < PARALLEL_PROOFS; i++) {
      workers.push(worker());
    }
    await Promise.all(workers);
  }

  /** The key to trust: the pinned one, else the one the server serves. */
  async function trustedKey() {
    var served = (await fetchText('/v1/ledger/public-key')).trim();
    var pin = pinned();
    logKey.textContent = pin || served;
    if (!pin) {
      pinState.textContent = '(served by this server; not pinned on this device)';
      pinButton.hidden = false;
      pinButton.onclick = function () {
        localStorage.setItem(PIN_STORAGE_KEY, served);
        location.reload();
      };
      return parseVerifierKey(served);
    }
    pinState.textContent = '(pinned on this device)';
    unpinButton.hidden = false;
    unpinButton.onclick = function () {
      localStorage.removeItem(PIN_STORAGE_KEY);
      location.reload();
    };
    if (served !== pin) {
      warn('Warning: the log\u2019s key has changed since you pinned it. This server now serves the key ' +
        served + '. Entries are checked against your pinned key only. A log whose key changes may be ' +
        'rewriting its history: do not trust it until apiome has explained the change.');
    }
    return parseVerifierKey(pin);
  }

  async function run() {
    var verifier;
    var checkpoint;
    try {
      verifier = await trustedKey();
      var text = await openNote(await fetchText('/v1/ledger/checkpoint'), verifier);
      checkpoint = parseCheckpoint(text);
      if (checkpoint.origin !== verifier.name) {
        throw new Error('the checkpoint is for the log ' + checkpoint.origin + ', not ' + verifier.name);
      }
    } catch (e) {
      if (pinned()) {
        warn('Warning: the log\u2019s checkpoint does not verify with the key you pinned: ' + e.message + '.');
      }
      entries.forEach(function (li) { mark(li, false, 'the checkpoint could not be verified'); });
      return finish('failed', 'Your browser could not verify the log: ' + e.message +
        '. No entry on this page is verified.');
    }
    await checkAll(checkpoint);
    var failed = entries.filter(function (li) { return li.dataset.browserCheck !== 'verified'; }).length;
    var about = ' against the checkpoint of ' + checkpoint.treeSize + ' entries, signed by ' +
      verifier.name + ' (key ' + verifier.id + ').';
    if (!entries.length) {
      return finish('verified', 'The log\u2019s checkpoint verified in your browser' + about +
        ' There is no entry about you to check yet.');
    }
    if (failed) {
      return finish('failed', failed + ' of ' + entries.length + ' entries NOT verified in your browser' + about);
    }
    finish('verified', 'All ' + entries.length + ' entries on this page verified in your browser' + about);
  }

  run().catch(function (e) {
    finish('failed', 'Your browser could not finish checking: ' + e.message);
  });
})();
