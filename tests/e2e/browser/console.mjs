// Drives Debian's chromium with playwright-core through the staff console against a running
// gateway and prints what it observed as JSON on the last line of stdout; the pytest side
// (tests/e2e/test_console_browser.py) asserts.
// Usage: node console.mjs SCENARIO BASE_URL USERS_JSON [OUT_DIR]
// USERS_JSON: [{"name", "password", "secret"}, ...] (secret: the TOTP key, base32; the
// closure scenario's user also has "starts", "ends" (datetime-local values) and "note").
import { WAIT, axe, launch, openPage, signIn, totp } from "./staff.mjs";

const [scenario, base, usersJson, outDir] = process.argv.slice(2);
const users = JSON.parse(usersJson || "[]");
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

const browser = await launch();

const newPage = (observed, options = {}) => openPage(browser, observed, options);
const login = (page, user) => signIn(page, base, user);

async function waitLive(page) {
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "ready", null, WAIT);
}

async function citizenHandoff(page) {
  await page.goto(base + "/");
  await page.getByRole("button", { name: "Chat öffnen" }).click();
  const log = page.getByRole("log");
  await log.locator(".rb-bot").first().waitFor(WAIT);
  for (const text of [XSS, "Ich möchte mit einem Menschen sprechen"]) {
    const before = await log.locator(".rb-bot, .rb-system").count();
    await page.getByRole("textbox", { name: "Ihre Nachricht" }).fill(text);
    await page.getByRole("button", { name: "Senden", exact: true }).click();
    await page.waitForFunction(
      (n) => document.querySelector("#rathausbot-chat").shadowRoot.querySelectorAll(".rb-bot, .rb-system").length > n,
      before,
      WAIT,
    );
  }
  const system = await page.waitForFunction(
    () => {
      const root = document.querySelector("#rathausbot-chat").shadowRoot;
      const text = Array.from(root.querySelectorAll(".rb-msg")).map((m) => m.textContent).join("\n");
      const match = text.match(/C-\d{8}-[A-Z2-9]{6}/);
      return match && match[0];
    },
    null,
    WAIT,
  );
  return system.jsonValue();
}


async function notice(page) {
  return (await page.locator(".notice").first().textContent()).trim();
}

const scenarios = {
  // Log in; a citizen's handoff in a second context appears live; two clerks claim at once;
  // the transcript shows the XSS payload as text; axe on inbox and case view; close it.
  async flow(observed) {
    const [first, second] = users;
    const clerk = await newPage(observed);
    await login(clerk, first);
    await waitLive(clerk);
    await clerk.evaluate(() => { window.__stay = 42; }); // gone if the page reloads
    const citizen = await newPage(observed);
    const caseId = await citizenHandoff(citizen);
    const link = clerk.getByRole("link", { name: caseId, exact: true });
    await link.waitFor(WAIT); // no reload: the server-sent event refreshed the rows
    const announced = await clerk.locator("#live").textContent();
    const stayed = await clerk.evaluate(() => window.__stay === 42);
    const other = await newPage(observed);
    await login(other, second);
    await link.click();
    await clerk.getByRole("heading", { name: `Vorgang ${caseId}` }).waitFor(WAIT);
    await other.goto(`${base}/console/case/${caseId}`);
    await clerk.reload();
    const othersLine = await clerk.locator(".others").textContent();
    const transcript = await clerk.locator(".transcript").innerText();
    const injected = await clerk.evaluate(() => ({
      xss: window.__xss || 0,
      imgs: document.querySelectorAll(".transcript img").length,
      scripts: document.querySelectorAll(".transcript script").length,
    }));
    const claims = await Promise.all(
      [clerk, other].map(async (page) => {
        await page.getByRole("button", { name: "Übernehmen", exact: true }).click();
        await page.locator(".notice").first().waitFor(WAIT);
        return notice(page);
      }),
    );
    const winner = claims[0].startsWith("Sie haben") ? clerk : other;
    await winner.getByLabel("Status", { exact: true }).selectOption("erledigt");
    await winner.getByRole("button", { name: "Status speichern" }).click();
    await winner.locator(".notice").first().waitFor(WAIT);
    const closed = await notice(winner);
    const facts = await winner.locator(".facts").first().innerText();
    // axe-core is injected as a script, which the console's CSP rightly blocks: check the
    // same pages in a context that bypasses the CSP.
    const checker = await newPage(observed, { bypassCSP: true });
    await login(checker, users[2]);
    const inboxViolations = await axe(checker);
    await checker.goto(`${base}/console/case/${caseId}`);
    const caseViolations = await axe(checker);
    return { caseId, announced, stayed, othersLine, transcript, injected, claims, closed, facts, inboxViolations, caseViolations };
  },

  // Keyboard only: log in, open the oldest case, claim it and change its status.
  async keyboard(observed) {
    const [user] = users;
    const page = await newPage(observed);
    await page.goto(base + "/console/");
    const focused = () => page.evaluate(() => {
      const e = document.activeElement;
      return { tag: e.tagName, id: e.id, text: (e.textContent || "").trim(), label: e.labels && e.labels[0] ? e.labels[0].textContent : "" };
    });
    async function tabTo(predicate, limit = 80) {
      for (let i = 0; i < limit; i++) {
        await page.keyboard.press("Tab");
        if (predicate(await focused())) return true;
      }
      throw new Error("not reachable by Tab: " + JSON.stringify(await focused()));
    }
    await tabTo((f) => f.id === "username");
    await page.keyboard.type(user.name);
    await page.keyboard.press("Tab");
    await page.keyboard.type(user.password);
    await page.keyboard.press("Enter");
    await page.getByLabel("Sicherheitscode").waitFor(WAIT);
    const codeFocused = (await focused()).id === "code";
    if (!codeFocused) await tabTo((f) => f.id === "code");
    await page.keyboard.type(totp(user.secret));
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Eingang" }).waitFor(WAIT);
    await tabTo((f) => f.tag === "A" && /^C-\d{8}-/.test(f.text));
    const opened = (await focused()).text;
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: `Vorgang ${opened}` }).waitFor(WAIT);
    await tabTo((f) => f.tag === "BUTTON" && f.text === "Übernehmen");
    await page.keyboard.press("Enter");
    await page.locator(".notice").first().waitFor(WAIT);
    const claimed = await notice(page);
    await tabTo((f) => f.id === "status-select");
    await page.keyboard.press("ArrowDown"); // in Bearbeitung -> wartet auf Rückmeldung
    await tabTo((f) => f.tag === "BUTTON" && f.text === "Status speichern");
    await page.keyboard.press("Enter");
    await page.waitForURL(/hinweis=Status/, WAIT);
    return { opened, codeFocused, claimed, changed: await notice(page) };
  },

  // A team lead sets a closure through the navigation and the form (the first user carries
  // the closure's "starts", "ends" and "note" fields); axe on the closures page as the second.
  async closure(observed) {
    const [lead, other] = users;
    const page = await newPage(observed);
    await login(page, lead);
    await page.getByRole("navigation").getByRole("link", { name: "Schließungen" }).click();
    await page.getByRole("heading", { name: "Schließungen", level: 1 }).waitFor(WAIT);
    await page.getByLabel("Dienststelle").selectOption("buergerbuero");
    await page.getByLabel("Beginn (Datum und Uhrzeit)").fill(lead.starts);
    await page.getByLabel("Ende (Datum und Uhrzeit)").fill(lead.ends);
    await page.getByLabel("Hinweis für Bürgerinnen und Bürger").fill(lead.note);
    await page.getByRole("button", { name: "Schließung eintragen" }).click();
    await page.locator(".notice").first().waitFor(WAIT);
    const saved = await notice(page);
    const table = await page.locator("table.inbox").innerText();
    const checker = await newPage(observed, { bypassCSP: true });
    await login(checker, other);
    await checker.goto(`${base}/console/schliessungen`);
    const violations = await axe(checker);
    return { saved, table, violations };
  },

  // Screenshots of login, inbox and case view at 1280 and 390 px (for the docs and a look).
  async screens(observed) {
    const [user] = users;
    const shots = [];
    for (const [width, height] of [[1280, 860], [390, 844]]) {
      const page = await newPage(observed, { viewport: { width, height } });
      await page.goto(base + "/console/");
      await page.screenshot({ path: `${outDir}/login-${width}.png`, fullPage: true });
      await page.getByLabel("Benutzername").fill(user.name);
      await page.getByLabel("Passwort").fill(user.password);
      await page.getByRole("button", { name: "Weiter" }).click();
      await page.getByLabel("Sicherheitscode").waitFor(WAIT);
      await page.screenshot({ path: `${outDir}/code-${width}.png`, fullPage: true });
      await page.getByLabel("Sicherheitscode").fill(totp(user.secret, width === 390 ? 1 : 0));
      await page.getByRole("button", { name: "Anmelden" }).click();
      await page.getByRole("heading", { name: "Eingang" }).waitFor(WAIT);
      await page.screenshot({ path: `${outDir}/inbox-${width}.png`, fullPage: true });
      const inboxOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const link = page.locator("table.inbox a", { hasText: /^C-/ }).first();
      await link.click();
      await page.locator(".transcript").waitFor(WAIT);
      await page.screenshot({ path: `${outDir}/case-${width}.png`, fullPage: true });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      shots.push({ width, inboxOverflow, overflow });
    }
    return { shots };
  },
};

let result;
const observed = { pageErrors: [], csp: [], dialogs: [] };
try {
  result = { ...(await scenarios[scenario](observed)), ...observed };
} catch (error) {
  result = { error: String(error && error.stack ? error.stack : error), ...observed };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
