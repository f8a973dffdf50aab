/* rathausbot chat widget: plain JavaScript, no build step, no dependencies.
 * Embed: <script src="https://HOST/widget/widget.js" data-town="Musterstadt" defer></script>
 * The data- attributes are documented in the README; the protocol in docs/webchat-protocol.md.
 * Browser calls (the "Anrufen" button) live in call.js, loaded only where WebRTC can work.
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
    offset: bounded(data.offset, 0, 400, 0), // px the launcher and panel keep from the bottom
    maxChars: bounded(data.maxChars, 1, 100000, 2000), // the gateway's max_message_chars
    // the register preset (docs/languages.md): data-language="de|en", data-einfach="true"
    language: data.language === "en" ? "en" : "de",
    einfach: data.einfach === "true" && data.language !== "en",
  };
  var TOKEN_KEY = "rathausbot-chat:" + cfg.server;
  var OPEN_KEY = "rathausbot-chat-open:" + cfg.server;
  var SAFE_PROTOCOLS = ["http:", "https:", "mailto:", "tel:"];
  var COUNTER_FROM = 200; // show the remaining characters from here on
  var RETRYABLE = ["rate_limited", "unavailable", "not_ready"];
  var HUMAN_PAYLOAD = "/human_handoff";
  // booking, case, ticket (S) and callback (R) numbers, as the assistant writes them
  var REFERENCE = /\b(?:C-\d{8}-|[BSR]-)[A-Z2-9]{6}\b/g;
  var REFERENCE_NAMES = { B: "Buchungsnummer", C: "Vorgangsnummer", S: "Meldungsnummer", R: "Rückrufnummer" };
  // intents/actions/forms.py: "Ihr Termin ist gebucht: SERVICE am Montag, 23.11.2026 um 10:30 Uhr,
  // DEPARTMENT, ADDRESS. Ihre Buchungsnummer: B-K7QX2M." (tests/e2e keeps the two in step)
  var BOOKED = /Ihr Termin ist gebucht: (.+?) am [^,]+, (\d{2})\.(\d{2})\.(\d{4}) um (\d{1,2}):(\d{2}) Uhr, (.+)\. Ihre Buchungsnummer: (B-[A-Z2-9]{6})/;
  var phone = window.matchMedia("(max-width: 480px)"); // the panel covers the page: modal

  function bounded(value, min, max, fallback) {
    var n = parseInt(value, 10);
    return isNaN(n) ? fallback : Math.min(max, Math.max(min, n));
  }

  // --- DOM -------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function icon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    [["viewBox", "0 0 24 24"], ["aria-hidden", "true"], ["focusable", "false"], ["class", "rb-icon"]]
      .forEach(function (a) { svg.setAttribute(a[0], a[1]); });
    paths.forEach(function (d) {
      var path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "currentColor");
      svg.appendChild(path);
    });
    return svg;
  }
  var BUBBLE = ["M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"];
  var DOTS = ["M12 5.5a2 2 0 1 0 0-4 2 2 0 0 0 0 4z", "M12 14a2 2 0 1 0 0-4 2 2 0 0 0 0 4z",
    "M12 22.5a2 2 0 1 0 0-4 2 2 0 0 0 0 4z"];
  var CROSS = ["M5.3 3.9 12 10.6l6.7-6.7 1.4 1.4-6.7 6.7 6.7 6.7-1.4 1.4-6.7-6.7-6.7 6.7-1.4-1.4 6.7-6.7-6.7-6.7z"];

  var host = el("div", { id: "rathausbot-chat", "data-position": cfg.position });
  host.style.setProperty("--rb-offset", cfg.offset + "px"); // CSSOM: allowed under a strict CSP
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("link", { rel: "stylesheet", href: new URL("widget.css", src).href }));

  // The accessible name starts with the visible text (WCAG 2.5.3).
  var launcher = el("button", { type: "button", class: "rb-launcher", "aria-expanded": "false",
    "aria-controls": "rb-panel" });
  launcher.appendChild(icon(BUBBLE));
  launcher.appendChild(el("span", {}, "Fragen Sie uns"));
  launcher.appendChild(el("span", { class: "rb-sr" }, ": Chat öffnen"));

  var panel = el("section", { id: "rb-panel", class: "rb-panel", role: "dialog",
    "aria-labelledby": "rb-title", "aria-describedby": "rb-disclosure", hidden: "" });
  var header = el("div", { class: "rb-header" }); // no <header>: a second banner landmark
  if (cfg.logo) header.appendChild(el("img", { class: "rb-logo", src: cfg.logo, alt: "" }));
  var heading = el("div", { class: "rb-heading" });
  heading.appendChild(el("h2", { id: "rb-title" }, cfg.title));
  // The widget's own labels follow the conversation's language (English or German; Leichte
  // Sprache keeps the German labels, which are short already).
  var LABELS = {
    de: { disclosure: "Automatisierter Assistent – kein Mensch. ", privacy: "Datenschutzhinweise",
      more: "Weitere Aktionen", close: "Chat schließen", human: "Mit einem Menschen sprechen",
      end: "Gespräch beenden und löschen", message: "Ihre Nachricht", placeholder: "Ihre Frage …",
      send: "Senden" },
    en: { disclosure: "Automated assistant – not a person. ", privacy: "Privacy notice",
      more: "More actions", close: "Close chat", human: "Talk to a person",
      end: "End and delete the conversation", message: "Your message",
      placeholder: "Your question …", send: "Send" }
  };
  var DISCLOSURE = LABELS[cfg.language].disclosure;
  var disclosure = el("p", { id: "rb-disclosure", class: "rb-disclosure" }, DISCLOSURE);
  // who answers: the assistant, or during a live takeover the clerk by name
  function setDisclosure(text) { disclosure.firstChild.textContent = text; }
  var privacy = el("a", { href: safeUrl(cfg.privacyUrl) || "#", target: "_blank", rel: "noopener" },
    "Datenschutzhinweise");
  disclosure.appendChild(privacy);
  heading.appendChild(disclosure);
  header.appendChild(heading);
  var menuButton = el("button", { type: "button", class: "rb-icon-button rb-menu-button",
    "aria-label": "Weitere Aktionen", "aria-expanded": "false", "aria-controls": "rb-menu" });
  menuButton.appendChild(icon(DOTS));
  header.appendChild(menuButton);
  var closeButton = el("button", { type: "button", class: "rb-icon-button rb-close", "aria-label": "Chat schließen" });
  closeButton.appendChild(icon(CROSS));
  header.appendChild(closeButton);
  panel.appendChild(header);

  // Language toggles (docs/languages.md): each click is a quick reply that the assistant
  // confirms; the hello of a new session carries the page's preset.
  var register = cfg.einfach ? "einfach" : cfg.language;
  var langBar = el("div", { class: "rb-lang", role: "group", "aria-label": "Sprache / Language" });
  var englishButton = el("button", { type: "button", class: "rb-lang-en" });
  var easyButton = el("button", { type: "button", class: "rb-lang-easy" }, "Leichte Sprache");
  langBar.appendChild(englishButton);
  langBar.appendChild(easyButton);
  panel.appendChild(langBar);
  function showRegister() {
    var english = register === "en";
    englishButton.textContent = english ? "Deutsch" : "English";
    englishButton.setAttribute("lang", english ? "de" : "en");
    englishButton.setAttribute("aria-pressed", "false");
    easyButton.setAttribute("aria-pressed", register === "einfach" ? "true" : "false");
    easyButton.hidden = english;
  }
  showRegister();

  var menu = el("div", { id: "rb-menu", class: "rb-menu", hidden: "" });
  var human = el("button", { type: "button", class: "rb-human" }, "Mit einem Menschen sprechen");
  var end = el("button", { type: "button", class: "rb-end" }, "Gespräch beenden und löschen");
  menu.appendChild(human);
  menu.appendChild(end);

  var status = el("p", { class: "rb-status", role: "status", "aria-live": "polite" });
  var log = el("div", { class: "rb-log", role: "log", "aria-live": "polite",
    "aria-label": "Gesprächsverlauf", tabindex: "0" });
  var typing = el("p", { class: "rb-typing", hidden: "" }, "Der Assistent schreibt …");
  var confirmBox = el("div", { class: "rb-confirm", hidden: "", role: "group", "aria-labelledby": "rb-confirm-text" });
  confirmBox.appendChild(el("p", { id: "rb-confirm-text" },
    "Gespräch wirklich beenden? Der Verlauf wird gelöscht. Gehört er zu einem Vorgang, " +
    "bleibt er dort gespeichert, bis der Vorgang abgeschlossen ist; danach sagen wir Ihnen, " +
    "was gelöscht wurde und was wie lange bleibt."));
  var keep = el("div", { class: "rb-keep", hidden: "" });
  keep.appendChild(el("p", {}, "Notieren Sie sich vorher Ihre Nummern:"));
  var keepList = el("ul", { class: "rb-refs" });
  keep.appendChild(keepList);
  var saveRefs = el("button", { type: "button", class: "rb-save" }, "Nummern speichern (Textdatei)");
  keep.appendChild(saveRefs);
  confirmBox.appendChild(keep);
  var confirmYes = el("button", { type: "button", class: "rb-confirm-yes" }, "Ja, beenden und löschen");
  var confirmNo = el("button", { type: "button", class: "rb-confirm-no" }, "Abbrechen");
  confirmBox.appendChild(confirmYes);
  confirmBox.appendChild(confirmNo);
  var form = el("form", { class: "rb-form", novalidate: "" });
  var inputLabel = el("label", { for: "rb-input", class: "rb-sr" }, "Ihre Nachricht");
  form.appendChild(inputLabel);
  var input = el("input", { id: "rb-input", type: "text", autocomplete: "off",
    placeholder: "Ihre Frage …", enterkeyhint: "send", "aria-describedby": "rb-counter" });
  form.appendChild(input);
  var send = el("button", { type: "submit", class: "rb-send" }, "Senden");
  form.appendChild(send);
  var counter = el("p", { id: "rb-counter", class: "rb-counter" });
  var announce = el("p", { class: "rb-sr", role: "status", "aria-live": "polite" });
  [menu, status, log, typing, confirmBox, form, counter, announce].forEach(function (n) { panel.appendChild(n); });
  function showLabels() {
    var words = LABELS[register === "en" ? "en" : "de"];
    DISCLOSURE = words.disclosure;
    if (!staffName) setDisclosure(DISCLOSURE);
    privacy.textContent = words.privacy;
    menuButton.setAttribute("aria-label", words.more);
    closeButton.setAttribute("aria-label", words.close);
    human.textContent = words.human;
    end.textContent = words.end;
    inputLabel.textContent = words.message;
    input.setAttribute("placeholder", words.placeholder);
    send.textContent = words.send;
    panel.setAttribute("lang", register === "en" ? "en" : "de");
  }
  showLabels();
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

  // Long words (addresses, URLs) may break after @ . / - _ rather than mid-word.
  function appendWrapped(node, text) {
    text.split(/(\S{16,})/).forEach(function (part, i) {
      if (i % 2 === 0) { if (part) node.appendChild(document.createTextNode(part)); return; }
      part.split(/(?<=[@./_\-?&=])/).forEach(function (piece, j) {
        if (j) node.appendChild(document.createElement("wbr"));
        node.appendChild(document.createTextNode(piece));
      });
    });
  }

  // history lines carry their time ("at", Unix seconds); live lines are shown as they come
  function lineTime(line, fallback) {
    return typeof line.at === "number" && isFinite(line.at) ? new Date(line.at * 1000) : fallback;
  }

  function clock(date) {
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2) + " Uhr";
  }

  function addMessage(kind, text, when, name) {
    var item = el("div", { class: "rb-msg rb-" + kind });
    var who = { user: "Sie: ", bot: "Assistent: ", system: "Hinweis: ",
                staff: (name || "Mitarbeiterin") + " (Stadtverwaltung): " }[kind];
    if (kind === "staff") {
      // seen and heard: who of the town hall wrote this (the assistant's lines have no name)
      item.appendChild(el("span", { class: "rb-who", "aria-hidden": "true" }, (name || "Mitarbeiterin") + " · Stadtverwaltung"));
    }
    item.appendChild(el("span", { class: "rb-sr" }, who));
    var body = el("span", { class: "rb-text" });
    appendWrapped(body, text);
    item.appendChild(body);
    if (when) {
      item.appendChild(el("time", { class: "rb-time", datetime: when.toISOString() }, clock(when)));
      item.title = clock(when); // on hover; the log shows all times while it has focus
    }
    log.appendChild(item);
    noteReferences(text);
    scrollDown();
    return item;
  }

  var references = []; // [{ref, name}] given in this conversation, in order
  var staffName = null; // the clerk who answers now (live takeover), else null
  function noteReferences(text) {
    (text.match(REFERENCE) || []).forEach(function (ref) {
      if (references.some(function (r) { return r.ref === ref; })) return;
      references.push({ ref: ref, name: REFERENCE_NAMES[ref.charAt(0)] });
    });
  }

  function clearQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".rb-quick"), function (q) { q.remove(); });
    human.hidden = !!staffName; // a clerk already answers: no "talk to a person" then
  }

  function renderLine(line, when) {
    if (line.type === "user") {
      clearQuickReplies();
      addMessage("user", line.text, when);
    } else if (line.type === "bot") {
      var item = line.text ? addMessage("bot", line.text, when) : null;
      var booked = line.text ? BOOKED.exec(line.text) : null;
      if (item && booked) item.appendChild(calendarButton(booked));
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
          // one "talk to a person" control at a time: the reply button replaces the menu's
          if (b.payload === HUMAN_PAYLOAD) human.hidden = true;
        });
        log.appendChild(quick);
      }
      scrollDown();
    } else if (line.type === "staff") {
      clearQuickReplies();
      addMessage("staff", line.text, when, line.name);
    } else if (line.type === "handoff" && line.state === "taken") {
      addMessage("system", "Sie schreiben jetzt mit " + (line.name || "einer Mitarbeiterin") +
        " (Stadtverwaltung).", when);
      staffName = line.name || "Eine Mitarbeiterin";
      setDisclosure("Sie schreiben mit " + staffName + " (Stadtverwaltung). ");
      human.hidden = true;
    } else if (line.type === "handoff" && line.state === "returned") {
      addMessage("system", "Sie schreiben wieder mit dem automatischen Assistenten.", when);
      staffName = null;
      setDisclosure(DISCLOSURE);
      human.hidden = false;
    } else if (line.type === "handoff") {
      addMessage("system", "Ihr Anliegen wurde an unsere Mitarbeiterinnen und Mitarbeiter übergeben." +
        (line.case_id ? " Ihre Vorgangsnummer: " + line.case_id + "." : ""), when);
    }
  }

  // --- files: the appointment as iCalendar, the references as text ----------------------
  function download(name, type, text) {
    var url = URL.createObjectURL(new Blob([text], { type: type }));
    var a = el("a", { href: url, download: name, hidden: "" });
    root.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function icsText(value) { return value.replace(/[\\;,]/g, "\\$&").replace(/\n/g, "\\n"); }

  function icsFold(line) { // RFC 5545: at most 75 octets a line, continued with a space
    var out = "", bytes = 0, encoder = new TextEncoder();
    Array.from(line).forEach(function (ch) {
      var size = encoder.encode(ch).length;
      if (bytes + size > 74) { out += "\r\n "; bytes = 1; }
      out += ch;
      bytes += size;
    });
    return out;
  }

  function calendar(booked) {
    var stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
    var start = booked[4] + booked[3] + booked[2] + "T" + ("0" + booked[5]).slice(-2) + booked[6] + "00";
    return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//rathausbot//Chat-Widget//DE",
      "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
      "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
      "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
      "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
      "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
      "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
      "END:VTIMEZONE",
      "BEGIN:VEVENT", "UID:" + booked[8] + "@" + src.hostname, "DTSTAMP:" + stamp,
      "DTSTART;TZID=Europe/Berlin:" + start,
      "SUMMARY:" + icsText("Termin: " + booked[1]),
      "LOCATION:" + icsText(booked[7]),
      "DESCRIPTION:" + icsText("Buchungsnummer: " + booked[8] + ". Damit können Sie den Termin auch absagen."),
      "END:VEVENT", "END:VCALENDAR"].map(icsFold).join("\r\n") + "\r\n";
  }

  function calendarButton(booked) {
    var button = el("button", { type: "button", class: "rb-ics" }, "Termin in den Kalender (.ics)");
    button.addEventListener("click", function () {
      download("termin-" + booked[8] + ".ics", "text/calendar;charset=utf-8", calendar(booked));
    });
    return button;
  }

  function referencesText() {
    return cfg.title + " – Ihre Nummern aus dem Chat (" + new Date().toLocaleString("de-DE") + ")\r\n" +
      references.map(function (r) { return r.name + ": " + r.ref; }).join("\r\n") + "\r\n";
  }

  // --- connection ------------------------------------------------------------------------
  var ws = null;
  var state = "closed"; // closed | connecting | ready | idle | offline | refused
  var backoff = 1000;
  var retryTimer = null;
  var pending = {};
  var seq = 0;
  var queued = null; // a message typed while the socket was idle or closed
  var rateNotice = null; // the one "you send very fast" notice

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
      var hello = { type: "hello", v: 2, token: storedToken(), language: cfg.language };
      if (cfg.einfach) hello.einfach = true;
      socket.send(JSON.stringify(hello));
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

  function resetLog() {
    log.textContent = "";
    staffName = null;
    setDisclosure(DISCLOSURE);
    references = [];
    rateNotice = null;
    human.hidden = false;
  }

  function markFailed(item, code) {
    item.classList.remove("rb-pending");
    item.classList.add("rb-failed");
    item.appendChild(el("span", { class: "rb-note" }, " (nicht gesendet)"));
    if (RETRYABLE.indexOf(code) < 0 || !item.rbFrame) return;
    var what = item.rbShown.length > 60 ? item.rbShown.slice(0, 59) + "…" : item.rbShown;
    var retry = el("button", { type: "button", class: "rb-retry", "aria-label": "Erneut senden: " + what },
      "Erneut senden");
    retry.addEventListener("click", function () {
      var frame = item.rbFrame;
      item.remove();
      delete frame.id;
      submit(frame, item.rbShown);
      input.focus();
    });
    item.appendChild(retry);
  }

  function handle(msg) {
    switch (msg.type) {
      case "welcome":
        state = "ready";
        backoff = 1000;
        setStatus("");
        storeToken(msg.token);
        resetLog();
        pending = {};
        (msg.history || []).forEach(function (line) { renderLine(line, lineTime(line, null)); });
        if (queued) { var q = queued; queued = null; submit(q[0], q[1]); }
        break;
      case "ack":
        var item = pending[msg.id];
        if (item) { item.classList.remove("rb-pending"); delete pending[msg.id]; }
        break;
      case "typing":
        // a clerk holds the chat: the assistant does not answer, nor may its end of a turn
        // hide the clerk's "schreibt …"
        if (!msg.name && staffName) break;
        typing.textContent = msg.name ? msg.name + " (Stadtverwaltung) schreibt …" : "Der Assistent schreibt …";
        typing.hidden = !msg.on;
        break;
      case "user": case "bot": case "staff": case "handoff":
        renderLine(msg, lineTime(msg, new Date()));
        break;
      case "error":
        if (msg.id && pending[msg.id]) {
          markFailed(pending[msg.id], msg.code);
          delete pending[msg.id];
        }
        if (msg.code === "rate_limited" && rateNotice && rateNotice.isConnected) {
          log.appendChild(rateNotice); // one notice, moved below the latest message
          scrollDown();
        } else {
          var notice = addMessage("system", msg.text, new Date());
          if (msg.code === "rate_limited") rateNotice = notice;
        }
        break;
      case "ended":
        storeToken(null);
        resetLog();
        addMessage("system", typeof msg.text === "string" && msg.text ? msg.text :
          "Das Gespräch wurde beendet und gelöscht. Sie können jederzeit ein neues Gespräch beginnen.", new Date());
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
    var item = addMessage("user", shown, new Date());
    item.classList.add("rb-pending");
    item.rbFrame = frame;
    item.rbShown = shown;
    pending[frame.id] = item;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // --- the length limit --------------------------------------------------------------------
  var announced = null;
  function updateCounter() {
    var left = cfg.maxChars - Array.from(input.value).length;
    input.setAttribute("aria-invalid", left < 0 ? "true" : "false");
    counter.classList.toggle("rb-over", left < 0);
    counter.textContent = left > COUNTER_FROM ? "" : left >= 0 ? "Noch " + left + " Zeichen" :
      (-left) + " Zeichen zu viel";
    // screen readers hear the counter at a few steps, not at every key
    var step = left < 0 ? "over" : [0, 20, 50, 100, COUNTER_FROM].filter(function (s) { return left <= s; })[0];
    if (step !== announced) {
      announced = step;
      announce.textContent = step === undefined ? "" : counter.textContent;
    }
  }

  // --- controls --------------------------------------------------------------------------
  function isModal() { return !panel.hidden && phone.matches; }
  function updateModal() { panel.setAttribute("aria-modal", phone.matches ? "true" : "false"); }

  function focusables() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("button, a[href], input, [tabindex='0']"),
      function (node) { return node.getClientRects().length > 0 && !node.disabled; });
  }

  function open() {
    updateModal();
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    try { sessionStorage.setItem(OPEN_KEY, "1"); } catch (e) { /* ignore */ }
    connect();
    input.focus();
  }
  function close() {
    setMenu(false);
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    try { sessionStorage.removeItem(OPEN_KEY); } catch (e) { /* ignore */ }
    launcher.focus();
  }
  function setMenu(on) {
    menu.hidden = !on;
    menuButton.setAttribute("aria-expanded", on ? "true" : "false");
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  menuButton.addEventListener("click", function () {
    setMenu(menu.hidden);
    if (!menu.hidden) focusables().filter(function (n) { return menu.contains(n); })[0].focus();
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault(); // handled here, not again by the page-level listener
      if (!menu.hidden) { setMenu(false); menuButton.focus(); } else close();
      return;
    }
    if (event.key !== "Tab" || !isModal()) return;
    // modal at phone width: Tab and Shift+Tab go round inside the panel
    var nodes = focusables();
    var first = nodes[0], last = nodes[nodes.length - 1], active = root.activeElement;
    if (event.shiftKey && (active === first || !panel.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !panel.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    // focus may sit on the page after a button vanished: Escape still closes an open chat
    if (event.key === "Escape" && !panel.hidden && !event.defaultPrevented &&
        (event.target === document.body || event.target === host)) close();
  });
  document.addEventListener("focusin", function (event) {
    // the modal panel covers the page: focus that lands on the page comes back to the chat
    if (isModal() && event.target !== host) input.focus();
  });
  phone.addEventListener("change", updateModal);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    var length = Array.from(text).length;
    if (length > cfg.maxChars) {
      addMessage("system", "Ihre Nachricht ist " + length + " Zeichen lang; höchstens " + cfg.maxChars +
        " sind möglich. Bitte kürzen Sie sie oder senden Sie sie in mehreren Teilen.", new Date());
      input.focus();
      return;
    }
    if (submit({ type: "text", text: text }, text)) { input.value = ""; updateCounter(); }
  });
  input.addEventListener("input", updateCounter);
  // while a clerk answers, they see that the citizen is typing (at most every 2 s)
  var typedAt = 0;
  var typingStop = null;
  function sendTyping(on) {
    if (ws && state === "ready") ws.send(JSON.stringify({ type: "typing", on: on }));
  }
  input.addEventListener("input", function () {
    if (!staffName) return;
    var now = Date.now();
    if (now - typedAt > 2000) { typedAt = now; sendTyping(true); }
    clearTimeout(typingStop);
    typingStop = setTimeout(function () { typedAt = 0; sendTyping(false); }, 3000);
  });
  input.addEventListener("focus", function () { if (state === "idle") connect(); });
  function chooseRegister(next, title) {
    if (submit({ type: "choice", payload: '/change_language{"language":"' + next + '"}', title: title },
      title)) {
      register = next;
      showRegister();
      showLabels();
    }
  }
  englishButton.addEventListener("click", function () {
    if (register === "en") chooseRegister("de", "Deutsch"); else chooseRegister("en", "English");
  });
  easyButton.addEventListener("click", function () {
    if (register === "einfach") chooseRegister("de", "Normale Sprache");
    else chooseRegister("einfach", "Leichte Sprache");
  });
  human.addEventListener("click", function () {
    setMenu(false);
    submit({ type: "human" }, "Mit einem Menschen sprechen");
    input.focus();
  });
  end.addEventListener("click", function () {
    setMenu(false);
    keepList.textContent = "";
    references.forEach(function (r) { keepList.appendChild(el("li", {}, r.name + ": " + r.ref)); });
    keep.hidden = references.length === 0;
    confirmBox.hidden = false;
    (references.length ? saveRefs : confirmNo).focus();
  });
  saveRefs.addEventListener("click", function () {
    download("rathausbot-nummern.txt", "text/plain;charset=utf-8", referencesText());
  });
  confirmNo.addEventListener("click", function () { confirmBox.hidden = true; menuButton.focus(); });
  confirmYes.addEventListener("click", function () {
    confirmBox.hidden = true;
    if (ws && state === "ready") ws.send(JSON.stringify({ type: "end" }));
    else { storeToken(null); resetLog(); }
    input.focus();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !panel.hidden && (state === "idle" || state === "offline")) connect();
  });

  // --- browser calls (call.js, loaded only where the browser can call) -------------------
  var callBar = el("div", { class: "rb-call", hidden: "" });
  panel.insertBefore(callBar, menu);
  var LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];
  if (data.calls !== "false" && window.RTCPeerConnection && navigator.mediaDevices &&
      navigator.mediaDevices.getUserMedia && (window.isSecureContext || LOOPBACK.indexOf(location.hostname) >= 0)) {
    var callScript = el("script", { src: new URL("call.js", src).href, defer: "" });
    callScript.addEventListener("load", function () {
      if (typeof window.__rathausbotCall !== "function") return;
      window.__rathausbotCall({
        bar: callBar, root: root, el: el, base: src.origin,
        token: storedToken, connect: connect,
        ready: function () { return state === "ready" && !!ws; },
        send: function (frame) { if (state !== "ready" || !ws) return false; ws.send(JSON.stringify(frame)); return true; },
        note: function (text) { return addMessage("system", text, new Date()); },
      });
    });
    document.head.appendChild(callScript);
  }

  function mount() {
    document.body.appendChild(host);
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* ignore */ }
    if (cfg.open || wasOpen) open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
