// The packaged tarball, installed as its README says: unpacked into an empty
// folder away from the checkout and target/, `.env` copied from
// `.env.example`, run with an empty environment (as `env -i`). The page must
// hydrate from the files inside the binary, and a sandbox login must work.
// scripts/test.sh makes the tarball (scripts/package.sh) before this runs.

import { ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { expectLoggedIn, openLogin } from "./support/login";
import { newUser, scan } from "./support/phone";
import { ROOT } from "./support/server";

function tarball(): string {
  if (process.env.PACKAGE_TARBALL) return process.env.PACKAGE_TARBALL;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache/wensi/target");
  const dir = path.join(target, "package");
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^wensi-.*\.tar\.gz$/.test(f)) : [];
  if (found.length === 0) {
    throw new Error(`no package in ${dir}: run scripts/package.sh (scripts/test.sh does)`);
  }
  const newest = found
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  return newest;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

test.describe("the packaged tarball", () => {
  let site: string;
  let url: string;
  let child: ChildProcess;
  let output = "";

  test.beforeAll(async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "wensi-package-"));
    expect(path.relative(ROOT, folder).startsWith("..")).toBe(true);
    execFileSync("tar", ["-xzf", tarball(), "-C", folder]);
    const [unpacked] = fs.readdirSync(folder);
    site = path.join(folder, unpacked);
    expect(fs.readdirSync(site).sort()).toEqual([".env.example", "README.md", "server", "theme", "wensi.service"]);

    // What the owner does: copy the example, set the address.
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const example = fs.readFileSync(path.join(site, ".env.example"), "utf8");
    expect(example).toMatch(/^WECHAT_SANDBOX=1$/m);
    const env = example.replace(/^LEPTOS_SITE_ADDR=.*$/m, `LEPTOS_SITE_ADDR=127.0.0.1:${port}`);
    expect(env).toContain(`127.0.0.1:${port}`);
    fs.writeFileSync(path.join(site, ".env"), env);

    // An empty environment: no PATH, no CARGO_*, no LEPTOS_*.
    child = spawn(path.join(site, "server"), [], { cwd: site, env: {}, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the packaged server exited with ${child.exitCode}:\n${output}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the packaged server did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test.afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  });

  test("serves its own files, hydrates, and logs in through the sandbox", async ({ page }) => {
    expect(output).toContain("embedded in the binary");
    const fetched: { url: string; status: number }[] = [];
    page.on("response", (r) => {
      if (r.url().includes("/pkg/")) fetched.push({ url: r.url(), status: r.status() });
    });

    await page.goto(url + "/");
    await expect(page.locator("link#leptos")).toHaveAttribute("href", /^\/pkg\/site\.[\w-]+\.css$/);
    expect(await page.evaluate(() => getComputedStyle(document.body).margin)).toBe("0px");

    // Clicking opens the dialog only once the login island has hydrated.
    const login = await openLogin(page);
    expect(fetched.some((f) => f.url.endsWith(".wasm") && f.status === 200)).toBe(true);
    expect(fetched.every((f) => f.status === 200)).toBe(true);

    const openid = await newUser(url);
    const phone = await scan(url, login.qr_url, openid, "subscribe");
    expect(phone.reply?.content).toContain("登录成功");
    await expectLoggedIn(page);

    // The database is where `.env` (the default) says: inside the folder.
    expect(fs.existsSync(path.join(site, "data/site.db"))).toBe(true);
  });
});
