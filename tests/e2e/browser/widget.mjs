// Drives Debian's chromium with playwright-core through one scenario against a running
// gateway and prints what it observed as JSON on the last line of stdout; the pytest side
// (tests/e2e/test_webchat_browser.py, test_widget_layout.py) asserts.
// Usage: node widget.mjs SCENARIO BASE_URL [SITE_URL | WIDTH SCREENSHOT_DIR]
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const [scenario, base, site, shots] = process.argv.slice(2); // site: another origin's page (embedded)
const WAIT = { timeout: 60000 }; // a safety net for a busy machine, not a speed target

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

function host(page) {
  return page.locator("#rathausbot-chat");
}

// The widget's own labels, as a citizen sees them (the language follows the conversation).
async function labels(page) {
  return {
    send: await page.locator(".rb-send").innerText(),
    placeholder: await page.locator("#rb-input").getAttribute("placeholder"),
    human: await page.locator(".rb-human").textContent(),
    disclosure: await page.locator("#rb-disclosure").textContent(),
  };
}

async function logTexts(page) {
  return page.getByRole("log").evaluate((log) =>
    Array.from(log.querySelectorAll(".rb-msg")).map((m) => ({
      kind: m.classList.contains("rb-user") ? "user" : m.classList.contains("rb-bot") ? "bot" : "system",
      text: m.querySelector(".rb-text").textContent,
    })),
  );
}

async function botCount(page) {
  return (await logTexts(page)).filter((m) => m.kind === "bot").length;
}

async function waitForBotAfter(page, count) {
  await page.waitForFunction(
    (n) => document.querySelector("#rathausbot-chat").shadowRoot.querySelectorAll(".rb-bot").length > n,
    count,
    WAIT,
  );
}

async function openChat(page) {
  await page.getByRole("button", { name: "Chat öffnen" }).click();
  await page.getByRole("log").locator(".rb-bot").first().waitFor(WAIT);
}

// "Mit einem Menschen sprechen": the reply button where the assistant offers one, else the menu's.
async function askHuman(page) {
  const chip = page.getByRole("group", { name: "Antwortvorschläge" })
    .getByRole("button", { name: "Mit einem Menschen sprechen", exact: true });
  if (await chip.count()) return chip.last().click();
  await page.getByRole("button", { name: "Weitere Aktionen" }).click();
  await page.getByRole("button", { name: "Mit einem Menschen sprechen", exact: true }).click();
}

async function endConversation(page) {
  await page.getByRole("button", { name: "Weitere Aktionen" }).click();
  await page.getByRole("button", { name: "Gespräch beenden und löschen" }).click();
}

async function say(page, text) {
  const before = await botCount(page);
  // the widget's labels follow the conversation's language (German or English)
  await page.getByRole("textbox", { name: /^(Ihre Nachricht|Your message)$/ }).fill(text);
  await page.getByRole("button", { name: /^(Senden|Send)$/ }).click();
  await waitForBotAfter(page, before);
  await page.waitForFunction(
    () => !document.querySelector("#rathausbot-chat").shadowRoot.querySelector(".rb-pending"),
    null,
    WAIT,
  );
}

const scenarios = {
  // Open, ask, click a quick reply, ask for a person, reload and see the history.
  async conversation(page) {
    await page.goto(base + "/");
    await openChat(page);
    const header = await page.locator("#rathausbot-chat .rb-header").innerText();
    const privacy = await page.getByRole("link", { name: "Datenschutzhinweise" }).getAttribute("href");
    const greetingButtons = await page.getByRole("group", { name: "Antwortvorschläge" }).getByRole("button").allInnerTexts();
    await say(page, "Hilfe, es brennt in meiner Küche!");
    await say(page, "Bin ich hier mit einem echten Menschen verbunden?");
    const challengeButtons = await page.getByRole("group", { name: "Antwortvorschläge" }).getByRole("button").allInnerTexts();
    const before = await botCount(page);
    await page.getByRole("group", { name: "Antwortvorschläge" }).getByRole("button").last().click();
    await waitForBotAfter(page, before);
    await askHuman(page);
    await page.locator("#rathausbot-chat .rb-system").filter({ hasText: "Vorgangsnummer" }).waitFor(WAIT);
    const beforeReload = await logTexts(page);
    await page.reload();
    await page.getByRole("log").locator(".rb-system").filter({ hasText: "Vorgangsnummer" }).waitFor(WAIT);
    const afterReload = await logTexts(page);
    const times = await page.getByRole("log").evaluate((log) =>
      Array.from(log.querySelectorAll(".rb-msg")).map((m) => {
        const t = m.querySelector("time");
        return t ? { datetime: t.getAttribute("datetime"), text: t.textContent, title: m.title } : null;
      }),
    );
    return { header, privacy, greetingButtons, challengeButtons, beforeReload, afterReload, times };
  },

  // Keyboard only: Tab to the launcher, Enter, type, Enter, Tab to buttons, Escape.
  async keyboard(page) {
    await page.goto(base + "/");
    const focused = () =>
      page.evaluate(() => {
        const shadow = document.querySelector("#rathausbot-chat").shadowRoot;
        const el = shadow.activeElement || document.activeElement;
        const style = el ? getComputedStyle(el) : null;
        return {
          inWidget: !!shadow.activeElement,
          tag: el ? el.tagName : null,
          id: el ? el.id : null,
          text: el ? (el.getAttribute("aria-label") || el.textContent || "").trim() : null,
          outline: style ? style.outlineStyle + " " + style.outlineWidth : null,
        };
      });
    let tabs = 0;
    for (; tabs < 30; tabs++) {
      await page.keyboard.press("Tab");
      const f = await focused();
      if (f.inWidget && f.text.includes("Chat öffnen")) break;
    }
    const launcher = await focused();
    await page.keyboard.press("Enter");
    await page.getByRole("log").locator(".rb-bot").first().waitFor(WAIT);
    const afterOpen = await focused();
    const before = await botCount(page);
    await page.keyboard.type("Sind Sie ein Roboter?");
    await page.keyboard.press("Enter");
    await waitForBotAfter(page, before);
    const reachable = [];
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press("Tab");
      const f = await focused();
      reachable.push({ text: f.text, outline: f.outline });
      if (f.text === "Weitere Aktionen") break;
    }
    // The menu opens with Enter; its actions follow with Tab; Escape closes it again.
    await page.keyboard.press("Enter");
    const menu = [await focused()];
    await page.keyboard.press("Tab");
    menu.push(await focused());
    await page.keyboard.press("Escape");
    const afterMenu = await focused();
    const menuHidden = await page.locator("#rathausbot-chat .rb-menu").isHidden();
    // Tab on to the first quick reply and choose it with Enter.
    let chosen = null;
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press("Tab");
      const f = await focused();
      if (f.text.startsWith("Ja, mit einem Menschen")) { chosen = f.text; break; }
    }
    await page.keyboard.press("Enter");
    await page.locator("#rathausbot-chat .rb-system").filter({ hasText: "Vorgangsnummer" }).waitFor(WAIT);
    const afterChoice = await focused();
    const log = await logTexts(page);
    await page.keyboard.press("Escape");
    const afterEscape = await focused();
    const panelHidden = await page.locator("#rathausbot-chat .rb-panel").isHidden();
    return { tabs, launcher, afterOpen, reachable, menu, afterMenu, menuHidden, chosen, afterChoice, log,
      afterEscape, panelHidden };
  },

  // Markup in messages stays text; nothing executes.
  async xss(page) {
    const dialogs = [];
    page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    await page.goto(base + "/");
    await openChat(page);
    const payloads = [
      "<img src=x onerror=alert(1)>",
      "<script>window.__pwned = 1</script>",
      '"><svg onload=alert(2)>',
      "<a href=\"javascript:alert(3)\">klick</a>",
      "&lt;b&gt;fett&lt;/b&gt; {{constructor.constructor('alert(4)')()}}",
    ];
    for (const p of payloads) await say(page, p);
    await page.waitForTimeout(500); // let a broken onerror fire, were there one
    const dom = await page.evaluate(() => {
      const shadow = document.querySelector("#rathausbot-chat").shadowRoot;
      const log = shadow.querySelector(".rb-log");
      return {
        injected: log.querySelectorAll("img, script, svg, iframe, b").length,
        javascriptLinks: Array.from(shadow.querySelectorAll("a")).filter((a) => a.href.startsWith("javascript:")).length,
        pwned: window.__pwned === 1,
      };
    });
    return { payloads, log: await logTexts(page), dialogs, ...dom };
  },

  // axe-core on the demo page with the widget open (WCAG 2.1 A/AA rules).
  async axe(page) {
    await page.goto(base + "/");
    await openChat(page);
    await say(page, "Bin ich mit einem Menschen verbunden?");
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
    );
    return {
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })),
      passes: result.passes.length,
    };
  },

  // 320 px wide: everything fits, nothing scrolls sideways.
  async narrow(page) {
    await page.setViewportSize({ width: 320, height: 640 });
    await page.goto(base + "/");
    await openChat(page);
    await say(page, "Guten Tag");
    const box = async (locator) => locator.boundingBox();
    return {
      panel: await box(page.locator("#rathausbot-chat .rb-panel")),
      input: await box(page.getByRole("textbox", { name: "Ihre Nachricht" })),
      send: await box(page.getByRole("button", { name: "Senden", exact: true })),
      scrollWidth: await page.evaluate(() => document.documentElement.scrollWidth),
    };
  },

  // The connection drops: a visible offline state, then a reconnect with the same session.
  async offline(page) {
    let pageSide = null;
    await page.routeWebSocket(/\/ws\/chat$/, (ws) => {
      pageSide = ws;
      ws.connectToServer();
    });
    await page.goto(base + "/");
    await openChat(page);
    await say(page, "Guten Tag");
    const tokenOf = () =>
      page.evaluate(() => Object.entries(localStorage).find(([k]) => k.startsWith("rathausbot-chat:"))[1]);
    const token = await tokenOf();
    await pageSide.close({ code: 1012, reason: "restart" });
    const status = page.locator("#rathausbot-chat .rb-status");
    await status.filter({ hasText: "Keine Verbindung" }).waitFor(WAIT);
    const offlineText = await status.innerText();
    await status.waitFor({ state: "hidden", ...WAIT }); // reconnected: the notice is gone
    await say(page, "Sind Sie noch da?");
    return { offlineText, sameSession: token === (await tokenOf()), log: await logTexts(page) };
  },

  // "Gespräch beenden und löschen" forgets the token; the next message starts afresh.
  async end(page) {
    await page.goto(base + "/");
    await openChat(page);
    await say(page, "Guten Tag");
    await endConversation(page);
    await page.getByRole("button", { name: "Ja, beenden und löschen" }).click();
    await page.locator("#rathausbot-chat .rb-system").filter({ hasText: "gelöscht" }).waitFor(WAIT);
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("rathausbot-chat:")).length);
    const afterEnd = await logTexts(page);
    await page.reload();
    await page.getByRole("log").locator(".rb-bot").first().waitFor(WAIT);
    return { stored, afterEnd, afterReload: await logTexts(page) };
  },

  // One width (375 or 1280 px): the footer link beside the launcher, screenshots, the focus
  // trap where the panel is modal, focus back on the launcher, and axe inside the shadow root.
  async layout(page) {
    const width = Number(site);
    await page.setViewportSize({ width, height: width < 500 ? 667 : 800 });
    await page.goto(base + "/");
    await page.locator("#rathausbot-chat .rb-launcher").waitFor(WAIT);
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const footerLink = page.getByRole("contentinfo").getByRole("link", { name: "Datenschutz" });
    const hit = await footerLink.evaluate((a) => {
      const r = a.getBoundingClientRect();
      const points = [[r.left + 2, r.top + r.height / 2], [r.left + r.width / 2, r.top + r.height / 2],
        [r.right - 2, r.top + r.height / 2]];
      return points.map(([x, y]) => document.elementFromPoint(x, y) === a);
    });
    const launcherBox = await page.locator("#rathausbot-chat .rb-launcher").boundingBox();
    await page.screenshot({ path: `${shots}/widget-${width}-closed.png` });
    await footerLink.click({ trial: true, timeout: 10000 }); // Playwright's own hit test
    await Promise.all([page.waitForURL(/datenschutz\.html$/, WAIT), footerLink.click()]);
    const followed = page.url();
    await page.goto(base + "/");

    await openChat(page);
    await say(page, "Wie erreiche ich das Bürgerbüro per E-Mail?");
    const modal = await page.locator("#rathausbot-chat .rb-panel").getAttribute("aria-modal");
    await page.screenshot({ path: `${shots}/widget-${width}-open.png` });
    const where = () => page.evaluate(() => {
      const shadow = document.querySelector("#rathausbot-chat").shadowRoot;
      const el = shadow.activeElement;
      return el && shadow.querySelector(".rb-panel").contains(el) ? (el.getAttribute("aria-label") || el.textContent || el.id).trim() : null;
    });
    const walk = async (key, n) => {
      const seen = [];
      for (let i = 0; i < n; i++) { await page.keyboard.press(key); seen.push(await where()); }
      return seen;
    };
    const forward = await walk("Tab", 25);
    const backward = await walk("Shift+Tab", 25);
    await page.getByRole("button", { name: "Weitere Aktionen" }).click();
    await page.screenshot({ path: `${shots}/widget-${width}-menu.png` });
    const humanControls = await page.getByRole("button", { name: "Mit einem Menschen sprechen", exact: true })
      .filter({ visible: true }).count();
    await page.keyboard.press("Escape");

    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    const axe = await page.evaluate(() =>
      window.axe.run({ fromShadowDom: ["#rathausbot-chat", ".rb-panel"] }, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      }),
    );
    const launcherAxe = await page.evaluate(async () => {
      const shadow = document.querySelector("#rathausbot-chat").shadowRoot;
      shadow.querySelector(".rb-close").click(); // closes; the launcher is back
      return window.axe.run({ fromShadowDom: ["#rathausbot-chat", ".rb-launcher"] }, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      });
    });
    await openChat(page);
    await endConversation(page);
    await page.getByRole("button", { name: "Ja, beenden und löschen" }).click();
    await page.locator("#rathausbot-chat .rb-system").filter({ hasText: "gelöscht" }).waitFor(WAIT);
    const afterEnd = await walk("Tab", 12);
    await page.getByRole("button", { name: "Chat schließen" }).click();
    const afterClose = await page.evaluate(() => {
      const shadow = document.querySelector("#rathausbot-chat").shadowRoot;
      return shadow.activeElement ? shadow.activeElement.textContent.trim() : null;
    });
    const findings = (r) => r.violations.concat(r.incomplete.filter((v) => v.id === "label-content-name-mismatch")).map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
    return { width, hit, launcherBox, followed, modal, forward, backward, humanControls, afterEnd, afterClose,
      violations: findings(axe).concat(findings(launcherAxe)), passes: axe.passes.length + launcherAxe.passes.length };
  },

  // A booking: the confirmation offers an .ics file, and before ending the citizen may save
  // the numbers given.
  async booking(page) {
    await page.goto(base + "/");
    await openChat(page);
    const chip = async () => {
      const before = await botCount(page);
      const button = page.getByRole("group", { name: "Antwortvorschläge" }).last().getByRole("button").first();
      const title = await button.innerText();
      await button.click();
      await waitForBotAfter(page, before);
      return title;
    };
    await say(page, "Ich möchte einen Termin für einen Personalausweis buchen");
    const day = await chip();
    const time = await chip();
    await say(page, "Erika Mustermann");
    await say(page, "0171 2345678");
    await say(page, "ja");
    const button = page.getByRole("button", { name: "Termin in den Kalender (.ics)" });
    await button.waitFor(WAIT);
    const confirmation = await button.evaluate((b) => b.closest(".rb-msg").querySelector(".rb-text").textContent);
    const [download] = await Promise.all([page.waitForEvent("download", WAIT), button.click()]);
    const ics = await readFile(await download.path(), "utf8");
    await endConversation(page);
    const kept = await page.locator("#rathausbot-chat .rb-refs li").allInnerTexts();
    const [saved] = await Promise.all([
      page.waitForEvent("download", WAIT),
      page.getByRole("button", { name: "Nummern speichern" }).click(),
    ]);
    const numbers = await readFile(await saved.path(), "utf8");
    await page.getByRole("button", { name: "Abbrechen" }).click();
    return { day, time, confirmation, icsName: download.suggestedFilename(), ics, kept,
      numbersName: saved.suggestedFilename(), numbers, log: await logTexts(page) };
  },

  // The length limit (a counter near it, a notice over it) and fast sending (one notice,
  // "Erneut senden" on what was not sent).
  async limits(page) {
    await page.goto(base + "/");
    await openChat(page);
    const textbox = page.getByRole("textbox", { name: "Ihre Nachricht" });
    const counter = page.locator("#rathausbot-chat .rb-counter");
    const counts = {};
    for (const n of [1799, 1800, 1999, 2000, 2001]) {
      await textbox.fill("a".repeat(n));
      counts[n] = { text: await counter.innerText().catch(() => ""), visible: await counter.isVisible(),
        invalid: await textbox.getAttribute("aria-invalid") };
    }
    await textbox.fill("Guten Tag! " + "x".repeat(4989));
    await page.getByRole("button", { name: "Senden", exact: true }).click();
    const kept = (await textbox.inputValue()).length;
    const afterLong = await logTexts(page);

    for (let i = 1; i <= 20; i++) {
      await textbox.fill(`Nachricht ${i}`);
      await page.getByRole("button", { name: "Senden", exact: true }).click();
    }
    await page.waitForFunction(
      () => !document.querySelector("#rathausbot-chat").shadowRoot.querySelector(".rb-pending"), null, WAIT);
    const shadowCount = (selector) => page.evaluate(
      (s) => document.querySelector("#rathausbot-chat").shadowRoot.querySelectorAll(s).length, selector);
    const failed = await shadowCount(".rb-failed");
    const retries = await page.getByRole("button", { name: "Erneut senden" }).count();
    const notices = (await logTexts(page)).filter((m) => m.kind === "system" && m.text.includes("sehr schnell")).length;
    const firstFailed = await page.locator("#rathausbot-chat .rb-failed .rb-text").first().innerText();
    await page.getByRole("button", { name: "Erneut senden" }).first().click();
    const after = await logTexts(page);
    const resent = after.filter((m) => m.kind === "user").pop();
    return { counts, kept, afterLong, failed, retries, notices, firstFailed, resent };
  },

  // The demo page under the gateway's own CSP: the widget loads, connects and answers, and
  // the browser reports no CSP violation.
  async demoCsp(page) {
    const violations = watchCsp(page);
    const response = await page.goto(base + "/");
    await openChat(page);
    await say(page, "Wann hat das Bürgerbüro geöffnet?");
    return { headers: response.headers(), violations, log: await logTexts(page) };
  },

  // The one-line snippet on another site's page (another origin, served by the test with a
  // strict CSP of its own that allows just the gateway): the widget loads, connects, answers.
  // The language row: English, back to German, Leichte Sprache (docs/languages.md).
  // The widget's own labels follow: send button, placeholder, menu, disclosure.
  async languages(page) {
    await page.goto(base + "/");
    await openChat(page);
    const bar = page.getByRole("group", { name: "Sprache / Language" });
    let before = await botCount(page);
    await bar.getByRole("button", { name: "English", exact: true }).click();
    await waitForBotAfter(page, before);
    const englishLabel = await bar.locator(".rb-lang-en").innerText();
    const easyHidden = await bar.locator(".rb-lang-easy").isHidden();
    const englishLabels = await labels(page);
    await say(page, "How much does a passport cost?");
    if (shots) await page.screenshot({ path: `${shots}/widget-english.png` });
    before = await botCount(page);
    await bar.getByRole("button", { name: "Deutsch", exact: true }).click();
    await waitForBotAfter(page, before);
    before = await botCount(page);
    await bar.getByRole("button", { name: "Leichte Sprache", exact: true }).click();
    await waitForBotAfter(page, before);
    const easyPressed = await bar.locator(".rb-lang-easy").getAttribute("aria-pressed");
    const germanLabels = await labels(page);
    await say(page, "Ich brauche einen neuen Ausweis");
    if (shots) await page.screenshot({ path: `${shots}/widget-einfach.png` });
    return { englishLabel, easyHidden, easyPressed, englishLabels, germanLabels,
      log: await logTexts(page) };
  },

  // A page that presets the register with data-language / data-einfach.
  async preset(page) {
    await page.goto(site);
    await openChat(page);
    const bar = page.getByRole("group", { name: "Sprache / Language" });
    return { log: await logTexts(page), english: await bar.locator(".rb-lang-en").innerText(),
      easyPressed: await bar.locator(".rb-lang-easy").getAttribute("aria-pressed"),
      labels: await labels(page) };
  },

  async embedded(page) {
    const violations = watchCsp(page);
    const script = page.waitForResponse(new URL("/widget/widget.js", base).href);
    await page.goto(site);
    const scriptHeaders = (await script).headers();
    const launcher = await page.getByRole("button", { name: "Chat öffnen" }).boundingBox();
    const launcherGap = page.viewportSize().height - (launcher.y + launcher.height);
    await openChat(page);
    await say(page, "Wann hat das Bürgerbüro geöffnet?");
    return { origin: await page.evaluate(() => location.origin), scriptHeaders, launcherGap, violations,
      log: await logTexts(page) };
  },
};

function watchCsp(page) {
  const violations = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  return violations;
}

let result;
try {
  // axe-core is injected by the test as an inline script, which the demo page's CSP
  // rightly blocks; only the scenarios running axe bypass the CSP.
  const context = await browser.newContext({
    locale: "de-DE", acceptDownloads: true, bypassCSP: scenario === "axe" || scenario === "layout",
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  result = await scenarios[scenario](page);
  result.pageErrors = errors;
} catch (error) {
  result = { error: String(error && error.stack ? error.stack : error) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
