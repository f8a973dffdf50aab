// Drives Debian's chromium with playwright-core through the statistics page and the
// "Nicht verstanden" inbox against a running gateway and prints what it observed as JSON on
// the last line of stdout; the pytest side (tests/e2e/test_insight_browser.py) asserts.
// Usage: node insight.mjs BASE_URL USERS_JSON [OUT_DIR]
// USERS_JSON: [team lead, clerk, editor] as {"name", "password", "secret"} (TOTP key, base32).
// With OUT_DIR, screenshots at 1280 and 390 px wide go there.
import { WAIT, axe, launch, openPage, signIn, totp } from "./staff.mjs";

const [base, usersJson, outDir] = process.argv.slice(2);
const users = JSON.parse(usersJson || "[]");

const browser = await launch();

const newPage = (observed, options = {}) => openPage(browser, observed, options);
const login = (page, user, heading, offsetSteps = 0) => signIn(page, base, user, heading, offsetSteps);


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
