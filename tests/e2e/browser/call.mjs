// A browser call from the widget: Debian's chromium with a fake microphone that plays a WAV
// once (--use-file-for-fake-audio-capture=...%noloop), driven by playwright-core against a
// running gateway. Prints what it observed as JSON on the last line of stdout; the pytest
// side (tests/e2e/test_webrtc_browser.py) asserts.
// Usage: node call.mjs BASE_URL CALLER_WAV LISTEN_SECONDS
import { chromium } from "playwright-core";

const [base, wav, listen] = process.argv.slice(2);
const WAIT = { timeout: 60000 }; // a safety net for a busy machine, not a speed target

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}%noloop`,
    "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
  ],
});

function shadow(page) {
  return page.locator("#rathausbot-chat");
}

async function logTexts(page) {
  return page.getByRole("log").evaluate((log) =>
    Array.from(log.querySelectorAll(".rb-msg")).map((m) => ({
      kind: m.classList.contains("rb-user") ? "user" : m.classList.contains("rb-bot") ? "bot" : "system",
      text: m.querySelector(".rb-text").textContent,
    })),
  );
}

// packets of the bot's audio the browser received so far (getStats on the call's connection)
async function packetsReceived(page) {
  return page.evaluate(async () => {
    const pcs = window.__rbPeerConnections || [];
    let total = 0;
    for (const pc of pcs) {
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "audio") total += s.packetsReceived;
      });
    }
    return total;
  });
}

let result;
try {
  const context = await browser.newContext({ locale: "de-DE" });
  // keep a handle on the page's peer connections (the widget does not expose them)
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__rbPeerConnections = [];
    window.RTCPeerConnection = function (config) {
      const pc = new Native(config);
      window.__rbPeerConnections.push(pc);
      return pc;
    };
    window.RTCPeerConnection.prototype = Native.prototype;
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");
  await page.getByRole("button", { name: "Chat öffnen" }).click();
  await page.getByRole("log").locator(".rb-bot").first().waitFor(WAIT);
  const call = page.getByRole("button", { name: "Anrufen", exact: true });
  await call.waitFor(WAIT);
  await call.click();
  const state = shadow(page).locator(".rb-call-state");
  await page.waitForFunction(
    () => document.querySelector("#rathausbot-chat").shadowRoot
      .querySelector(".rb-call-state").textContent.includes("verbunden"),
    null, WAIT,
  );
  const connected = await state.textContent();
  // record what the browser receives (the bot's voice), to be transcribed by the test
  await page.evaluate(() => {
    const pc = window.__rbPeerConnections[window.__rbPeerConnections.length - 1];
    const track = pc.getReceivers().map((r) => r.track).find((t) => t && t.kind === "audio");
    const recorder = new MediaRecorder(new MediaStream([track]), { mimeType: "audio/webm;codecs=opus" });
    window.__rbChunks = [];
    recorder.ondataavailable = (e) => window.__rbChunks.push(e.data);
    recorder.start(1000);
    window.__rbRecorder = recorder;
  });
  const hangUpName = await page.getByRole("button", { name: "Auflegen" }).count();
  const first = await packetsReceived(page);
  await page.waitForTimeout(Number(listen) * 1000); // the WAV plays its question meanwhile
  const later = await packetsReceived(page);
  const log = await logTexts(page);
  const recording = await page.evaluate(async () => {
    const recorder = window.__rbRecorder;
    const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
    recorder.stop();
    await stopped;
    const bytes = new Uint8Array(await new Blob(window.__rbChunks).arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  });
  await page.getByRole("button", { name: "Auflegen" }).click();
  await page.waitForFunction(
    () => document.querySelector("#rathausbot-chat").shadowRoot
      .querySelector(".rb-call-state").textContent.includes("beendet"),
    null, WAIT,
  );
  result = {
    connected, hangUpName, first, later, log, recording,
    ended: await state.textContent(),
    callAgain: await page.getByRole("button", { name: "Anrufen", exact: true }).count(),
    pageErrors: errors,
  };
} catch (error) {
  result = { error: String(error && error.stack ? error.stack : error) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
