// Live inbox: server-sent events from /console/events make htmx reload the rows
// (hx-trigger="rb-inbox from:body") and announce new cases to screen readers.
(function () {
  "use strict";
  var rows = document.getElementById("rows");
  if (!rows || !window.EventSource) {
    return;
  }
  var live = document.getElementById("live");
  var source = new EventSource("/console/events");
  function refresh() {
    document.body.dispatchEvent(new CustomEvent("rb-inbox"));
  }
  source.addEventListener("opened", function (event) {
    var id = "";
    try {
      id = JSON.parse(event.data).id;
    } catch (error) {
      id = "";
    }
    if (live) {
      live.textContent = "Neuer Vorgang eingegangen: " + id;
    }
    refresh();
  });
  source.addEventListener("changed", refresh);
  source.addEventListener("ready", function () {
    document.body.setAttribute("data-live", "ready");
  });
})();

// Live conversation on a chat case: new lines arrive by server-sent events from
// /console/case/{id}/live and are added as text (never as markup); the holder's replies
// and typing are posted without leaving the page.
(function () {
  "use strict";
  var pane = document.getElementById("live-chat");
  var log = document.getElementById("live-log");
  if (!pane || !log || !window.EventSource) {
    return;
  }
  var caseId = pane.getAttribute("data-case");
  var base = "/console/case/" + encodeURIComponent(caseId);
  var state = document.getElementById("live-state");
  var typing = document.getElementById("live-typing");
  var labels = { user: "Bürger/in", bot: "Assistent", system: "System", staff: "Personal" };
  var typingTimer = null;

  function addLine(line) {
    var item = document.createElement("li");
    item.className = "line role-" + (labels[line.role] ? line.role : "system");
    var meta = document.createElement("div");
    meta.className = "meta";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = (labels[line.role] || "System") + (line.name ? " (" + line.name + ")" : "");
    meta.appendChild(who);
    var when = new Date((line.at || 0) * 1000);
    var time = document.createElement("time");
    time.dateTime = when.toISOString();
    // German time, as the server writes the history's times
    time.textContent = when.toLocaleString("de-DE", {
      timeZone: "Europe/Berlin", day: "2-digit", month: "2-digit", year: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).replace(",", "");
    meta.appendChild(time);
    item.appendChild(meta);
    var text = document.createElement("p");
    text.className = "text";
    text.textContent = line.text;
    item.appendChild(text);
    log.appendChild(item);
    if (line.marker && state) {
      state.textContent = line.text;
    }
    if (line.role === "user" && typing) {
      typing.textContent = "";
    }
  }

  var source = new EventSource(base + "/live");
  source.addEventListener("line", function (event) {
    try {
      addLine(JSON.parse(event.data));
    } catch (error) {
      return;
    }
  });
  source.addEventListener("typing", function (event) {
    var on = false;
    try {
      on = JSON.parse(event.data).on === true;
    } catch (error) {
      on = false;
    }
    if (!typing) {
      return;
    }
    typing.textContent = on ? "Bürger/in schreibt …" : "";
    clearTimeout(typingTimer);
    if (on) {
      typingTimer = setTimeout(function () { typing.textContent = ""; }, 8000);
    }
  });
  source.addEventListener("ready", function () {
    pane.setAttribute("data-live", "ready");
  });

  var form = document.getElementById("reply-form");
  var box = document.getElementById("reply");
  if (!form || !box) {
    return;
  }
  var csrf = form.querySelector("input[name=csrf]").value;
  function post(path, fields) {
    var body = new URLSearchParams(fields);
    body.set("csrf", csrf);
    return fetch(base + path, {
      method: "POST",
      body: body,
      headers: { accept: "application/json", "x-csrf-token": csrf },
      credentials: "same-origin"
    });
  }
  var snippet = document.getElementById("snippet");
  if (snippet) {
    snippet.addEventListener("change", function () {
      if (snippet.value) {
        box.value = box.value ? box.value + " " + snippet.value : snippet.value;
        snippet.value = "";
        box.focus();
      }
    });
  }
  var typedAt = 0;
  var stopTimer = null;
  box.addEventListener("input", function () {
    var now = Date.now();
    if (now - typedAt > 2000) {
      typedAt = now;
      post("/typing", { on: "1" });
    }
    clearTimeout(stopTimer);
    stopTimer = setTimeout(function () { typedAt = 0; post("/typing", { on: "0" }); }, 3000);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = box.value;
    if (!text.trim()) {
      return;
    }
    clearTimeout(stopTimer);
    typedAt = 0;
    post("/reply", { text: text }).then(function (response) {
      return response.json();
    }).then(function (answer) {
      if (answer.ok) {
        box.value = "";
      } else if (state) {
        state.textContent = answer.notice;
      }
      box.focus();
    }).catch(function () {
      if (state) {
        state.textContent = "Die Antwort konnte nicht gesendet werden. Bitte erneut versuchen.";
      }
    });
  });
})();
