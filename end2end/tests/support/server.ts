// Starts the release server the way an operator would: its own port, a
// fresh SQLite database, sandbox mode (WECHAT_SANDBOX=1) unless told otherwise.

import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../../..");
const SERVER_BIN = process.env.SERVER_BIN ?? path.join(ROOT, "target/release/server");

export interface Server {
  url: string;
  dataDir: string;
  env: Record<string, string>;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server (SIGTERM, or e.g. SIGKILL for a crash) and starts it again on the same port and database. */
  restart(signal?: NodeJS.Signals): Promise<void>;
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

function baseEnv(port: number, dataDir: string, extra: Record<string, string>): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: path.join(ROOT, "target/site"),
    DATABASE_URL: `sqlite://${dataDir}/site.db`,
    THEME_DIR: path.join(ROOT, "theme"),
    // The sandbox runs only when asked for.
    WECHAT_SANDBOX: "1",
    // Every test browser comes from 127.0.0.1: the limits are tested on their own.
    LOGIN_START_PER_MINUTE: "0",
    LOGIN_START_SITE_PER_MINUTE: "0",
    DEEPSEEK_SANDBOX: "1",
    RUST_LOG: "info",
    ...extra,
  };
}

async function waitHealthy(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`the server exited with ${child.exitCode}:\n${log()}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not become healthy:\n${log()}`);
}

export async function startServer(extra: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wensi-e2e-"));
  const env = baseEnv(port, dataDir, extra);
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  let child: ChildProcess;

  const launch = async () => {
    child = spawn(SERVER_BIN, [], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    await waitHealthy(url, child, () => output);
  };
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  };

  await launch();
  return {
    url,
    dataDir,
    env,
    log: () => output,
    stop,
    restart: async (signal: NodeJS.Signals = "SIGTERM") => {
      await stop(signal);
      await launch();
    },
  };
}

/** Runs the server expecting it to refuse to start; its exit code and output. */
export async function startFailure(extra: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wensi-e2e-"));
  const child = spawn(SERVER_BIN, [], { env: baseEnv(port, dataDir, extra), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(null);
    }, 20_000);
    child.once("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, output };
}

/** A copy of the shipped theme folder that a test may edit. */
export function copyTheme(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wensi-theme-"));
  fs.cpSync(path.join(ROOT, "theme"), dir, { recursive: true });
  return dir;
}
