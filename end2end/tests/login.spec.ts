// WeChat QR login in a real browser, against the sandbox: the page turns
// logged in by itself when the phone scans.

import { expect, test } from "@playwright/test";
import { expectLoggedIn, openLogin } from "./support/login";
import { newUser, say, scan } from "./support/phone";
import { copyTheme, startServer, Server } from "./support/server";
import fs from "node:fs";
import path from "node:path";

const AES_KEY = "FakeAesKeyForTestsOnly000000000000000000000";

test.describe("plain mode", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
  });
  test.afterAll(async () => server.stop());

  test("a new follower scans: logged in without a reload, kept on reload, logged out", async ({ page }) => {
    await page.goto(server.url + "/");
    await page.evaluate(() => ((window as any).__notReloaded = true));
    const login = await openLogin(page);
    await expect(page.getByTestId("login-status")).toHaveText("请使用微信扫码，关注公众号后自动登录");
    await expect(page.getByTestId("login-countdown")).toHaveText(/^[45]:\d\d$/);

    const openid = await newUser(server.url);
    const phone = await scan(server.url, login.qr_url, openid, "subscribe");
    expect(phone.event).toBe("subscribe");
    expect(phone.reply?.content).toContain("登录成功");

    await expect(page.getByTestId("login-modal")).toHaveCount(0);
    const name = await expectLoggedIn(page);
    expect(await page.evaluate(() => (window as any).__notReloaded)).toBe(true);

    await page.reload();
    await expect(page.getByTestId("user-name")).toHaveText(name);

    await expect(async () => {
      await page.getByTestId("user-menu-button").click();
      await expect(page.getByTestId("logout-button")).toBeVisible({ timeout: 500 });
    }).toPass();
    // Keep a copy of the session cookie: logging out must end the session
    // on the server, not only make the browser forget it.
    const session = (await page.context().cookies()).find((c) => c.name === "session");
    expect(session).toBeDefined();
    const replay = () =>
      fetch(`${server.url}/api/me`, { headers: { cookie: `session=${session!.value}` } }).then((r) => r.status);
    expect(await replay()).toBe(200);

    await page.getByTestId("logout-button").click();
    await expect(page.getByTestId("login-button")).toBeVisible();
    await page.reload();
    await expect(page.getByTestId("login-button")).toBeVisible();
    expect(await replay()).toBe(401);
  });

  test("an already-following user just scans (SCAN)", async ({ page }) => {
    const openid = await newUser(server.url);
    await page.goto(server.url + "/");
    const first = await openLogin(page);
    await scan(server.url, first.qr_url, openid, "subscribe");
    await expectLoggedIn(page);
    await page.context().clearCookies();

    await page.goto(server.url + "/about");
    const second = await openLogin(page);
    const phone = await scan(server.url, second.qr_url, openid, "scan");
    expect(phone.event).toBe("SCAN");
    expect(phone.reply?.content).toContain("登录成功");
    await expectLoggedIn(page);
  });

  test("the dialog is keyboard friendly: Esc closes it, focus returns", async ({ page }) => {
    await page.goto(server.url + "/");
    await openLogin(page);
    await expect(page.getByTestId("login-close")).toBeFocused();
    // The page behind a modal dialog is inert: Tab never lands there.
    for (const key of ["Tab", "Tab", "Shift+Tab", "Tab"]) {
      await page.keyboard.press(key);
      const escaped = await page.evaluate(() => {
        const active = document.activeElement;
        const dialog = document.querySelector("dialog");
        return !!active && active !== document.body && !dialog?.contains(active);
      });
      expect(escaped).toBe(false);
    }
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("login-modal")).toHaveCount(0);
    await expect(page.getByTestId("login-button")).toBeFocused();
  });

  test("the hero's button opens the dialog through #login", async ({ page }) => {
    await page.goto(server.url + "/#login");
    await expect(page.getByTestId("login-modal")).toBeVisible();
    await expect(page).toHaveURL(server.url + "/");
  });

  test("another browser cannot complete someone else's login", async ({ page, browser }) => {
    await page.goto(server.url + "/");
    const login = await openLogin(page);

    const other = await browser.newContext();
    const stranger = await other.newPage();
    await stranger.goto(server.url + "/");
    const tryComplete = () => stranger.request.post(`${server.url}/api/login/${login.id}/complete`);
    expect((await tryComplete()).status()).toBe(403);

    await scan(server.url, login.qr_url, await newUser(server.url));
    await expectLoggedIn(page);
    const late = await tryComplete();
    expect(late.status()).toBe(403);
    expect((await late.json()).error).toBe("not_your_login");
    expect((await stranger.request.get(`${server.url}/api/me`)).status()).toBe(401);
    await stranger.reload();
    await expect(stranger.getByTestId("login-button")).toBeVisible();
    await other.close();
  });
});

test("an expired code offers a refresh, and scanning it does not log in", async ({ page }) => {
  const server = await startServer({ LOGIN_EXPIRY_SECONDS: "5" });
  try {
    await page.goto(server.url + "/");
    const old = await openLogin(page);
    await expect(page.getByTestId("login-refresh")).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId("login-status")).toContainText("二维码已过期");

    const phone = await scan(server.url, old.qr_url, await newUser(server.url));
    expect(phone.reply?.content).toContain("过期");
    await page.waitForTimeout(500);
    await expect(page.getByTestId("login-button")).toBeAttached();
    await expect(page.getByTestId("user-name")).toHaveCount(0);

    const restarted = page.waitForResponse((r) => r.url().endsWith("/api/login/start"));
    await page.getByTestId("login-refresh").click();
    const fresh = await (await restarted).json();
    expect(fresh.id).not.toBe(old.id);
    await expect(page.getByTestId("login-qr").locator("svg")).toBeVisible();
    await scan(server.url, fresh.qr_url, await newUser(server.url));
    await expectLoggedIn(page);
  } finally {
    await server.stop();
  }
});

test("confirm mode: the dialog shows a code, and only 确认 with that code logs in", async ({ page }) => {
  const server = await startServer({ LOGIN_CONFIRM_MODE: "1" });
  try {
    await page.goto(server.url + "/");
    const login = await openLogin(page);
    const openid = await newUser(server.url);
    const prompt = await scan(server.url, login.qr_url, openid);
    expect(prompt.reply?.content).toContain("127.0.0.1");
    expect(prompt.reply?.content).toContain("回复“确认”和那个网页上显示的 4 位确认码");
    const status = page.getByTestId("login-status");
    await expect(status).toHaveText(/^已扫码，请在微信中回复“确认 \d{4}”$/);
    const code = ((await status.textContent()) ?? "").match(/\d{4}/)?.[0] ?? "";

    // Someone else scanning the same code cannot take it over…
    const stranger = await newUser(server.url);
    expect((await scan(server.url, login.qr_url, stranger)).reply?.content).toContain("其他微信");
    // …nor confirm it, even with the code.
    expect((await say(server.url, stranger, `确认 ${code}`)).reply?.content).toContain("没有需要确认");
    // A bare 确认 confirms nothing: it asks for the code.
    expect((await say(server.url, openid, "确认")).reply?.content).toContain("确认码");
    await page.waitForTimeout(300);
    await expect(page.getByTestId("login-modal")).toBeVisible();

    const confirmed = await say(server.url, openid, `确认 ${code}`);
    expect(confirmed.reply?.content).toContain("登录成功");
    await expectLoggedIn(page);
  } finally {
    await server.stop();
  }
});

test("safe mode: encrypted pushes and replies, same flow", async ({ page }) => {
  const server = await startServer({ WECHAT_ENCODING_AES_KEY: AES_KEY });
  try {
    await page.goto(server.url + "/");
    const login = await openLogin(page);
    const phone = await scan(server.url, login.qr_url, await newUser(server.url));
    expect(phone.encrypted).toBe(true);
    expect(phone.reply?.content).toContain("登录成功");
    await expectLoggedIn(page);
  } finally {
    await server.stop();
  }
});

test("the user menu shows the links theme/header.json gives it, above 退出登录", async ({ page }) => {
  const theme = copyTheme();
  const header = JSON.parse(fs.readFileSync(path.join(theme, "header.json"), "utf8"));
  header.sections[0].blocks[0].settings.menu_links = [
    { label: "我的文章", href: "/about" },
    { label: "帮助中心", href: "https://example.com/help" },
  ];
  fs.writeFileSync(path.join(theme, "header.json"), JSON.stringify(header));
  const server = await startServer({ THEME_DIR: theme });
  try {
    await page.goto(server.url + "/");
    const login = await openLogin(page);
    await scan(server.url, login.qr_url, await newUser(server.url));
    await expectLoggedIn(page);

    await page.getByTestId("user-menu-button").click();
    const items = page.getByRole("menuitem");
    await expect(items).toHaveText(["我的文章", "帮助中心", "退出登录"]);
    await expect(items.nth(0)).toHaveAttribute("href", "/about");
    await expect(items.nth(1)).toHaveAttribute("target", "_blank");
    // Keyboard: the links are reachable and followed with Enter.
    await items.nth(0).focus();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(server.url + "/about");
    await expectLoggedIn(page);
  } finally {
    await server.stop();
    fs.rmSync(theme, { recursive: true, force: true });
  }
});
