// Drives the sandbox's simulated phone through its JSON endpoints, the way
// WeChat on a phone would reach the site.

export interface PhoneReply {
  delivered: boolean;
  http_status?: number;
  reply?: { kind: string; content?: string; body?: string };
  encrypted?: boolean;
  openid?: string;
  event?: string;
  error?: string;
}

async function post(base: string, path: string, body: unknown): Promise<PhoneReply> {
  const response = await fetch(`${base}/sandbox/wechat/phone/api/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await response.json()) as PhoneReply;
}

export async function newUser(base: string): Promise<string> {
  const response = await fetch(`${base}/sandbox/wechat/phone/api/users`, { method: "POST" });
  const user = (await response.json()) as { openid: string };
  return user.openid;
}

export function scan(
  base: string,
  qrUrl: string,
  openid: string,
  mode?: "subscribe" | "scan",
): Promise<PhoneReply> {
  return post(base, "scan", { url: qrUrl, openid, mode });
}

export function say(base: string, openid: string, text: string): Promise<PhoneReply> {
  return post(base, "message", { openid, text });
}

export async function injectFault(base: string, fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${base}/sandbox/wechat/phone/api/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(fault),
  });
  if (!response.ok) throw new Error(`fault injection failed: ${response.status}`);
}
