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
