// Login on phones (issue 15), in a phone-sized Chromium that says it is
// WeChat's browser, or Safari on an iPhone: the QR is a picture, with the
// words for that visitor; the sandbox phone's long-press 识别图中二维码 of
// that picture logs the page in, also when the page was hidden meanwhile
// and its event stream never got through. Screenshots of each case go to
// the test's output folder (SCREENSHOT_DIR, if set) to be checked by eye.

import { expect, Page, test, TestInfo } from "@playwright/test";
import path from "node:path";
import { clickLogin, expectLoggedIn } from "./support/login";
import { newUser } from "./support/phone";
import { startServer, Server } from "./support/server";

const WECHAT_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
const SAFARI_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

let server: Server;
test.beforeAll(async () => {
  server = await startServer();
});
test.afterAll(async () => server.stop());

async function shot(page: Page, info: TestInfo, name: string): Promise<void> {
  const dir = process.env.SCREENSHOT_DIR ?? info.outputDir;
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** Opens the dialog; the QR picture's `data:` URL. */
async function openPhoneLogin(page: Page): Promise<string> {
  await page.goto(server.url + "/");
  await clickLogin(page);
  const qr = page.getByTestId("login-qr");
  await expect(qr).toBeVisible();
  expect(await qr.evaluate((element) => element.tagName)).toBe("IMG");
  const src = (await qr.getAttribute("src")) ?? "";
  expect(src).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  // The picture has loaded and is the size of the box.
  expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 200)).toBe(true);
  return src;
}

/** What WeChat does on 识别图中二维码: reads the picture, opens the account. */
async function longPress(image: string, openid: string): Promise<{ event?: string; reply?: { content?: string } }> {
  const response = await fetch(`${server.url}/sandbox/wechat/phone/api/scan`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ image, openid }),
  });
  expect(response.status).toBe(200);
  return response.json();
}

/** Makes the page believe it was hidden (`hidden`) or shown again. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
    Object.defineProperty(document, "visibilityState", { value: hidden ? "hidden" : "visible", configurable: true });
    // As browsers fire it: at the document, bubbling (to the window).
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  }, hidden);
}

test.describe("inside WeChat on a phone", () => {
  test.use({ ...PHONE, userAgent: WECHAT_UA });

  test("the QR is a picture with the long-press words; a long-press logs the page in", async ({ page }, info) => {
    const image = await openPhoneLogin(page);
    await expect(page.getByTestId("login-modal")).toHaveAttribute("data-device", "wechat");
    await expect(page.getByTestId("login-status")).toHaveText("长按二维码，识别后关注公众号即可登录");
    await expect(page.getByTestId("login-hint")).toContainText("已关注公众号：长按识别即可登录");
    await expect(page.getByTestId("login-save-qr")).toHaveCount(0);
    await shot(page, info, "phone-wechat-dialog");

    const phone = await longPress(image, await newUser(server.url));
    expect(phone.event).toBe("subscribe");
    expect(phone.reply?.content).toContain("登录成功");
    await expect(page.getByTestId("login-modal")).toHaveCount(0);
    await expectLoggedIn(page);
    await shot(page, info, "phone-wechat-logged-in");
  });

  test("a page hidden while its visitor is in the account logs in when shown again", async ({ page }) => {
    // WeChat pauses a hidden page; here its event stream never gets
    // through at all (the browser keeps retrying it), so only the check
    // made when the page is shown again can tell it.
    await page.route("**/api/login/*/events", (route) => route.abort());
    const asked: string[] = [];
    page.on("request", (request) => {
      if (/\/api\/login\/[0-9a-f]{32}$/.test(request.url())) asked.push(request.url());
    });
    const image = await openPhoneLogin(page);
    await setHidden(page, true);
    await longPress(image, await newUser(server.url));
    // Longer than the fallback poll's 2 s: the page has not learnt of the
    // scan, and has not polled (its stream is retrying, not closed).
    await page.waitForTimeout(3000);
    await expect(page.getByTestId("login-modal")).toBeVisible();
    expect(asked).toHaveLength(0);
    await setHidden(page, false);
    await expect(page.getByTestId("login-modal")).toHaveCount(0);
    await expectLoggedIn(page);
    expect(asked).toHaveLength(1);
  });
});

test.describe("a phone browser outside WeChat", () => {
  test.use({ ...PHONE, userAgent: SAFARI_UA });

  test("the dialog says how to do it from one phone and saves the QR", async ({ page }, info) => {
    const image = await openPhoneLogin(page);
    await expect(page.getByTestId("login-modal")).toHaveAttribute("data-device", "phone");
    await expect(page.getByTestId("login-status")).toHaveText("保存二维码，在微信“扫一扫”里从相册选取");
    await expect(page.getByTestId("login-hint")).toContainText("另一台手机");
    const save = page.getByTestId("login-save-qr");
    await expect(save).toHaveText("保存二维码");
    await expect(save).toHaveAttribute("href", image);
    await shot(page, info, "phone-safari-dialog");

    const download = page.waitForEvent("download");
    await save.click();
    expect((await download).suggestedFilename()).toBe("微信登录二维码.png");

    // Scanned from the album (the same picture): logged in here.
    await longPress(image, await newUser(server.url));
    await expectLoggedIn(page);
  });
});

test.describe("a computer", () => {
  test("stays as it was: the inline SVG and the scan words", async ({ page }, info) => {
    await page.goto(server.url + "/");
    await clickLogin(page);
    await expect(page.getByTestId("login-modal")).toHaveAttribute("data-device", "desktop");
    await expect(page.getByTestId("login-qr").locator("svg")).toBeVisible();
    await expect(page.getByTestId("login-status")).toHaveText("请使用微信扫码，关注公众号后自动登录");
    await expect(page.getByTestId("login-save-qr")).toHaveCount(0);
    await shot(page, info, "desktop-dialog");
  });
});

test.describe("微信一键登录 inside WeChat (LOGIN_WECHAT_OAUTH=1)", () => {
  let oauthServer: Server;
  test.beforeAll(async () => {
    oauthServer = await startServer({ LOGIN_WECHAT_OAUTH: "1" });
  });
  test.afterAll(async () => oauthServer.stop());
  test.use({ ...PHONE, userAgent: WECHAT_UA });

  /** A sandbox user who follows the account (he scanned a login QR once). */
  async function follower(base: string): Promise<string> {
    const started = await (await fetch(`${base}/api/login/start`, { method: "POST" })).json();
    const openid = await newUser(base);
    const response = await fetch(`${base}/sandbox/wechat/phone/api/scan`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: started.qr_url, openid }),
    });
    expect(response.status).toBe(200);
    return openid;
  }

  async function tapOneTap(page: Page, info: TestInfo): Promise<void> {
    await page.goto(oauthServer.url + "/about");
    await clickLogin(page);
    const oneTap = page.getByTestId("login-one-tap");
    await expect(oneTap).toHaveText("微信一键登录");
    await expect(page.getByTestId("login-qr")).toBeVisible();
    await shot(page, info, "phone-wechat-one-tap-dialog");
    await oneTap.click();
    // The sandbox's authorize page: which simulated user is in WeChat.
    await expect(page.getByTestId("oauth-allow")).toBeVisible();
  }

  test("one tap logs a follower in and comes back to the page", async ({ page }, info) => {
    const openid = await follower(oauthServer.url);
    await tapOneTap(page, info);
    await page.getByTestId("oauth-user").selectOption(openid);
    await shot(page, info, "sandbox-authorize-page");
    await page.getByTestId("oauth-allow").click();
    await expect(page).toHaveURL(oauthServer.url + "/about");
    await expectLoggedIn(page);
    await shot(page, info, "phone-wechat-one-tap-logged-in");
  });

  test("a visitor who does not follow is shown the QR to follow", async ({ page }, info) => {
    await tapOneTap(page, info);
    // 新用户（未关注）: the default choice.
    await page.getByTestId("oauth-allow").click();
    await expect(page.getByTestId("login-modal")).toBeVisible();
    await expect(page.getByTestId("login-status")).toHaveText("长按二维码，识别后关注公众号即可登录");
    await expect(page.getByTestId("login-follow-first")).toContainText("你还没有关注公众号");
    // Not offered again: it would only come back here.
    await expect(page.getByTestId("login-one-tap")).toHaveCount(0);
    await expect(page.getByTestId("login-button")).toBeVisible();
    await shot(page, info, "phone-wechat-follow-qr");
    // He follows by long-pressing it: logged in.
    const image = (await page.getByTestId("login-qr").getAttribute("src")) ?? "";
    const response = await fetch(`${oauthServer.url}/sandbox/wechat/phone/api/scan`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ image }),
    });
    expect(response.status).toBe(200);
    await expectLoggedIn(page);
  });
});
