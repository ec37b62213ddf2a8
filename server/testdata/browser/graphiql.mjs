// Drives the GraphiQL page of a running Trellis in headless Chromium:
// loads it, runs a mutation and a query as the page's pre-filled user, and
// checks the answers rendered. Usage: node graphiql.mjs BASE_URL
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
  await page.goto(base + "/", { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-container", { timeout: 15000 });

  async function run(query) {
    // Replace the editor's text through CodeMirror, then press the run button.
    await page.evaluate((q) => {
      const cm = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
      cm.setValue(q);
    }, query);
    await page.click(".graphiql-execute-button");
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
