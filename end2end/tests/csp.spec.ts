// The pages' Content-Security-Policy in a real browser: the islands still
// hydrate (the FAQ, the login dialog, the lazily loaded sandbox phone), a
// whole login runs, and Chromium reports no violation on the way. The site
// cannot be framed by another page.

import { expect, Page, test } from "@playwright/test";
import { expectLoggedIn, openLogin } from "./support/login";
import { startServer, Server } from "./support/server";

/** Collects every CSP violation and script error the page reports. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // Init scripts come from the browser's debugging protocol, not the page:
  // the policy does not apply to them.
  void page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return problems;
}

test.describe("under the Content-Security-Policy", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
  });
  test.afterAll(async () => server.stop());

  test("pages carry a nonce policy, hydrate, and log in without a violation", async ({ page, context }) => {
    const problems = watch(page);

    const response = await page.goto(server.url + "/about");
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("'nonce-");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");

    // The FAQ island hydrated: its button works.
    const question = page.getByRole("button", { name: "为什么要用微信登录？" });
    const answer = page.getByText("微信扫码最省事");
    await expect(async () => {
      await question.click();
      await expect(answer).toBeVisible({ timeout: 500 });
    }).toPass();

    // The sandbox phone is a lazy island in a chunk of its own: scanning
    // from it logs the other page in.
    await page.goto(server.url + "/");
    const login = await openLogin(page);
    const phone = await context.newPage();
    const phoneProblems = watch(phone);
    await phone.goto(server.url + "/sandbox/wechat/phone");
    const ticket = login.qr_url.split("/").pop();
    await expect(async () => {
      await phone.getByTestId(`phone-scan-${ticket}`).click({ timeout: 1000 });
    }).toPass({ timeout: 20_000 });
    await expectLoggedIn(page);
    await expect(phone.getByTestId("phone-chat")).toContainText("登录成功");

    await page.reload();
    await expectLoggedIn(page);
    expect(problems).toEqual([]);
    expect(phoneProblems).toEqual([]);
  });

  test("another site cannot frame the pages", async ({ page }) => {
    await page.goto("about:blank");
    await page.setContent(`<iframe src="${server.url}/"></iframe>`);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    // Chromium replaces a refused frame with its error page.
    await expect.poll(() => frame!.url(), { timeout: 10_000 }).toBe("chrome-error://chromewebdata/");
    expect(await frame!.locator("[data-module]").count()).toBe(0);
  });
});
