// Drives the GraphiQL page of a running Trellis in headless Chromium:
// loads it, runs a mutation and a query as the page's pre-filled user,
// subscribes and sees an event another client's mutation causes, and
// checks the answers rendered. Usage: DEV_TOKEN=... node graphiql.mjs BASE_URL
import { chromium } from "playwright-core";

const base = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const failures = [];
try {
  const page = await browser.newPage();
  const outside = [];
  page.on("request", (req) => {
    if (!req.url().startsWith(base) && !req.url().startsWith("data:")) outside.push(req.url());
  });
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(base + "/", { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-container", { timeout: 15000 });

  async function start(query) {
    // Replace the editor's text through CodeMirror, then press the run button.
    await page.evaluate((q) => {
      const cm = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
      cm.setValue(q);
    }, query);
    // GraphiQL parses the editor's text after a pause, and picks HTTP or
    // WebSocket from that parse: run before it, and the previous
    // document's transport is used.
    await page.waitForTimeout(700);
    await page.click(".graphiql-execute-button");
  }
  const result = () => page.evaluate(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue());

  async function run(query) {
    await start(query);
    await page.waitForFunction(() => {
      const cm = document.querySelector(".result-window .CodeMirror");
      return cm && cm.CodeMirror.getValue().includes("{");
    }, null, { timeout: 15000 });
    await page.waitForTimeout(300);
    return page.evaluate(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue());
  }

  const created = await run('mutation { createProject(input: {name: "from-the-browser"}) { project { name viewerRole } consistencyToken } }');
  if (!created.includes('"viewerRole": "ADMIN"')) failures.push("mutation result: " + created);
  const listed = await run('{ projects { edges { node { name } } } }');
  if (!listed.includes("from-the-browser")) failures.push("query result: " + listed);

  // A subscription runs over the WebSocket GraphiQL opens to Trellis, with
  // the page's Authorization header as its connection parameters; another
  // client's mutation then shows up in the result pane.
  await start("subscription { viewerProjectsChanged { project role removed } }");
  await page.waitForTimeout(1500); // let the subscription start
  const other = await fetch(base + "/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + process.env.DEV_TOKEN },
    body: JSON.stringify({ query: 'mutation { createProject(input: {name: "seen-live"}) { consistencyToken } }' }),
  });
  if (!other.ok) failures.push("mutation from outside the page: " + other.status);
  try {
    await page.waitForFunction(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue().includes("seen-live"),
      null, { timeout: 15000 });
  } catch (e) {
    failures.push("subscription result: " + (await result()));
  }
  const wsBase = base.replace(/^http/, "ws");
  if (!sockets.some((u) => u.startsWith(wsBase + "/graphql"))) failures.push("no WebSocket to " + wsBase + "/graphql: " + sockets.join(", "));
  await page.screenshot({ path: process.env.SCREENSHOT || "/tmp/graphiql.png" });
  if (outside.length) failures.push("requests outside Trellis: " + outside.join(", "));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("graphiql ok");
