// The page system as a visitor sees it: modules in the order their data
// files give, hydration, edits to a page file, a broken page file.

import { expect, Page, test } from "@playwright/test";
import fs from "node:fs";
import path from "node:path";
import { copyTheme, startFailure, startServer, Server } from "./support/server";

async function moduleOrder(page: Page): Promise<string[]> {
  return page.locator("[data-module]").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-module") ?? ""));
}

test.describe("shipped pages", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
  });
  test.afterAll(async () => server.stop());

  test("the home page shows header, its modules and footer in file order", async ({ page }) => {
    await page.goto(server.url + "/");
    expect(await moduleOrder(page)).toEqual(["header", "wechat_login", "hero", "feature_list", "footer"]);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("把想法交给 DeepSeek，写成一篇好文章");
    await expect(page.locator(".sandbox-banner")).toContainText("沙箱模式");
    await expect(page).toHaveTitle(/文思/);
  });

  test("the about page is composed from the same modules with other settings", async ({ page }) => {
    await page.goto(server.url + "/about");
    expect(await moduleOrder(page)).toEqual(["header", "wechat_login", "hero", "faq", "feature_list", "footer"]);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("一个认真做中文写作工具的小团队");
  });

  test("hydration runs: the FAQ island opens its answers", async ({ page }) => {
    await page.goto(server.url + "/about");
    const question = page.getByRole("button", { name: "为什么要用微信登录？" });
    const answer = page.getByText("微信扫码最省事");
    await expect(answer).toBeHidden();
    // Islands hydrate when the browser is idle: retry the click until it takes.
    await expect(async () => {
      await question.click();
      await expect(answer).toBeVisible({ timeout: 500 });
    }).toPass();
    await expect(question).toHaveAttribute("aria-expanded", "true");
    await question.click();
    await expect(answer).toBeHidden();

    await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "首页" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("把想法交给 DeepSeek，写成一篇好文章");
  });

  test("an unknown address shows the 404 page inside the site", async ({ page }) => {
    const response = await page.goto(server.url + "/no/such/page");
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("heading", { name: "找不到这个页面" })).toBeVisible();
    expect(await moduleOrder(page)).toEqual(["header", "wechat_login", "footer"]);
  });
});

test("an edited page file is served after a restart", async ({ page }) => {
  const theme = copyTheme();
  const server = await startServer({ THEME_DIR: theme });
  try {
    await page.goto(server.url + "/");
    expect(await moduleOrder(page)).toEqual(["header", "wechat_login", "hero", "feature_list", "footer"]);

    const file = path.join(theme, "pages/index.json");
    const index = JSON.parse(fs.readFileSync(file, "utf8"));
    const [hero, features] = index.sections;
    hero.settings.headline = "改过的标题";
    const faq = { type: "faq", settings: { heading: "新加的问答", items: [{ question: "能改吗？", answer: "能。" }] } };
    index.sections = [features, hero, faq];
    fs.writeFileSync(file, JSON.stringify(index, null, 2));

    await server.restart();
    await page.goto(server.url + "/");
    expect(await moduleOrder(page)).toEqual(["header", "wechat_login", "feature_list", "hero", "faq", "footer"]);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("改过的标题");
    await expect(page.getByRole("heading", { name: "新加的问答" })).toBeVisible();
  } finally {
    await server.stop();
  }
});

test("a page file with an unknown module type stops the server with the file named", async () => {
  const theme = copyTheme();
  const file = path.join(theme, "pages/about.json");
  const about = JSON.parse(fs.readFileSync(file, "utf8"));
  about.sections.push({ type: "carousel", settings: {} });
  fs.writeFileSync(file, JSON.stringify(about));

  const { code, output } = await startFailure({ THEME_DIR: theme });
  expect(code).not.toBe(0);
  expect(code).not.toBeNull();
  expect(output).toContain(file);
  expect(output).toContain(`sections[${about.sections.length - 1}].type`);
  expect(output).toContain('unknown module type "carousel"');
});

test("the tests' module (test_probe) cannot be placed by the site's theme files", async () => {
  const theme = copyTheme();
  const file = path.join(theme, "pages/about.json");
  const about = JSON.parse(fs.readFileSync(file, "utf8"));
  about.sections.push({ type: "test_probe", settings: { name: "x", fault: "panic_while_building" } });
  fs.writeFileSync(file, JSON.stringify(about));

  const { code, output } = await startFailure({ THEME_DIR: theme });
  expect(code).not.toBe(0);
  expect(code).not.toBeNull();
  expect(output).toContain('unknown module type "test_probe"');
});
