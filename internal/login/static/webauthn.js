// WebAuthn for Tessera's pages: the only script the pages need. The server
// sends the options as JSON (binary fields base64url), the browser's
// authenticator answers, and the answer goes back as JSON.
(function () {
  "use strict";
  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.detail || "failed"); return j; });
    });
  }
  function status(text) { var s = document.getElementById("webauthn-status"); if (s) s.textContent = text; }
  // done: go on, after showing new recovery codes once when there are any.
  function done(res) {
    if (!res.codes || !res.codes.length) { window.location.assign(res.next); return; }
    var main = document.getElementById("main");
    main.textContent = "";
    var h = document.createElement("h1"); h.textContent = "Save your recovery codes"; main.appendChild(h);
    var p = document.createElement("p");
    p.textContent = "Keep these recovery codes somewhere safe. Each works once, if you lose your second factor. They are shown only now.";
    main.appendChild(p);
    var ul = document.createElement("ul"); ul.className = "codes"; ul.id = "recovery-codes";
    res.codes.forEach(function (c) { var li = document.createElement("li"), code = document.createElement("code"); code.textContent = c; li.appendChild(code); ul.appendChild(li); });
    main.appendChild(ul);
    var a = document.createElement("a"); a.className = "button"; a.href = res.next; a.textContent = "Continue"; main.appendChild(a);
    h.tabIndex = -1; h.focus();
  }

  function register(btn) {
    var nameInput = document.getElementById("webauthn-name");
    post(btn.dataset.begin, btn.dataset.csrf, {}).then(function (res) {
      var o = res.options.publicKey;
      o.challenge = b64urlToBuf(o.challenge);
      o.user.id = b64urlToBuf(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.create({ publicKey: o }).then(function (cred) {
        return post(btn.dataset.finish, btn.dataset.csrf, {
          ceremony: res.ceremony, name: nameInput ? nameInput.value : "", return: btn.dataset.return,
          credential: {
            id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
            response: {
              attestationObject: bufToB64url(cred.response.attestationObject),
              clientDataJSON: bufToB64url(cred.response.clientDataJSON),
              transports: cred.response.getTransports ? cred.response.getTransports() : []
            }
          }
        });
      });
    }).then(done)
      .catch(function (e) { status("Could not create the passkey: " + e.message); });
  }

  function login(btn) {
    post(btn.dataset.begin, btn.dataset.csrf, {}).then(function (res) {
      var o = res.options.publicKey;
      o.challenge = b64urlToBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.get({ publicKey: o }).then(function (cred) {
        return post(btn.dataset.finish, btn.dataset.csrf, {
          ceremony: res.ceremony, return: btn.dataset.return,
          credential: {
            id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
            response: {
              authenticatorData: bufToB64url(cred.response.authenticatorData),
              clientDataJSON: bufToB64url(cred.response.clientDataJSON),
              signature: bufToB64url(cred.response.signature),
              userHandle: cred.response.userHandle ? bufToB64url(cred.response.userHandle) : null
            }
          }
        });
      });
    }).then(done)
      .catch(function (e) { status("Could not use the passkey: " + e.message); });
  }

  // Passkey controls are hidden until this script runs: without JavaScript
  // they could do nothing.
  if (window.PublicKeyCredential) {
    document.querySelectorAll(".needs-js").forEach(function (el) { el.hidden = false; });
  }
  var r = document.getElementById("webauthn-register");
  if (r) r.addEventListener("click", function () { register(r); });
  var l = document.getElementById("webauthn-login");
  if (l) l.addEventListener("click", function () { login(l); });
})();
