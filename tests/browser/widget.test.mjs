// The chat widget in a real headless Chromium against a real govassist server
// (SmolLM2 test model, bundled knowledge base): a citizen types a question and
// sees the streamed answer with its sources.
//
// Run by scripts/test.sh after the Rust tests; needs /usr/bin/chromium (the
// script installs it) and target/debug/govassist (or $GOVASSIST_BIN).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const binary = process.env.GOVASSIST_BIN ?? path.join(root, "target/debug/govassist");
const skills = process.env.GOVASSIST_TEST_SKILLS ?? path.join(root, "target/test-skills");
const TEACHER_CERT_ITEM = "11440000006940116U2442102025000";

let server, browser, baseUrl, dataDir;

/** Starts `govassist serve` on a free loopback port and resolves with its URL. */
function startServer() {
  dataDir = mkdtempSync(path.join(tmpdir(), "govassist-browser-"));
  server = spawn(binary, ["serve", "--bind", "127.0.0.1:0"], {
    env: {
      ...process.env,
      GOVASSIST_DATA: dataDir,
      GOVASSIST__LLM__MODEL: "smollm2-135m",
      GOVASSIST__LLM__MAX_TOKENS: "24",
      GOVASSIST__SERVER__MAX_MESSAGE_CHARS: "60",
      GOVASSIST__SKILLS__DIR: skills,
      NO_COLOR: "1",
    },
    stdio: ["ignore", "inherit", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 180_000);
    server.stderr.on("data", (chunk) => {
      log += chunk;
      const match = /listening.*addr=(\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(`http://${match[1]}`);
      }
    });
    server.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
}

before(async () => {
  baseUrl = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("a question typed into the widget streams an answer with its sources", async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  await page.goto(baseUrl);
  await page.fill("#govassist-chat input[name=message]", "教师资格证证书验证需要什么材料？");
  await page.click("#govassist-chat button[type=submit]");

  const answer = page.locator(".ga-bot[data-done=true]");
  await answer.waitFor({ timeout: 180_000 });
  const text = await answer.locator(".ga-text").innerText();
  assert.ok(text.trim().length > 0, "the answer is not empty");
  const sources = await answer.locator(".ga-sources li").allInnerTexts();
  assert.ok(sources.some((s) => s.includes(TEACHER_CERT_ITEM)), `sources: ${sources}`);
  assert.equal(await page.locator(".ga-user").innerText(), "教师资格证证书验证需要什么材料？");
  assert.equal(await page.locator(".ga-error").count(), 0);

  const shots = path.join(root, "target/browser");
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, "widget.png"), fullPage: true });
});

test("a refused question shows the server's message in the chat", async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.goto(baseUrl);
  // The test server accepts at most 60 characters (server.max_message_chars).
  await page.fill("#govassist-chat input[name=message]", "营业执照".repeat(20));
  await page.click("#govassist-chat button[type=submit]");
  const error = page.locator(".ga-bot.ga-error");
  await error.waitFor({ timeout: 30_000 });
  assert.match(await error.innerText(), /60/, "the server's message, which names the limit");
  assert.equal(await page.locator("#govassist-chat button[type=submit]").isDisabled(), false);
});

test("the widget keeps the session the server made, and replaces an expired one", async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  // A session id left from a visit long ago: the server no longer knows it.
  await page.addInitScript(() => window.sessionStorage.setItem("govassist.session", "s-expired"));
  await page.goto(baseUrl);
  const ask = async (question, n) => {
    await page.fill("#govassist-chat input[name=message]", question);
    await page.click("#govassist-chat button[type=submit]");
    await page.locator(".ga-bot[data-done=true]").nth(n).waitFor({ timeout: 60_000 });
    return page.evaluate(() => window.sessionStorage.getItem("govassist.session"));
  };
  // Declined turns: no model needed, and a decline carries the session id too (in `done`).
  const first = await ask("你能推荐一只明天会涨的股票吗", 0);
  assert.match(first, /^s-[0-9a-f]{32}$/, "a server-made id replaced the expired one");
  const second = await ask("讲个笑话", 1);
  assert.equal(second, first, "the next turn continued the same session");
});
