// Live takeover in Debian's chromium (playwright-core), two browser contexts: the citizen in
// the widget on gateway 1, the clerk in the console on gateway 2 (both on one Redis). Prints
// what it observed as JSON on the last line; tests/e2e/test_takeover_browser.py asserts.
// Usage: node takeover.mjs CITIZEN_BASE CLERK_BASE USER_JSON [OUT_DIR]
// USER_JSON: {"name", "password", "secret", "display"} (secret: the TOTP key, base32).
import { WAIT, axeRun, launch, openPage, signIn } from "./staff.mjs";

const [citizenBase, clerkBase, userJson, outDir] = process.argv.slice(2);
const user = JSON.parse(userJson);
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

const browser = await launch();

const newPage = (observed, options = {}) => openPage(browser, observed, options);

// --- the citizen's widget (its log lives in a shadow root) ---

function widgetTexts(page, selector) {
  return page.evaluate((sel) => {
    const root = document.querySelector("#rathausbot-chat").shadowRoot;
    return Array.from(root.querySelectorAll(sel)).map((m) => m.textContent);
  }, selector);
}

function widgetHas(page, selector, text) {
  return page.waitForFunction(
    ([sel, t]) => {
      const root = document.querySelector("#rathausbot-chat").shadowRoot;
      return Array.from(root.querySelectorAll(sel)).some((m) => m.textContent.includes(t));
    },
    [selector, text],
    WAIT,
  );
}

async function citizenSays(page, text) {
  await page.getByRole("textbox", { name: "Ihre Nachricht" }).fill(text);
  await page.getByRole("button", { name: "Senden", exact: true }).click();
}

async function openChat(page) {
  await page.goto(citizenBase + "/");
  await page.getByRole("button", { name: "Chat öffnen" }).click();
  await page.getByRole("log").locator(".rb-bot").first().waitFor(WAIT);
}

// --- the clerk's console ---

const login = (page) => signIn(page, clerkBase, user);

async function liveReady(page) {
  await page.waitForFunction(
    () => document.getElementById("live-chat").getAttribute("data-live") === "ready", null, WAIT,
  );
}

async function axe(page) {
  const result = await axeRun(page);
  const violations = result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")),
  }));
  // which rules found something to check: proof that the pane was there to be checked
  const checked = result.passes.concat(result.violations).map((r) => r.id);
  return { violations, checked };
}

function consoleHas(page, text) {
  return page.waitForFunction(
    (t) => document.getElementById("live-log").innerText.includes(t), text, WAIT,
  );
}

const observed = { pageErrors: [], csp: [], dialogs: [] };
let result;
try {
  const citizen = await newPage(observed, { viewport: { width: 1100, height: 800 } });
  await openChat(citizen);
  await citizenSays(citizen, "Ich möchte mit einem Menschen sprechen");
  const found = await citizen.waitForFunction(
    () => {
      const root = document.querySelector("#rathausbot-chat").shadowRoot;
      const text = Array.from(root.querySelectorAll(".rb-msg")).map((m) => m.textContent).join("\n");
      const match = text.match(/C-\d{8}-[A-Z2-9]{6}/);
      return match && match[0];
    },
    null,
    WAIT,
  );
  const caseId = await found.jsonValue();

  const clerk = await newPage(observed, { viewport: { width: 1280, height: 900 } });
  await login(clerk);
  await clerk.goto(`${clerkBase}/console/case/${caseId}`);
  await clerk.getByRole("button", { name: "Gespräch übernehmen" }).click();
  await clerk.getByLabel("Antwort").waitFor(WAIT);
  await liveReady(clerk);
  const buttons = {
    handBack: await clerk.getByRole("button", { name: "An den Assistenten zurückgeben" }).count(),
    end: await clerk.getByRole("button", { name: "Gespräch beenden" }).count(),
    send: await clerk.getByRole("button", { name: "Senden" }).count(),
  };
  await widgetHas(citizen, ".rb-system", `Sie schreiben jetzt mit ${user.display} (Stadtverwaltung)`);
  const humanHidden = await citizen.evaluate(
    () => document.querySelector("#rathausbot-chat").shadowRoot.querySelector(".rb-human").hidden,
  );
  const header = await citizen.evaluate(
    () => document.querySelector("#rathausbot-chat").shadowRoot.querySelector("#rb-disclosure").textContent,
  );

  // a quick reply still on screen (the handoff's callback offer), clicked while the clerk
  // holds the chat: the clerk reads its title, not its payload
  await citizen.getByRole("button", { name: "Rückruf vereinbaren" }).last().click();
  await clerk.waitForFunction(
    () => Array.from(document.querySelectorAll("#live-log .role-user .text"))
      .some((p) => p.textContent === "Rückruf vereinbaren"),
    null,
    WAIT,
  );
  const chosen = await clerk.evaluate(() => Array.from(document.querySelectorAll("#live-log .role-user .text"))
    .map((p) => p.textContent).slice(-1)[0]);

  // clerk -> citizen, with the clerk's typing first
  await clerk.getByLabel("Antwort").pressSequentially("Guten Tag", { delay: 20 });
  await citizen.waitForFunction(
    () => {
      const root = document.querySelector("#rathausbot-chat").shadowRoot;
      const t = root.querySelector(".rb-typing");
      return !t.hidden && t.textContent.includes("Stadtverwaltung");
    },
    null,
    WAIT,
  );
  const clerkTyping = await citizen.evaluate(
    () => document.querySelector("#rathausbot-chat").shadowRoot.querySelector(".rb-typing").textContent,
  );
  await clerk.getByLabel("Antwort").fill("Guten Tag, hier ist die Stadtverwaltung. Wie kann ich Ihnen helfen?");
  await clerk.getByRole("button", { name: "Senden" }).click();
  await widgetHas(citizen, ".rb-staff", "hier ist die Stadtverwaltung");
  const staffLabel = (await widgetTexts(citizen, ".rb-staff .rb-sr"))[0];

  // citizen -> clerk, with the citizen's typing first
  await citizen.getByRole("textbox", { name: "Ihre Nachricht" }).pressSequentially("Hallo", { delay: 20 });
  await clerk.waitForFunction(
    () => document.getElementById("live-typing").textContent.includes("schreibt"), null, WAIT,
  );
  await citizenSays(citizen, "Danke! Wie lange dauert ein neuer Personalausweis?");
  await consoleHas(clerk, "Wie lange dauert");
  // axe on the case view mid-takeover (live pane, reply box, buttons). axe-core comes as a
  // script, which the console's CSP rightly blocks: the same session in a context without it.
  const checker = await newPage(observed, {
    bypassCSP: true, viewport: { width: 1280, height: 900 }, storageState: await clerk.context().storageState(),
  });
  await checker.goto(`${clerkBase}/console/case/${caseId}`);
  await checker.getByLabel("Antwort").waitFor(WAIT);
  await liveReady(checker);
  await checker.waitForFunction(
    () => document.getElementById("live-log").innerText.includes("Wie lange dauert"), null, WAIT,
  );
  const takeoverAxe = await axe(checker);
  await checker.context().close();
  if (outDir) {
    await clerk.screenshot({ path: `${outDir}/console-takeover.png`, fullPage: true });
    await citizen.screenshot({ path: `${outDir}/widget-takeover.png` });
  }

  // hostile text from either side stays text on the other
  await clerk.getByLabel("Antwort").fill("Bitte beachten Sie: " + XSS);
  await clerk.getByRole("button", { name: "Senden" }).click();
  await widgetHas(citizen, ".rb-staff", "Bitte beachten Sie");
  const staffShown = (await widgetTexts(citizen, ".rb-staff")).slice(-1)[0];
  await citizenSays(citizen, "Meine Frage: " + XSS);
  await consoleHas(clerk, "Meine Frage: ");

  // reload the citizen's page mid-takeover: the history comes back, staff lines included
  await citizen.reload();
  await citizen.getByRole("log").waitFor({ state: "attached", ...WAIT });
  const opener = citizen.getByRole("button", { name: "Chat öffnen" });
  if (await opener.isVisible()) await opener.click(); // the widget may reopen by itself
  await widgetHas(citizen, ".rb-staff", "hier ist die Stadtverwaltung");
  const afterReload = {
    staff: (await widgetTexts(citizen, ".rb-staff")).length,
    taken: (await widgetTexts(citizen, ".rb-system")).some((t) => t.includes(`Sie schreiben jetzt mit ${user.display}`)),
    user: (await widgetTexts(citizen, ".rb-user")).some((t) => t.includes("Meine Frage: ")),
  };

  // hand back: the assistant greets back and answers the next question
  await clerk.getByRole("button", { name: "An den Assistenten zurückgeben" }).click();
  await widgetHas(citizen, ".rb-system", "Sie schreiben wieder mit dem automatischen Assistenten");
  await widgetHas(citizen, ".rb-bot", "wieder der automatische Assistent");
  const botsBefore = (await widgetTexts(citizen, ".rb-bot")).length;
  await citizenSays(citizen, "Wann hat das Bürgerbüro geöffnet?");
  await citizen.waitForFunction(
    (n) => document.querySelector("#rathausbot-chat").shadowRoot.querySelectorAll(".rb-bot").length > n,
    botsBefore,
    WAIT,
  );
  const answer = (await widgetTexts(citizen, ".rb-bot")).slice(-1)[0];
  const injected = {
    citizen: await citizen.evaluate(() => window.__xss || 0),
    clerk: await clerk.evaluate(() => window.__xss || 0),
    citizenImgs: await citizen.evaluate(
      () => document.querySelector("#rathausbot-chat").shadowRoot.querySelectorAll(".rb-log img").length,
    ),
    clerkImgs: await clerk.evaluate(() => document.querySelectorAll("#live-log img").length),
  };
  const consoleLog = await clerk.locator("#live-log").innerText();
  result = {
    caseId, buttons, humanHidden, header, clerkTyping, staffLabel, staffShown, afterReload, answer, injected, consoleLog,
    takeoverAxe, chosen,
    ...observed,
  };
} catch (error) {
  result = { error: String(error && error.stack ? error.stack : error), ...observed };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
