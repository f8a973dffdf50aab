// What the staff-console browser scenarios share: Debian's chromium with the flags the
// tests use, RFC 6238 codes for the second factor, the console's sign-in, page watchers
// and an axe run over the WCAG 2.1 A/AA rules.
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);

export const WAIT = { timeout: 90000 }; // a safety net for a busy machine, not a speed target

export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as authenticator apps compute it.
export function totp(secret, offsetSteps = 0) {
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

// Page errors, CSP reports and dialogs (dismissed) go into `into`.
export function watch(page, into) {
  page.on("pageerror", (e) => into.pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) into.csp.push(m.text());
  });
  page.on("dialog", async (d) => {
    into.dialogs.push(d.message());
    await d.dismiss();
  });
}

// A page in a fresh German context (its own cookies), watched into `observed`.
export async function openPage(browser, observed, options = {}) {
  const context = await browser.newContext({ locale: "de-DE", ...options });
  const page = await context.newPage();
  watch(page, observed);
  return page;
}

// Password and second factor on the console's sign-in; waits for the page's `heading`.
export async function signIn(page, base, user, heading = "Eingang", offsetSteps = 0) {
  await page.goto(base + "/console/");
  await page.getByLabel("Benutzername").fill(user.name);
  await page.getByLabel("Passwort").fill(user.password);
  await page.getByRole("button", { name: "Weiter" }).click();
  await page.getByLabel("Sicherheitscode").fill(totp(user.secret, offsetSteps));
  await page.getByRole("button", { name: "Anmelden" }).click();
  await page.getByRole("heading", { name: heading, exact: true }).waitFor(WAIT);
}

// axe-core's full result for the page's WCAG 2.1 A/AA rules.
export async function axeRun(page) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  return page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
}

// The violations, one line each.
export async function axe(page) {
  const result = await axeRun(page);
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
}
