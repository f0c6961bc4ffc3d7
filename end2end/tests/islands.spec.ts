// What a panicking island does to the others. Every island of a page runs in
// one wasm instance built with panic = "abort": a panic is a trap, nothing
// unwinds, no destructor runs. Leptos hydrates islands one after the other
// in page order, so a trap while hydrating ends the hydration of the page;
// and a trap later leaves the instance running in whatever state the panic
// left it. Hence the rule in the README: islands must not panic.
//
// No test-only island ships in the wasm: the panic is a real one, in the
// shipped FAQ island's own code, reached by giving it props it cannot read
// (the way a bug in an island would panic).

import fs from "node:fs";
import path from "node:path";
import { expect, Page, test } from "@playwright/test";
import { clickLogin } from "./support/login";
import { copyTheme, startServer } from "./support/server";

const faq = (id: string) => ({
  type: "faq",
  id,
  settings: { items: [{ question: `问题 ${id}`, answer: `答案 ${id}` }] },
});

/** Collects the panics (console_error_panic_hook logs them as errors). */
function panicsOf(page: Page): string[] {
  const panics: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") panics.push(message.text());
  });
  page.on("pageerror", (error) => panics.push(error.message));
  return panics;
}

async function closeLogin(page: Page): Promise<void> {
  await page.getByTestId("login-close").click();
  await expect(page.getByTestId("login-modal")).toHaveCount(0);
}

test("an island that panics while hydrating: islands before it work, islands after it never hydrate", async ({
  page,
}) => {
  const theme = copyTheme();
  fs.writeFileSync(
    path.join(theme, "pages/two-faqs.json"),
    JSON.stringify({ title: "两组问答", sections: [faq("first"), faq("second")] }),
  );
  const server = await startServer({ THEME_DIR: theme });
  try {
    // The first FAQ island gets props it cannot read: it panics while hydrating.
    await page.route(server.url + "/two-faqs", async (route) => {
      const response = await route.fetch();
      const html = (await response.text()).replace(
        /(<leptos-island[^>]*data-component="FaqList_[^"]*"[^>]*data-props=")[^"]*"/,
        '$1not json"',
      );
      await route.fulfill({ response, body: html });
    });
    const panics = panicsOf(page);
    await page.goto(server.url + "/two-faqs");
    await expect.poll(() => panics.join("\n")).toContain("could not deserialize props");

    // Before it in the page, the login button hydrated: it still works.
    await clickLogin(page);
    await closeLogin(page);

    // After it, the second FAQ never hydrated: its question does nothing.
    const question = page.locator("#section-second .m-faq__question");
    await question.click();
    await page.waitForTimeout(500);
    await expect(question).toHaveAttribute("aria-expanded", "false");
    await expect(page.locator("#section-second .m-faq__answer")).toBeHidden();
  } finally {
    await server.stop();
    fs.rmSync(theme, { recursive: true, force: true });
  }
});

test("a panic after the page hydrated does not stop the wasm instance: later calls run on in its state", async ({
  page,
}) => {
  const server = await startServer();
  try {
    const panics = panicsOf(page);
    await page.goto(server.url + "/about");
    await clickLogin(page);
    await closeLogin(page);

    // Panic inside the shared instance: hydrate a FAQ island from props it cannot read.
    await page.evaluate(async () => {
      const island = document.createElement("leptos-island");
      island.dataset.component = document.querySelector<HTMLElement>("leptos-island[data-component^=FaqList_]")!
        .dataset.component!;
      island.dataset.props = "not json";
      document.body.append(island);
      try {
        await (window as any).__hydrateIsland(island, island.dataset.component);
      } catch {
        // the trap, thrown into JavaScript
      }
    });
    await expect.poll(() => panics.join("\n")).toContain("could not deserialize props");

    // Nothing isolates the other islands: they keep running (here the panic
    // left no lock or borrow behind; one in the middle of an update could).
    await clickLogin(page);
    await closeLogin(page);
    const question = page.locator(".m-faq__question").first();
    await question.click();
    await expect(question).toHaveAttribute("aria-expanded", "true");
  } finally {
    await server.stop();
  }
});
