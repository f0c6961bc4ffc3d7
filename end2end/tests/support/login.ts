// Opening the login dialog and reading what the browser asked the server.

import { expect, Page } from "@playwright/test";

export interface StartedLogin {
  id: string;
  qr_url: string;
  expires_in: number;
}

/** Clicks 微信登录 until the dialog opens: islands hydrate when the browser is idle. */
export async function clickLogin(page: Page): Promise<void> {
  await expect(async () => {
    await page.getByTestId("login-button").click();
    await expect(page.getByTestId("login-modal")).toBeVisible({ timeout: 500 });
  }).toPass();
}

/** Opens the login dialog; the attempt it started. */
export async function openLogin(page: Page): Promise<StartedLogin> {
  const started = page.waitForResponse((r) => r.url().endsWith("/api/login/start") && r.request().method() === "POST");
  await clickLogin(page);
  const response = await started;
  expect(response.status()).toBe(200);
  await expect(page.getByTestId("login-qr").locator("svg")).toBeVisible();
  return (await response.json()) as StartedLogin;
}

export async function expectLoggedIn(page: Page): Promise<string> {
  const name = page.getByTestId("user-name");
  await expect(name).toBeVisible();
  await expect(page.getByTestId("login-button")).toHaveCount(0);
  return (await name.textContent()) ?? "";
}
