// Drives Debian's chromium with playwright-core through the privacy officer's pages against a
// running gateway and prints what it observed as JSON on the last line of stdout; the pytest
// side (tests/e2e/test_privacy_browser.py) asserts.
// Usage: node privacy.mjs SCENARIO BASE_URL USERS_JSON [OUT_DIR]
// USERS_JSON: [{"name", "password", "secret", "phone"?}, ...] (secret: the TOTP key, base32);
// erase: [officer with "phone", clerk, a second officer for the axe checks].
import { WAIT, axe, launch, openPage, signIn, totp } from "./staff.mjs";

const [scenario, base, usersJson, outDir] = process.argv.slice(2);
const users = JSON.parse(usersJson || "[]");
const PAGES = ["/console/datenschutz", "/console/datenschutz/aufbewahrung",
  "/console/datenschutz/protokoll", "/console/datenschutz/verzeichnis"];

const browser = await launch();

const newPage = (observed, options = {}) => openPage(browser, observed, options);
const login = (page, user, heading, offsetSteps = 0) => signIn(page, base, user, heading, offsetSteps);


async function search(page, phone) {
  await page.getByLabel("Suchen nach").selectOption("phone");
  await page.getByLabel("Suchbegriff").fill(phone);
  await page.getByRole("button", { name: "Suchen", exact: true }).click();
  await page.getByRole("heading", { name: "Gefunden" }).waitFor(WAIT);
}

const scenarios = {
  // The officer finds a citizen by phone number, previews, erases; the audit log shows the
  // tombstone; a clerk gets 403 on every privacy page.
  async erase(observed) {
    const [officer, clerk, second] = users;
    const page = await newPage(observed);
    await login(page, officer, "Auskunft und Löschung");
    await search(page, officer.phone);
    const preview = await page.locator("main").innerText();
    // axe-core is injected as a script, which the console's CSP rightly blocks: check the
    // same pages in a context that bypasses the CSP, as a second officer.
    const checker = await newPage(observed, { bypassCSP: true });
    await login(checker, second, "Auskunft und Löschung");
    await search(checker, officer.phone);
    const searchViolations = await axe(checker);
    await page.getByLabel("Zur Bestätigung LÖSCHEN eingeben").fill("LÖSCHEN");
    await page.getByRole("button", { name: "Endgültig löschen" }).click();
    await page.locator("#erased").waitFor(WAIT);
    const erased = await page.locator("#erased").innerText();
    await page.getByRole("link", { name: "Protokoll", exact: true }).click();
    await page.getByLabel("Aktion").selectOption("erasure");
    await page.getByRole("button", { name: "Filtern" }).click();
    await page.locator("table.inbox tbody tr").first().waitFor(WAIT);
    const auditRow = await page.locator("table.inbox tbody tr").first().innerText();
    const chain = await page.locator("#chain").innerText();
    await checker.goto(base + "/console/datenschutz/protokoll");
    const auditViolations = await axe(checker);
    const agent = await newPage(observed);
    await login(agent, clerk, "Eingang");
    const clerkStatus = [];
    for (const path of PAGES) clerkStatus.push((await agent.goto(base + path)).status());
    await agent.goto(base + "/console/inbox");
    const menu = await agent.locator("header").innerText();
    return { preview, erased, auditRow, chain, clerkStatus, menu, searchViolations, auditViolations };
  },

  // Screenshots of the privacy pages at 1280 and 390 px (for the docs and a look).
  async screens(observed) {
    const [officer] = users;
    const shots = [];
    for (const [width, height] of [[1280, 860], [390, 844]]) {
      const page = await newPage(observed, { viewport: { width, height } });
      await login(page, officer, "Auskunft und Löschung", width === 390 ? 1 : 0);
      await search(page, officer.phone);
      await page.screenshot({ path: `${outDir}/privacy-search-${width}.png`, fullPage: true });
      for (const [path, name] of [["/aufbewahrung", "retention"], ["/protokoll", "audit"],
        ["/verzeichnis", "processing"]]) {
        await page.goto(base + "/console/datenschutz" + path);
        await page.screenshot({ path: `${outDir}/privacy-${name}-${width}.png`, fullPage: true });
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      shots.push({ width, overflow });
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
