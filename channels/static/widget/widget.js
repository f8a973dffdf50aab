/* rathausbot chat widget: plain JavaScript, no build step, no dependencies.
 * Embed: <script src="https://HOST/widget/widget.js" data-town="Musterstadt" defer></script>
 * The data- attributes are documented in the README; the protocol in docs/webchat-protocol.md.
 * Every text from the server is inserted with textContent: no message can inject HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__rathausbotChat) return;
  window.__rathausbotChat = true;

  var src = new URL(script.src, location.href);
  var data = script.dataset;
  var town = data.town || "Musterstadt";
  var cfg = {
    town: town,
    title: data.title || "Stadtverwaltung " + town,
    privacyUrl: data.privacyUrl || src.origin + "/datenschutz.html",
    logo: data.logo || "",
    server: data.server || (src.protocol === "https:" ? "wss://" : "ws://") + src.host + "/ws/chat",
    position: data.position === "left" ? "left" : "right",
    open: data.open === "true",
  };
  var TOKEN_KEY = "rathausbot-chat:" + cfg.server;
  var OPEN_KEY = "rathausbot-chat-open:" + cfg.server;
  var SAFE_PROTOCOLS = ["http:", "https:", "mailto:", "tel:"];

  // --- DOM -------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var host = el("div", { id: "rathausbot-chat", "data-position": cfg.position });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("link", { rel: "stylesheet", href: new URL("widget.css", src).href }));

  var launcher = el("button", { type: "button", class: "rb-launcher", "aria-label": "Chat öffnen",
    "aria-expanded": "false", "aria-controls": "rb-panel" });
  launcher.appendChild(el("span", { "aria-hidden": "true", class: "rb-launcher-icon" }, "💬"));
  launcher.appendChild(el("span", { "aria-hidden": "true" }, "Fragen Sie uns"));

  var panel = el("section", { id: "rb-panel", class: "rb-panel", role: "dialog",
    "aria-labelledby": "rb-title", "aria-describedby": "rb-disclosure", hidden: "" });
  var header = el("header", { class: "rb-header" });
  if (cfg.logo) header.appendChild(el("img", { class: "rb-logo", src: cfg.logo, alt: "" }));
  var heading = el("div", { class: "rb-heading" });
  heading.appendChild(el("h2", { id: "rb-title" }, cfg.title));
  var disclosure = el("p", { id: "rb-disclosure", class: "rb-disclosure" },
    "Automatisierter Assistent – kein Mensch. ");
  var privacy = el("a", { href: safeUrl(cfg.privacyUrl) || "#", target: "_blank", rel: "noopener" },
    "Datenschutzhinweise");
  disclosure.appendChild(privacy);
  heading.appendChild(disclosure);
  header.appendChild(heading);
  var closeButton = el("button", { type: "button", class: "rb-close", "aria-label": "Chat schließen" }, "×");
  header.appendChild(closeButton);
  panel.appendChild(header);

  var status = el("p", { class: "rb-status", role: "status", "aria-live": "polite" });
  var log = el("div", { class: "rb-log", role: "log", "aria-live": "polite",
    "aria-label": "Gesprächsverlauf", tabindex: "0" });
  var typing = el("p", { class: "rb-typing", hidden: "" }, "Der Assistent schreibt …");
  var form = el("form", { class: "rb-form" });
  form.appendChild(el("label", { for: "rb-input", class: "rb-sr" }, "Ihre Nachricht"));
  var input = el("input", { id: "rb-input", type: "text", autocomplete: "off", maxlength: "2000",
    placeholder: "Ihre Frage …", enterkeyhint: "send" });
  form.appendChild(input);
  var send = el("button", { type: "submit", class: "rb-send" }, "Senden");
  form.appendChild(send);
  var actions = el("div", { class: "rb-actions" });
  var human = el("button", { type: "button", class: "rb-human" }, "Mit einem Menschen sprechen");
  var end = el("button", { type: "button", class: "rb-end" }, "Gespräch beenden und löschen");
  actions.appendChild(human);
  actions.appendChild(end);
  var confirmBox = el("div", { class: "rb-confirm", hidden: "", role: "group", "aria-labelledby": "rb-confirm-text" });
  confirmBox.appendChild(el("p", { id: "rb-confirm-text" },
    "Gespräch wirklich beenden? Der Verlauf wird gelöscht."));
  var confirmYes = el("button", { type: "button", class: "rb-confirm-yes" }, "Ja, beenden und löschen");
  var confirmNo = el("button", { type: "button", class: "rb-confirm-no" }, "Abbrechen");
  confirmBox.appendChild(confirmYes);
  confirmBox.appendChild(confirmNo);
  [status, log, typing, form, actions, confirmBox].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(launcher);
  root.appendChild(panel);

  function safeUrl(url) {
    try {
      var parsed = new URL(url, location.href);
      return SAFE_PROTOCOLS.indexOf(parsed.protocol) >= 0 ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  // --- rendering -------------------------------------------------------------------------
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function addMessage(kind, text) {
    var item = el("div", { class: "rb-msg rb-" + kind });
    var who = { user: "Sie: ", bot: "Assistent: ", system: "Hinweis: " }[kind];
    item.appendChild(el("span", { class: "rb-sr" }, who));
    item.appendChild(el("span", { class: "rb-text" }, text));
    log.appendChild(item);
    scrollDown();
    return item;
  }

  function clearQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".rb-quick"), function (q) { q.remove(); });
  }

  function renderLine(line) {
    if (line.type === "user") {
      clearQuickReplies();
      addMessage("user", line.text);
    } else if (line.type === "bot") {
      var item = line.text ? addMessage("bot", line.text) : null;
      if (line.links && line.links.length) {
        var links = el("ul", { class: "rb-links" });
        line.links.forEach(function (link) {
          var li = el("li");
          var href = safeUrl(link.url);
          li.appendChild(href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, link.title)
                              : el("span", {}, link.title));
          links.appendChild(li);
        });
        (item || log).appendChild(links);
      }
      if (line.buttons && line.buttons.length) {
        var quick = el("div", { class: "rb-quick", role: "group", "aria-label": "Antwortvorschläge" });
        line.buttons.forEach(function (b) {
          var button = el("button", { type: "button", class: "rb-chip" }, b.title);
          button.addEventListener("click", function () {
            submit({ type: "choice", payload: b.payload, title: b.title }, b.title);
            input.focus(); // the chosen button disappears; keep keyboard users in the chat
          });
          quick.appendChild(button);
        });
        log.appendChild(quick);
      }
      scrollDown();
    } else if (line.type === "handoff") {
      addMessage("system", "Ihr Anliegen wurde an unsere Mitarbeiterinnen und Mitarbeiter übergeben." +
        (line.case_id ? " Ihre Vorgangsnummer: " + line.case_id + "." : ""));
    }
  }

  // --- connection ------------------------------------------------------------------------
  var ws = null;
  var state = "closed"; // closed | connecting | ready | idle | offline | refused
  var backoff = 1000;
  var retryTimer = null;
  var pending = {};
  var seq = 0;
  var queued = null; // a message typed while the socket was idle or closed

  function setStatus(text) { status.textContent = text; panel.classList.toggle("rb-offline", !!text); }

  function storedToken() {
    try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function storeToken(token) {
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* private mode: the session lasts as long as the page */ }
  }

  function connect() {
    if (state === "connecting" || state === "ready") return;
    clearTimeout(retryTimer);
    state = "connecting";
    var socket = new WebSocket(cfg.server);
    ws = socket;
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "hello", v: 1, token: storedToken() }));
    };
    socket.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      handle(msg);
    };
    socket.onclose = function (event) {
      if (ws !== socket) return;
      ws = null;
      typing.hidden = true;
      if (event.code === 4001) { state = "closed"; return; } // ended
      if (event.code === 4000) { state = "idle"; return; } // resumes on next use
      if (event.code === 1008) { state = "refused"; return; } // the error frame said why
      state = "offline";
      var wait = Math.min(backoff, 30000);
      backoff = Math.min(backoff * 2, 30000);
      setStatus("Keine Verbindung zum Chat. Neuer Versuch in " + Math.round(wait / 1000) + " s …");
      retryTimer = setTimeout(connect, wait + Math.random() * 500);
    };
  }

  function handle(msg) {
    switch (msg.type) {
      case "welcome":
        state = "ready";
        backoff = 1000;
        setStatus("");
        storeToken(msg.token);
        log.textContent = "";
        pending = {};
        (msg.history || []).forEach(renderLine);
        if (queued) { var q = queued; queued = null; submit(q[0], q[1]); }
        break;
      case "ack":
        var item = pending[msg.id];
        if (item) { item.classList.remove("rb-pending"); delete pending[msg.id]; }
        break;
      case "typing":
        typing.hidden = !msg.on;
        break;
      case "user": case "bot": case "handoff":
        renderLine(msg);
        break;
      case "error":
        if (msg.id && pending[msg.id]) {
          pending[msg.id].classList.add("rb-failed");
          pending[msg.id].appendChild(el("span", { class: "rb-note" }, " (nicht gesendet)"));
          delete pending[msg.id];
        }
        addMessage("system", msg.text);
        break;
      case "ended":
        storeToken(null);
        log.textContent = "";
        addMessage("system", "Das Gespräch wurde beendet und gelöscht. Sie können jederzeit ein neues Gespräch beginnen.");
        break;
    }
  }

  function submit(frame, shown) {
    if (state === "offline" || state === "refused") {
      setStatus("Keine Verbindung zum Chat. Ihre Nachricht wurde noch nicht gesendet; " +
        "bitte versuchen Sie es gleich noch einmal.");
      return false;
    }
    if (state !== "ready" || !ws) {
      queued = [frame, shown]; // sent as soon as the session is back
      connect();
      return true;
    }
    frame.id = "m" + Date.now().toString(36) + "-" + (++seq);
    clearQuickReplies();
    var item = addMessage("user", shown);
    item.classList.add("rb-pending");
    pending[frame.id] = item;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // --- controls --------------------------------------------------------------------------
  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    try { sessionStorage.setItem(OPEN_KEY, "1"); } catch (e) { /* ignore */ }
    connect();
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    try { sessionStorage.removeItem(OPEN_KEY); } catch (e) { /* ignore */ }
    launcher.focus();
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  document.addEventListener("keydown", function (event) {
    // focus may sit on the page after a button vanished: Escape still closes an open chat
    if (event.key === "Escape" && !panel.hidden && !event.defaultPrevented &&
        (event.target === document.body || event.target === host)) close();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (submit({ type: "text", text: text }, text)) input.value = "";
  });
  input.addEventListener("focus", function () { if (state === "idle") connect(); });
  human.addEventListener("click", function () { submit({ type: "human" }, "Mit einem Menschen sprechen"); });
  end.addEventListener("click", function () {
    confirmBox.hidden = false;
    confirmNo.focus();
  });
  confirmNo.addEventListener("click", function () { confirmBox.hidden = true; end.focus(); });
  confirmYes.addEventListener("click", function () {
    confirmBox.hidden = true;
    if (ws && state === "ready") ws.send(JSON.stringify({ type: "end" }));
    else { storeToken(null); log.textContent = ""; }
    input.focus();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !panel.hidden && (state === "idle" || state === "offline")) connect();
  });

  function mount() {
    document.body.appendChild(host);
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* ignore */ }
    if (cfg.open || wasOpen) open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
