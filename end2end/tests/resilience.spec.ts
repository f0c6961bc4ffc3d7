// What a visitor sees when things go wrong: the server restarts mid-login,
// WeChat refuses or does not answer.

import { expect, test } from "@playwright/test";
import { clickLogin, expectLoggedIn, openLogin } from "./support/login";
import { injectFault, newUser, scan } from "./support/phone";
import { startServer } from "./support/server";

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  test(`a login survives a server restart (${signal}) while the browser waits`, async ({ page }) => {
    const server = await startServer();
    try {
      await page.goto(server.url + "/");
      const login = await openLogin(page);

      await server.restart(signal);
      // The same code, scanned after the restart, still logs the waiting page in.
      const phone = await scan(server.url, login.qr_url, await newUser(server.url));
      expect(phone.reply?.content).toContain("登录成功");
      await expectLoggedIn(page);
      await page.reload();
      await expectLoggedIn(page);
    } finally {
      await server.stop();
    }
  });
}

test("WeChat refusing (quota) shows a clear message, and retry recovers", async ({ page }) => {
  const server = await startServer();
  try {
    await injectFault(server.url, { api: "qrcode_create", errcode: 45009, times: 1 });
    await page.goto(server.url + "/");
    await clickLogin(page);
    await expect(page.getByTestId("login-status")).toContainText("调用次数已达上限");
    await page.getByTestId("login-retry").click();
    await expect(page.getByTestId("login-qr").locator("svg")).toBeVisible();
    await expect(page.getByTestId("login-status")).toHaveText("请使用微信扫码，关注公众号后自动登录");
  } finally {
    await server.stop();
  }
});

test("WeChat not answering (timeout) shows a clear message, and retry recovers", async ({ page }) => {
  const server = await startServer();
  try {
    await injectFault(server.url, { api: "qrcode_create", delay_ms: 6500, times: 1 });
    await page.goto(server.url + "/");
    await clickLogin(page);
    await expect(page.getByTestId("login-status")).toHaveText("正在生成二维码…");
    await expect(page.getByTestId("login-status")).toContainText("暂时无法连接微信服务器", { timeout: 15_000 });
    const retried = page.waitForResponse((r) => r.url().endsWith("/api/login/start"));
    await page.getByTestId("login-retry").click();
    const login = await (await retried).json();
    await scan(server.url, login.qr_url, await newUser(server.url));
    await expectLoggedIn(page);
  } finally {
    await server.stop();
  }
});

test("too many codes from one address: the dialog says when to try again", async ({ page }) => {
  const server = await startServer({ LOGIN_START_PER_MINUTE: "1" });
  try {
    await page.goto(server.url + "/");
    await openLogin(page);
    await page.getByTestId("login-close").click();
    await page.getByTestId("login-button").click();
    await expect(page.getByTestId("login-status")).toContainText("请求太频繁了");
    await expect(page.getByTestId("login-retry")).toBeVisible();
  } finally {
    await server.stop();
  }
});
