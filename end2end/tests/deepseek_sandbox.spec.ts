// The DeepSeek sandbox as a person sees it: the banner says article
// generation is simulated, and the sandbox page injects a fault with a
// plain form (JavaScript off).

import { expect, test } from "@playwright/test";
import { startServer, Server } from "./support/server";

let server: Server;
test.beforeAll(async () => {
  server = await startServer();
});
test.afterAll(async () => server.stop());

test("the banner says that article generation is simulated", async ({ page }) => {
  await page.goto(server.url + "/");
  const banner = page.locator(".sandbox-banner");
  await expect(banner).toContainText("微信登录由本机模拟，不会连接真实微信。");
  await expect(banner).toContainText("文章生成由本机模拟，不会连接真实 DeepSeek。");
  await expect(banner.getByRole("link", { name: "打开 DeepSeek 沙箱" })).toHaveAttribute("href", "/sandbox/deepseek");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the sandbox page arms and clears a fault with its forms", async ({ page }) => {
    await page.goto(server.url + "/sandbox/deepseek");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("DeepSeek 沙箱");
    await expect(page.getByText("当前故障：无")).toBeVisible();

    await page.getByLabel("故障类型").selectOption("insufficient_balance");
    await page.getByLabel("影响接下来几次生成").fill("3");
    await page.getByRole("button", { name: "设置故障" }).click();
    await expect(page).toHaveURL(/\/sandbox\/deepseek$/);
    const state = page.getByRole("region", { name: "当前状态" });
    await expect(state.getByRole("strong")).toHaveText("402 余额不足");
    await expect(state).toContainText("接下来的 3 次生成");

    const answer = await page.request.post(server.url + "/sandbox/deepseek/chat/completions", {
      headers: { authorization: "Bearer sk-sandbox-not-a-real-key" },
      data: { model: "deepseek-flash", messages: [{ role: "user", content: "标题：猫" }] },
    });
    expect(answer.status()).toBe(402);

    await page.getByRole("button", { name: "清除故障" }).click();
    await expect(page.getByRole("region", { name: "当前状态" })).toContainText("当前故障：无");
  });
});
