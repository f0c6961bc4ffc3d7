// The writing module in a real browser, sandbox mode (WeChat and DeepSeek):
// log in → /write → the brief → the article streams in → stop keeps the
// text → regenerate → a reload mid-generation resumes → /articles lists it
// → open, edit, save → copy for the 公众号 gives inline-styled HTML →
// delete. Logged out, /write shows the form and a login prompt; another
// user's article is 找不到.
//
// With SCREENSHOT_DIR set, the pages are also photographed (wide and phone)
// for a person to look at.

import { expect, Page, test } from "@playwright/test";
import fs from "node:fs";
import path from "node:path";
import { expectLoggedIn, StartedLogin } from "./support/login";
import { newUser, scan } from "./support/phone";
import { Server, startServer } from "./support/server";

const SHOTS = process.env.SCREENSHOT_DIR;

async function shoot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The sandbox's writing speed (tokens per second; 0 = as fast as it can). */
async function pace(server: Server, tokensPerSecond: number): Promise<void> {
  const response = await fetch(`${server.url}/sandbox/deepseek/pace`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tokens_per_second: tokensPerSecond }),
  });
  expect(response.ok).toBe(true);
}

/** Waits until the page's writer island has hydrated (typing before would be reset). */
async function writerReady(page: Page): Promise<void> {
  await expect(page.getByTestId("writer")).toHaveAttribute("data-ready", "true");
}

/** Logs in from /write's own prompt: the #login link opens the header's dialog. */
async function logInFromWrite(page: Page, server: Server, openid?: string): Promise<string> {
  await page.goto(server.url + "/write");
  await writerReady(page);
  const started = page.waitForResponse((r) => r.url().endsWith("/api/login/start") && r.request().method() === "POST");
  await expect(async () => {
    await page.getByTestId("writer-login").click();
    await expect(page.getByTestId("login-modal")).toBeVisible({ timeout: 1000 });
  }).toPass();
  const login = (await (await started).json()) as StartedLogin;
  const user = openid ?? (await newUser(server.url));
  await scan(server.url, login.qr_url, user, "subscribe");
  await expectLoggedIn(page);
  return user;
}

async function fillBrief(page: Page, topic: string): Promise<void> {
  await page.getByTestId("brief-topic").fill(topic);
  await page.getByTestId("brief-kind").selectOption("博客");
  await page.getByTestId("brief-tone").selectOption("轻松活泼");
  await page.getByTestId("brief-length-short").check();
  await page.getByTestId("brief-keywords").fill("绿茶，办公室");
  await page.getByTestId("brief-notes").fill("写给上班族");
}

const body = (page: Page) => page.getByTestId("article-body");
const status = (page: Page) => page.getByTestId("article");

async function bodyText(page: Page): Promise<string> {
  return (await body(page).innerText()).trim();
}

/** Waits until the article has at least `chars` characters of text. */
async function waitForText(page: Page, chars: number): Promise<string> {
  await expect.poll(async () => (await bodyText(page)).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(chars);
  return bodyText(page);
}

let server: Server;
test.beforeAll(async () => {
  server = await startServer({ DEEPSEEK_SANDBOX_TOKENS_PER_SECOND: "40" });
});
test.afterAll(async () => server.stop());

test("logged out, /write shows the form with a login prompt that opens the login dialog", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(server.url + "/write");
  await writerReady(page);
  await expect(page.getByTestId("brief-form")).toBeVisible();
  await expect(page.getByTestId("brief-topic")).toBeVisible();
  for (const kind of ["公众号推文", "博客", "产品介绍", "新闻稿", "读书笔记"]) {
    await expect(page.getByTestId("brief-kind").locator("option", { hasText: kind })).toHaveCount(1);
  }
  await expect(page.getByTestId("brief-start")).toHaveCount(0);
  await expect(page.getByTestId("writer-login")).toHaveText("微信登录后开始写作");
  await shoot(page, "write-logged-out-wide");
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, "write-logged-out-phone");

  // What the visitor typed stays through the login (no reload).
  await page.getByTestId("brief-topic").fill("留下来的主题");
  await page.getByTestId("writer-login").click();
  await expect(page.getByTestId("login-modal")).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("login-modal")).toHaveCount(0);
  await expect(page.getByTestId("brief-topic")).toHaveValue("留下来的主题");

  // /articles asks for a login too.
  await page.goto(server.url + "/articles");
  await expect(page.getByTestId("article-list-login")).toBeVisible();
});

test("a limit is told in plain words before anything is sent", async ({ page }) => {
  await logInFromWrite(page, server);
  await expect(page.getByTestId("brief-start")).toBeVisible();
  await page.getByTestId("brief-start").click();
  await expect(page.getByTestId("writer-topic-error")).toHaveText("请填写主题或标题。");
  await page.getByTestId("brief-topic").fill("字".repeat(101));
  await page.getByTestId("brief-start").click();
  await expect(page.getByTestId("writer-topic-error")).toContainText("最多 100 个字，现在有 101 个字");
  await page.getByTestId("brief-keywords").fill("一,二,三,四,五,六,七,八,九");
  await page.getByTestId("brief-topic").fill("好的主题");
  await page.getByTestId("brief-start").click();
  await expect(page.getByTestId("writer-keywords-error")).toContainText("关键词最多 8 个");
  await expect(page).toHaveURL(/\/write$/);
});

test("write, stop, regenerate, resume after a reload, list, edit, copy for the 公众号, delete", async ({ page, context }) => {
  test.setTimeout(240_000);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  await page.setViewportSize({ width: 1280, height: 900 });
  await logInFromWrite(page, server);
  await shoot(page, "write-logged-in-wide");
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, "write-logged-in-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  await expect(page.getByTestId("writer-quota")).toContainText("今天还可以生成");

  // The brief → the article streams into the page.
  await pace(server, 40);
  await fillBrief(page, "春天喝什么茶");
  await page.getByTestId("brief-start").click();
  await expect(page).toHaveURL(/\/write\?id=/);
  const articleUrl = page.url();
  await expect(status(page)).toHaveAttribute("data-status", /queued|running/);
  const early = await waitForText(page, 20);
  const later = await waitForText(page, early.length + 20);
  expect(later.startsWith(early.slice(0, 10))).toBe(true);
  await expect(page.getByTestId("article-progress")).toBeVisible();
  await shoot(page, "write-mid-generation-wide");
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, "write-mid-generation-phone");
  await page.setViewportSize({ width: 1280, height: 900 });

  // Stop keeps the text.
  await page.getByTestId("article-stop").click();
  await expect(status(page)).toHaveAttribute("data-status", "stopped");
  const stopped = await bodyText(page);
  expect(stopped.length).toBeGreaterThanOrEqual(later.length);
  await page.waitForTimeout(1500);
  expect(await bodyText(page)).toBe(stopped);
  await page.reload();
  await expect(status(page)).toHaveAttribute("data-status", "stopped");
  expect(await bodyText(page)).toBe(stopped);
  await writerReady(page);

  // Regenerate: a new version, the first kept.
  await page.getByTestId("article-regenerate").click();
  await expect(page.getByTestId("article-versions")).toContainText("第 2 版");
  await expect(status(page)).toHaveAttribute("data-status", /queued|running/);
  const before = await waitForText(page, 30);

  // A reload in the middle of the generation picks it up where it was.
  await page.reload();
  const rendered = await bodyText(page);
  expect(rendered.length).toBeGreaterThanOrEqual(before.length);
  expect(rendered.startsWith(before.slice(0, 20))).toBe(true);
  await expect(status(page)).toHaveAttribute("data-status", /queued|running/);
  await writerReady(page);
  await waitForText(page, rendered.length + 20);
  // Then let it finish quickly.
  await pace(server, 0);
  await expect(status(page)).toHaveAttribute("data-status", "done", { timeout: 60_000 });
  const finished = await bodyText(page);
  await expect(page.getByTestId("article-words")).toHaveText(/^\d+ 字$/);
  await expect(page.getByTestId("article-time")).toHaveText(/^用时 /);
  await shoot(page, "write-finished-wide");
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, "write-finished-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  // Nothing lost or repeated across the resume: the stored article is what the page showed.
  await page.reload();
  expect(await bodyText(page)).toBe(finished);
  await writerReady(page);
  // The first version is still there.
  await page.getByTestId("article-versions").getByRole("button", { name: "第 1 版" }).click();
  await expect.poll(() => bodyText(page)).toBe(stopped);

  // /articles lists it; opening it shows it.
  await page.goto(server.url + "/articles");
  const row = page.getByTestId("article-row").filter({ hasText: "春天喝什么茶" });
  await expect(row).toHaveCount(1);
  await shoot(page, "articles-wide");
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, "articles-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  await row.getByRole("link").click();
  await expect(page).toHaveURL(articleUrl);
  await writerReady(page);

  // Edit and save.
  await page.getByTestId("article-edit").click();
  await page.getByTestId("edit-title").fill("春天喝茶指南");
  const edited = (await page.getByTestId("edit-body").inputValue()) + "\n\n## 我加的一节\n\n我加的一段。";
  await page.getByTestId("edit-body").fill(edited);
  await page.getByTestId("edit-save").click();
  await expect(body(page).locator("h2", { hasText: "我加的一节" })).toBeVisible();
  await expect(page.getByTestId("article-title")).toHaveText("春天喝茶指南");
  await page.reload();
  await expect(body(page)).toContainText("我加的一段。");
  await writerReady(page);

  // Copy for the 公众号: rich text with inline styles, and the Markdown as plain text.
  await page.getByTestId("article-copy-rich").click();
  await expect(page.getByTestId("article-copied")).toContainText("已复制为公众号格式");
  const clipboard = await page.evaluate(async () => {
    const items = await navigator.clipboard.read();
    const item = items[0];
    return {
      types: item.types,
      html: await (await item.getType("text/html")).text(),
      text: await (await item.getType("text/plain")).text(),
    };
  });
  expect(clipboard.types).toContain("text/html");
  expect(clipboard.html).toMatch(/<h2 style="[^"]*border-left:4px solid/);
  expect(clipboard.html).toMatch(/<p style="[^"]*margin/);
  expect(clipboard.html).not.toContain("class=");
  expect(clipboard.text).toContain("## 我加的一节");

  await page.getByTestId("article-copy-markdown").click();
  await expect(page.getByTestId("article-copied")).toHaveText("已复制 Markdown。");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain("我加的一段。");

  // Download .md
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("article-download").click()]);
  expect(download.suggestedFilename()).toBe("春天喝茶指南.md");
  expect(fs.readFileSync(await download.path(), "utf8")).toContain("我加的一段。");

  // Delete, with the keyboard: Esc keeps it; Tab to 删除 and Enter removes it.
  await page.getByTestId("article-delete").click();
  await expect(page.getByTestId("confirm-dialog")).toBeVisible();
  await expect(page.getByTestId("confirm-cancel")).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("confirm-dialog")).toHaveCount(0);
  await page.getByTestId("article-delete").click();
  await expect(page.getByTestId("confirm-cancel")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByTestId("confirm-ok")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/articles$/);
  await expect(page.getByTestId("article-row").filter({ hasText: "春天喝茶指南" })).toHaveCount(0);
  const gone = await page.goto(articleUrl);
  expect(gone?.status()).toBe(404);
  await expect(page.getByTestId("writer-missing")).toContainText("找不到这篇文章");
});

test("another user's article is 找不到 (404), its stream too; /articles deletes with a keyboard dialog", async ({ browser }) => {
  test.setTimeout(120_000);
  await pace(server, 0);
  const owner = await browser.newPage();
  await logInFromWrite(owner, server);
  await fillBrief(owner, "只属于我的文章");
  await owner.getByTestId("brief-start").click();
  await expect(owner).toHaveURL(/\/write\?id=/);
  await expect(status(owner)).toHaveAttribute("data-status", "done", { timeout: 60_000 });
  const url = owner.url();
  const id = new URL(url).searchParams.get("id")!;

  const stranger = await browser.newPage();
  await logInFromWrite(stranger, server);
  const answer = await stranger.goto(url);
  expect(answer?.status()).toBe(404);
  await expect(stranger.getByTestId("writer-missing")).toContainText("找不到这篇文章");
  await expect(stranger.locator("body")).not.toContainText("只属于我的文章");
  const stream = await stranger.evaluate(async (id) => (await fetch(`/api/articles/${id}/events`)).status, id);
  expect(stream).toBe(404);
  await stranger.goto(server.url + "/articles");
  await expect(stranger.getByTestId("article-list-empty")).toBeVisible();

  // The owner deletes it from /articles: the dialog is a real modal.
  await owner.goto(server.url + "/articles");
  await expect(owner.getByTestId("article-list")).toHaveAttribute("data-ready", "true");
  const row = owner.getByTestId("article-row").filter({ hasText: "只属于我的文章" });
  await row.getByTestId("article-row-delete").focus();
  await owner.keyboard.press("Enter");
  await expect(owner.getByTestId("confirm-dialog")).toBeVisible();
  await expect(owner.getByTestId("confirm-cancel")).toBeFocused();
  await owner.keyboard.press("Escape");
  await expect(owner.getByTestId("confirm-dialog")).toHaveCount(0);
  await expect(row).toHaveCount(1);
  await row.getByTestId("article-row-delete").click();
  await owner.getByTestId("confirm-ok").click();
  await expect(row).toHaveCount(0);
  await owner.reload();
  await expect(owner.getByTestId("article-row").filter({ hasText: "只属于我的文章" })).toHaveCount(0);
});

test("/articles fills in place after a login, and shows the empty note once the last row is deleted", async ({ browser }) => {
  test.setTimeout(120_000);
  await pace(server, 0);
  const writer = await browser.newPage();
  const user = await logInFromWrite(writer, server);
  for (const topic of ["先写的文章", "后写的文章"]) {
    await writer.goto(server.url + "/write");
    await writerReady(writer);
    await fillBrief(writer, topic);
    await writer.getByTestId("brief-start").click();
    await expect(writer).toHaveURL(/\/write\?id=/);
    await expect(status(writer)).toHaveAttribute("data-status", "done", { timeout: 60_000 });
  }

  // Another browser, logged out: the list asks for a login, and the login
  // (the header's dialog) fills it in place, drawn by the browser.
  const reader = await browser.newPage();
  await reader.goto(server.url + "/articles");
  await expect(reader.getByTestId("article-list")).toHaveAttribute("data-ready", "true");
  const started = reader.waitForResponse((r) => r.url().endsWith("/api/login/start") && r.request().method() === "POST");
  await expect(async () => {
    await reader.getByTestId("article-list-login").getByRole("link").click();
    await expect(reader.getByTestId("login-modal")).toBeVisible({ timeout: 1000 });
  }).toPass();
  const login = (await (await started).json()) as StartedLogin;
  await scan(server.url, login.qr_url, user, "subscribe");
  await expectLoggedIn(reader);
  const rows = reader.getByTestId("article-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText("后写的文章");

  // A row the browser drew goes when deleted.
  const first = rows.filter({ hasText: "先写的文章" });
  await first.getByTestId("article-row-delete").click();
  await confirmDelete(reader);
  await expect(first).toHaveCount(0);
  await expect(rows).toHaveCount(1);

  // Reloaded, the server draws the row; deleting the last one leaves the
  // empty note, and the list is empty for the server too.
  await reader.reload();
  await expect(reader.getByTestId("article-list")).toHaveAttribute("data-ready", "true");
  await expect(rows).toHaveCount(1);
  await expect(reader.getByTestId("article-list-empty")).toHaveCount(0);
  await rows.getByTestId("article-row-delete").click();
  await confirmDelete(reader);
  await expect(rows).toHaveCount(0);
  await expect(reader.getByTestId("article-list-empty")).toBeVisible();
  await reader.reload();
  await expect(reader.getByTestId("article-list-empty")).toBeVisible();
});

async function confirmDelete(page: Page): Promise<void> {
  await expect(page.getByTestId("confirm-dialog")).toBeVisible();
  await page.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("confirm-dialog")).toHaveCount(0);
}
