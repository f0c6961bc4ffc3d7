// The operator page /admin in a real browser, sandbox mode: logged out and
// logged in as someone else it is the site's 404 page; the operator
// (ADMIN_OPENIDS) who logged in through the QR code sees the charts, with
// his own login, follow and article counted in them.
//
// With SCREENSHOT_DIR set, the page is photographed (wide and phone) for a
// person to look at.

import { expect, Page, test } from "@playwright/test";
import fs from "node:fs";
import path from "node:path";
import { expectLoggedIn, openLogin } from "./support/login";
import { scan } from "./support/phone";
import { Server, startServer } from "./support/server";

const SHOTS = process.env.SCREENSHOT_DIR;
const ADMIN = "oAdminForBrowserTests0000001";
const OTHER = "oOtherForBrowserTests0000002";

async function shoot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function logInAs(page: Page, server: Server, openid: string): Promise<void> {
  await page.goto(server.url + "/");
  const login = await openLogin(page);
  await scan(server.url, login.qr_url, openid, "subscribe");
  await expectLoggedIn(page);
}

let server: Server;
test.beforeAll(async () => {
  server = await startServer({ ADMIN_OPENIDS: ADMIN, DEEPSEEK_SANDBOX_TOKENS_PER_SECOND: "0" });
});
test.afterAll(async () => server.stop());

test("/admin is the 404 page for visitors and other users", async ({ page }) => {
  const anonymous = await page.goto(server.url + "/admin");
  expect(anonymous?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "找不到这个页面" })).toBeVisible();
  await expect(page.getByTestId("admin")).toHaveCount(0);

  await logInAs(page, server, OTHER);
  const other = await page.goto(server.url + "/admin");
  expect(other?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "找不到这个页面" })).toBeVisible();
  await expect(page.getByTestId("admin")).toHaveCount(0);
});

test("the operator sees the figures and charts of the last 30 days", async ({ page, request }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await logInAs(page, server, ADMIN);
  // An article, written through the module's call as the page would.
  const started = await page.request.post(server.url + "/api/writing/start", {
    data: {
      brief: {
        topic: "办公室里泡绿茶",
        kind: "博客",
        tone: "轻松",
        length: "short",
        keywords: ["绿茶"],
        notes: "",
        outline: null,
        thinking: false,
      },
    },
  });
  expect(started.status()).toBe(200);
  const { id } = (await started.json()) as { id: string };
  await expect
    .poll(async () => {
      const answer = await page.request.post(server.url + "/api/writing/get", { data: { id, version: null } });
      return ((await answer.json()) as { status: string }).status;
    })
    .toBe("done");
  // A forged WeChat callback, refused and counted.
  const forged = await request.post(server.url + "/wechat/callback?signature=0&timestamp=1&nonce=1", {
    data: "<xml></xml>",
  });
  expect(forged.status()).toBe(403);

  const response = await page.goto(server.url + "/admin");
  expect(response?.status()).toBe(200);
  expect(response?.headers()["cache-control"]).toBe("no-store");
  await expect(page).toHaveTitle(/运营概况/);
  const admin = page.getByTestId("admin");
  await expect(admin.getByRole("heading", { name: "运营概况" })).toBeVisible();

  // Every chart is an SVG of 30 days; today's bars carry today's counts.
  const login = admin.locator('figure[data-chart="登录"]');
  await expect(login).toHaveAttribute("data-total", "2");
  await expect(login.locator("rect.m-admin__bar")).toHaveCount(30);
  await expect(login.locator("rect.m-admin__bar--today")).toHaveAttribute("data-value", "2");
  await expect(admin.locator('figure[data-chart="新用户"]')).toHaveAttribute("data-total", "2");
  await expect(admin.locator('figure[data-chart="扫登录码关注服务号"]')).toHaveAttribute("data-total", "2");
  await expect(admin.locator('figure[data-chart="文章生成"]')).toHaveAttribute("data-total", "1");
  const tokens = Number(await admin.locator('figure[data-chart="DeepSeek tokens"]').getAttribute("data-total"));
  expect(tokens).toBeGreaterThan(0);
  await expect(admin.locator('figure[data-kind="callback:stale_timestamp"], figure[data-kind="callback:bad_signature"]')).toHaveCount(1);
  await expect(admin.getByTestId("admin-errors-none")).toHaveText(/DeepSeek：最近 30 天没有出错/);

  // The bars are drawn: today's login bar has a height.
  const bar = await login.locator("rect.m-admin__bar--today").boundingBox();
  expect(bar?.height ?? 0).toBeGreaterThan(20);
  const now = admin.getByTestId("admin-now");
  await expect(now.locator('[data-figure="running_generations"]')).toHaveText("0 篇，另有 0 篇排队");
  await expect(now.locator('[data-figure="token"]')).toHaveText(/^取得 .*到期$/);

  await shoot(page, "admin-wide");
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, "admin-phone");
});
