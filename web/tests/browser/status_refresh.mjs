// The General status page in a real browser (F-5.2.0.8, F-5.2.1.1): it refreshes itself
// every 5 s without reloading, and a ticked line stays ticked across refreshes.
//
// Run by cellgate/tests/web_browser.rs against `cellgate simulate --web`, with
// WEB_URL, WEB_PASSWORD and CHROMIUM in the environment. Exit status 0 = pass.
import { chromium } from 'playwright-core';

const base = process.env.WEB_URL;
const password = process.env.WEB_PASSWORD;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const context = await browser.newContext({
    httpCredentials: { username: 'admin', password },
  });
  const page = await context.newPage();
  let loads = 0;
  page.on('load', () => { loads += 1; });
  const refreshes = [];
  page.on('request', (r) => {
    if (r.resourceType() === 'fetch' && r.url().includes('status.html?type=list')) {
      refreshes.push(Date.now());
    }
  });
  const url = `${base}/default/en_US/status.html?type=list`;
  const response = await page.goto(url);
  if (!response || response.status() !== 200) fail(`page answered ${response && response.status()}`);

  const uptimeCell = page.locator('#header tr:has(th:text-is("Uptime")) td');
  const uptimeBefore = await uptimeCell.textContent();
  const state = await page.locator('#l1_line_state').textContent();
  if (state !== 'IDLE') fail(`line 1 state is ${state}`);

  // Tick line 2, then wait for two refreshes.
  await page.locator('input[name=line][value="2"]').check();
  const started = Date.now();
  while (refreshes.length < 2 && Date.now() - started < 15000) {
    await page.waitForTimeout(250);
  }
  await page.waitForTimeout(500);
  if (refreshes.length < 2) fail(`only ${refreshes.length} refreshes in 15 s`);
  const gap = refreshes[1] - refreshes[0];
  if (gap < 4500 || gap > 6500) fail(`refreshes ${gap} ms apart, want about 5000`);
  if (loads !== 1) fail(`the page was reloaded (${loads} loads): the table must refresh in place`);

  const uptimeAfter = await uptimeCell.textContent();
  if (uptimeAfter === uptimeBefore) fail(`header not refreshed (uptime still ${uptimeAfter})`);
  if (!(await page.locator('input[name=line][value="2"]').isChecked())) {
    fail('the ticked line lost its tick on refresh');
  }
  if (await page.locator('input[name=line][value="1"]').isChecked()) {
    fail('an unticked line became ticked');
  }
  console.log(`ok: ${refreshes.length} refreshes, ${gap} ms apart; uptime ${uptimeBefore} -> ${uptimeAfter}; line 2 still ticked`);
} finally {
  await browser.close();
}
