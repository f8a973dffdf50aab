// Drives Debian's chromium with playwright-core through the statistics page and the
// "Nicht verstanden" inbox against a running gateway and prints what it observed as JSON on
// the last line of stdout; the pytest side (tests/e2e/test_insight_browser.py) asserts.
// Usage: node insight.mjs BASE_URL USERS_JSON [OUT_DIR]
// USERS_JSON: [team lead, clerk, editor] as {"name", "password", "secret"} (TOTP key, base32).
// With OUT_DIR, screenshots at 1280 and 390 px wide go there.
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const [base, usersJson, outDir] = process.argv.slice(2);
const users = JSON.parse(usersJson || "[]");
const WAIT = { timeout: 90000 }; // a safety net for a busy machine, not a speed target

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as authenticator apps compute it.
function totp(secret, offsetSteps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offsetSteps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, "0");
}

function watch(page, into) {
  page.on("pageerror", (e) => into.pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) into.csp.push(m.text());
  });
  page.on("dialog", async (d) => {
    into.dialogs.push(d.message());
    await d.dismiss();
  });
}

async function newPage(observed, options = {}) {
  const context = await browser.newContext({ locale: "de-DE", ...options });
  const page = await context.newPage();
  watch(page, observed);
  return page;
}

async function login(page, user, heading, offsetSteps = 0) {
  await page.goto(base + "/console/");
  await page.getByLabel("Benutzername").fill(user.name);
  await page.getByLabel("Passwort").fill(user.password);
  await page.getByRole("button", { name: "Weiter" }).click();
  await page.getByLabel("Sicherheitscode").fill(totp(user.secret, offsetSteps));
  await page.getByRole("button", { name: "Anmelden" }).click();
  await page.getByRole("heading", { name: heading, exact: true }).waitFor(WAIT);
}

async function axe(page) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
}

async function charts(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("svg.bars")].map((svg) => {
      const table = document.getElementById(svg.getAttribute("aria-describedby") || "");
      const bars = [...svg.querySelectorAll("g.bar")].map((g) => [g.dataset.label, Number(g.dataset.value)]);
      const rows = table
        ? [...table.querySelectorAll("tbody tr")]
            .filter((tr) => tr.cells.length === 2)
            .map((tr) => [tr.cells[0].textContent, Number(tr.cells[1].textContent)])
        : null;
      return { role: svg.getAttribute("role"), name: svg.getAttribute("aria-labelledby"), bars, rows };
    }),
  );
}

async function shoot(page, name, observed) {
  if (!outDir) return;
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${outDir}/${name}-${width}.png`, fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    observed.shots.push({ name, width, overflow });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

const observed = { pageErrors: [], csp: [], dialogs: [], shots: [] };
try {
  const [lead, clerk, editor] = users;
  const page = await newPage(observed, { viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await login(page, lead, "Eingang");
  observed.leadMenu = await page.getByRole("navigation", { name: "Hauptnavigation" }).innerText();
  await page.getByRole("link", { name: "Statistik" }).click();
  await page.getByRole("heading", { name: "Statistik", level: 1 }).waitFor(WAIT);
  observed.statsFigures = await page.locator("#kennzahlen").innerText();
  observed.charts = await charts(page);
  observed.statsViolations = await axe(page);
  await shoot(page, "statistik", observed);
  const csv = await page.request.get(base + "/console/statistik.csv");
  observed.csvStatus = csv.status();
  observed.csvHead = (await csv.text()).split("\r\n")[0];

  const edit = await newPage(observed, { viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await login(edit, editor, "Nicht verstanden");
  observed.missesText = await edit.locator("main").innerText();
  observed.missesViolations = await axe(edit);
  await shoot(edit, "nicht-verstanden", observed);

  const other = await newPage(observed);
  await login(other, clerk, "Eingang");
  observed.clerkMenu = await other.getByRole("navigation", { name: "Hauptnavigation" }).innerText();
  observed.clerkStatus = [];
  for (const path of ["/console/statistik", "/console/nicht-verstanden", "/console/statistik.csv"]) {
    observed.clerkStatus.push((await other.goto(base + path)).status());
  }
} catch (error) {
  observed.error = String(error && error.stack ? error.stack : error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(observed));
