/* rathausbot browser calls: the "Anrufen" button of the chat widget (widget.js loads this file
 * only where WebRTC and the microphone can work: a secure page or localhost). Offer/answer go
 * over HTTP (POST /webrtc/offer), keys as chat frames, the transcript arrives in the chat log.
 * Every text is set with textContent. docs/webrtc.md describes the deployment. */
(function () {
  "use strict";
  window.__rathausbotCall = function (api) {
    var el = api.el;
    var bar = api.bar;
    var KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
    var GATHER_MS = 3000; // the offer goes whole (no trickle ICE); a slow STUN server is cut off

    var callButton = el("button", { type: "button", class: "rb-call-start" }, "Anrufen");
    var hangButton = el("button", { type: "button", class: "rb-call-end", hidden: "" }, "Auflegen");
    var muteButton = el("button", { type: "button", class: "rb-call-mute", "aria-pressed": "false", hidden: "" },
      "Stummschalten");
    var padButton = el("button", { type: "button", class: "rb-call-keys", "aria-expanded": "false",
      "aria-controls": "rb-keypad", hidden: "" }, "Tastenfeld");
    var state = el("p", { class: "rb-call-state", role: "status", "aria-live": "polite" });
    var pad = el("div", { id: "rb-keypad", class: "rb-keypad", role: "group", "aria-label": "Tastenfeld", hidden: "" });
    KEYS.forEach(function (key) {
      var button = el("button", { type: "button", class: "rb-key", "aria-label": "Taste " + key }, key);
      button.addEventListener("click", function () {
        if (!api.send({ type: "key", key: key })) setState("Taste nicht gesendet: keine Verbindung zum Chat.");
      });
      pad.appendChild(button);
    });
    var audio = el("audio", { autoplay: "", class: "rb-call-audio" });
    [callButton, hangButton, muteButton, padButton, state, pad, audio].forEach(function (n) { bar.appendChild(n); });
    bar.hidden = false;

    var pc = null, stream = null, callId = null, muted = false, phase = "idle";

    function setState(text) { state.textContent = text; }
    function show(inCall) {
      callButton.hidden = inCall;
      hangButton.hidden = !inCall;
      muteButton.hidden = !inCall;
      padButton.hidden = !inCall;
      if (!inCall) { pad.hidden = true; padButton.setAttribute("aria-expanded", "false"); }
    }

    function release() {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      if (pc) pc.close();
      pc = null; stream = null; audio.srcObject = null;
      muted = false;
      muteButton.setAttribute("aria-pressed", "false");
      muteButton.textContent = "Stummschalten";
    }

    function end(text) {
      if (phase === "idle") return;
      phase = "idle";
      if (callId) {
        fetch(api.base + "/webrtc/" + encodeURIComponent(callId), { method: "DELETE", keepalive: true })
          .catch(function () { /* the gateway ends it on ICE loss anyway */ });
      }
      callId = null;
      release();
      show(false);
      setState(text || "Anruf beendet.");
      callButton.focus();
    }

    function gathered(connection) {
      if (connection.iceGatheringState === "complete") return Promise.resolve();
      return new Promise(function (resolve) {
        var timer = setTimeout(resolve, GATHER_MS);
        connection.addEventListener("icegatheringstatechange", function () {
          if (connection.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
        });
      });
    }

    async function start() {
      var token = api.token();
      if (!token || !api.ready()) {
        api.connect();
        setState("Der Chat verbindet sich noch. Bitte versuchen Sie es gleich noch einmal.");
        return;
      }
      phase = "starting";
      show(true);
      setState("Ihr Browser fragt gleich nach dem Mikrofon. Wir hören nur während des Anrufs " +
        "zu; mit „Auflegen“ endet er.");
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      } catch (e) {
        phase = "idle";
        release();
        show(false);
        setState("Ohne Mikrofon ist kein Anruf möglich. Sie können uns gerne weiter schreiben.");
        return;
      }
      if (phase !== "starting") { release(); return; } // hung up meanwhile
      setState("Anruf: verbindet …");
      try {
        var servers = [];
        var ice = await fetch(api.base + "/webrtc/ice-servers");
        if (ice.ok) servers = (await ice.json()).iceServers || [];
        pc = new RTCPeerConnection({ iceServers: servers });
        var connection = pc;
        stream.getTracks().forEach(function (t) { connection.addTrack(t, stream); });
        connection.addEventListener("track", function (event) {
          audio.srcObject = event.streams[0] || new MediaStream([event.track]);
          audio.play().catch(function () { /* autoplay policy: the click allows it */ });
        });
        connection.addEventListener("connectionstatechange", function () {
          if (connection !== pc) return;
          var s = connection.connectionState;
          if (s === "connected") { phase = "connected"; setState("Anruf: verbunden"); }
          else if (s === "failed") end("Die Verbindung ist abgebrochen. Anruf beendet.");
          else if (s === "closed") end();
        });
        await connection.setLocalDescription(await connection.createOffer());
        await gathered(connection);
        if (connection !== pc) return;
        var response = await fetch(api.base + "/webrtc/offer", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ sdp: connection.localDescription.sdp, type: "offer", session_token: token }),
        });
        var answer = await response.json().catch(function () { return {}; });
        if (!response.ok) { end(answer.message || "Der Anruf ist gerade nicht möglich."); return; }
        if (connection !== pc) return;
        callId = answer.call_id;
        await connection.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
      } catch (e) {
        end("Der Anruf konnte nicht aufgebaut werden. Sie können uns gerne weiter schreiben.");
      }
    }

    callButton.addEventListener("click", function () { start(); });
    hangButton.addEventListener("click", function () { end(); });
    muteButton.addEventListener("click", function () {
      if (!stream) return;
      muted = !muted;
      stream.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
      muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
      muteButton.textContent = muted ? "Stummschaltung aufheben" : "Stummschalten";
      setState(muted ? "Anruf: verbunden, Ihr Mikrofon ist stumm." : "Anruf: verbunden");
    });
    padButton.addEventListener("click", function () {
      pad.hidden = !pad.hidden;
      padButton.setAttribute("aria-expanded", pad.hidden ? "false" : "true");
    });
    window.addEventListener("pagehide", function () {
      if (callId && navigator.sendBeacon) navigator.sendBeacon(api.base + "/webrtc/" + encodeURIComponent(callId) + "/hangup");
    });
  };
})();
