// The browser test's driver: builds the React app in app/ with vite (VITE_CONVEX_URL = the
// deployment's client URL, as Convex's templates do), serves it, and drives two pages of it in
// Debian's headless Chromium with puppeteer-core: the wall shows posts live and pages through them
// (usePaginatedQuery), the poster posts (useMutation). Screenshots go to the output directory.
//
//   node browser_test.js <app dir> <node_modules> <client URL> <output dir>
// Prints "browser test: ok" when every check holds.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

const [appSource, nodeModules, clientUrl, outputDir] = process.argv.slice(2);
const kTimeout = 20000;
const step = (what) => console.log(`browser test: ${what}`);

// The app's files in a scratch directory beside a node_modules link, as an app's checkout has them.
function stageApp(work) {
  const app = path.join(work, "app");
  fs.mkdirSync(app);
  for (const name of fs.readdirSync(appSource)) fs.copyFileSync(path.join(appSource, name), path.join(app, name));
  fs.symlinkSync(fs.realpathSync(nodeModules), path.join(app, "node_modules"));
  return app;
}

function serve(root) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, "http://localhost");
    const file = path.join(root, url.pathname === "/" ? "index.html" : path.normalize(url.pathname));
    if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent);
// Waits for the page to show what is expected; on a timeout, says what it shows instead.
async function waitFor(page, what, predicate, ...args) {
  try {
    // (Polled on a timer: animation frames never come to a page in the background.)
    await page.waitForFunction(predicate, { timeout: kTimeout, polling: 100 }, ...args);
  } catch (error) {
    const shown = await page.evaluate(() => document.body.innerText).catch(() => "(unreadable)");
    throw new Error(`waiting for ${what}: ${error.message}; the page shows:\n${shown}`);
  }
}
const waitText = (page, selector, expected) =>
  waitFor(page, `${selector} to read ${JSON.stringify(expected)}`, (s, t) => document.querySelector(s)?.textContent === t,
          selector, expected);
const waitCount = (page, selector, n) =>
  waitFor(page, `${n} of ${selector}`, (s, k) => document.querySelectorAll(s).length === k, selector, n);

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "isobar-browser-"));
  const app = stageApp(work);
  process.env.VITE_CONVEX_URL = clientUrl;
  const vite = await import(pathToFileURL(path.join(nodeModules, "vite/dist/node/index.js")).href);
  const dist = path.join(work, "dist");
  await vite.build({ root: app, configFile: false, logLevel: "warn", cacheDir: path.join(work, "vite-cache"),
                     build: { outDir: dist, emptyOutDir: true } });
  const server = await serve(dist);
  const base = `http://127.0.0.1:${server.address().port}`;

  const puppeteer = require(path.join(nodeModules, "puppeteer-core"));
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    protocolTimeout: 60000,
    // Two pages side by side: neither may be frozen or throttled as a background tab would be.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-timer-throttling",
           "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding"],
  });
  const errors = [];
  const open = async (query) => {
    const page = await browser.newPage();
    await page.setViewport({ width: 700, height: 900 });
    page.on("pageerror", (error) => errors.push(`${query}: ${error.message}`));
    page.on("console", (message) => console.log(`browser test: [${query} console.${message.type()}] ${message.text()}`));
    await page.goto(`${base}/?page=${query}`);
    return page;
  };
  try {
    // 25 posts before the wall opens: its first page holds the 10 newest and can load more.
    step("built and serving; opening the poster");
    const poster = await open("post");
    await poster.waitForSelector("#send-many", { timeout: kTimeout });
    step("posting 25");
    await poster.click("#send-many");
    await waitText(poster, "#sent", "sent 25");
    step("opening the wall");
    const wall = await open("wall");
    await waitText(wall, "#count", "25 posts");
    await waitCount(wall, "#posts li", 10);
    assert.equal(await text(wall, "#posts li"), "bulk: bulk #25");
    await waitText(wall, "#status", "CanLoadMore");

    step("posting one");
    // A post from the other page reaches the wall without a reload, at the top of its first page.
    await poster.bringToFront();
    await poster.type("#body", "hello from the browser");
    await poster.click("#send");
    await waitText(poster, "#sent", "sent 26");
    await waitText(wall, "#posts li", "poster: hello from the browser");
    await waitText(wall, "#count", "26 posts");
    await waitCount(wall, "#posts li", 11);

    step("loading more");
    // Load more: the next 10, then the last 5 and the end.
    await wall.bringToFront();
    await wall.click("#more");
    await waitCount(wall, "#posts li", 21);
    await waitText(wall, "#status", "CanLoadMore");
    await wall.click("#more");
    await waitCount(wall, "#posts li", 26);
    await waitText(wall, "#status", "Exhausted");
    const all = await wall.$$eval("#posts li", (items) => items.map((item) => item.textContent));
    assert.deepEqual(all, ["poster: hello from the browser", ...Array.from({ length: 25 }, (_, i) => `bulk: bulk #${25 - i}`)]);

    fs.mkdirSync(outputDir, { recursive: true });
    // (A page is drawn only in front.)
    await wall.screenshot({ path: path.join(outputDir, "wall.png"), fullPage: true });
    await poster.bringToFront();
    await poster.screenshot({ path: path.join(outputDir, "poster.png") });
    assert.ok(fs.statSync(path.join(outputDir, "wall.png")).size > 1000, "the screenshot is empty");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log("browser test: ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
