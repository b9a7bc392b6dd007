// The liaisons' web inbox in a real browser: Debian's chromium driven by
// Playwright. Run by gateway/tests/browser.rs, which starts the gateway,
// submits a repair order through the Beijing adapter and afterwards checks
// what the Beijing partner received; this script is what a liaison does.
//
// Environment (all required unless a default is given):
//   INBOX_URL          the gateway, e.g. https://127.0.0.1:8443
//   INBOX_CA           PEM file of the CA that issued the gateway's
//                      certificate (trusted by the browser, see trustCa)
//   INBOX_TOKEN        the liaison's sign-in token (the order's unit)
//   INBOX_OTHER_TOKEN  a liaison token of another unit
//   INBOX_ORDER        the hand-off id of the new order
//   INBOX_UNIT_REF     the unit's own reference to acknowledge with
//   INBOX_RESULT       the result to resolve with
//   INBOX_ARTIFACTS    directory for the screenshots
//   CHROMIUM           the browser (default /usr/bin/chromium)
//
// Any missing element, unexpected page or status ends the run with exit
// code 1, a message naming what was expected, and failure.png.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const INSTALL_HINT = './test.sh installs chromium, fonts-wqy-zenhei, libnss3-tools and the npm packages';

function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`environment variable ${name} is not set`);
  return v;
}

const base = env('INBOX_URL');
const caFile = env('INBOX_CA');
const token = env('INBOX_TOKEN');
const otherToken = env('INBOX_OTHER_TOKEN');
const orderId = env('INBOX_ORDER');
const unitRef = env('INBOX_UNIT_REF');
const result = env('INBOX_RESULT');
const artifacts = env('INBOX_ARTIFACTS');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const orderPath = `/pu/orders/${orderId}`;

/** Fails the run with a message saying what was expected. */
class Missing extends Error {}

function check(ok, what) {
  if (!ok) throw new Missing(what);
}

/** Waits for `locator` to be visible; names `what` when it never is. */
async function need(page, locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: 15_000 });
  } catch {
    throw new Missing(`${what} not found on ${page.url()}`);
  }
  return locator.first();
}

/** Goes to `path`; the response's status must be `status`. */
async function visit(page, path, status) {
  const response = await page.goto(base + path);
  check(response !== null, `no response for ${path}`);
  check(response.status() === status, `${path} answered ${response.status()}, expected ${status}`);
  return response;
}

/**
 * The gateway's certificate comes from the development CA in
 * certs-example/. Rather than switching certificate checks off
 * (ignoreHTTPSErrors), the CA is added as a trusted root to an NSS database
 * in a throw-away HOME, which is where chromium on Linux reads the user's
 * roots from: the browser then checks the chain and the host name exactly
 * as for a real deployment.
 */
function trustCa() {
  const home = mkdtempSync(join(tmpdir(), 'inbox-browser-home-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  try {
    execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password'], { stdio: 'pipe' });
    execFileSync(
      'certutil',
      ['-A', '-d', `sql:${db}`, '-n', 'JJJ 12345 development CA', '-t', 'C,,', '-i', caFile],
      { stdio: 'pipe' },
    );
  } catch (e) {
    throw new Error(`cannot add the CA to an NSS database with certutil (${e.message}); ${INSTALL_HINT}`);
  }
  return home;
}

/** Chinese text needs a CJK font, or the screenshots show boxes. */
function checkCjkFont() {
  let fonts = '';
  try {
    fonts = execFileSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' });
  } catch (e) {
    throw new Error(`fc-list failed (${e.message}); ${INSTALL_HINT}`);
  }
  if (fonts.trim() === '') throw new Error(`no font with Chinese characters is installed; ${INSTALL_HINT}`);
}

async function signIn(page, liaisonToken) {
  await visit(page, '/pu/', 200);
  check(new URL(page.url()).pathname === '/pu/login', `not signed in, /pu/ should lead to /pu/login, got ${page.url()}`);
  await need(page, page.getByRole('heading', { level: 1, name: '联络员登录' }), 'the sign-in heading 联络员登录');
  await (await need(page, page.getByLabel('登录口令'), 'the token field 登录口令')).fill(liaisonToken);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/pu/', { timeout: 15_000 }),
    (await need(page, page.getByRole('button', { name: '登录', exact: true }), 'the 登录 button')).click(),
  ]).catch((e) => {
    throw new Missing(`signing in did not lead to the inbox (${e.message.split('\n')[0]}), now on ${page.url()}`);
  });
  await need(page, page.getByRole('heading', { level: 1, name: '工单收件箱' }), 'the inbox heading 工单收件箱');
}

async function submit(page, button, done) {
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('done') === done, { timeout: 15_000 }),
    button.click(),
  ]).catch(async (e) => {
    const alert = await page.getByRole('alert').allInnerTexts().catch(() => []);
    throw new Missing(`the ${done} form did not go through (${e.message.split('\n')[0]}); page says: ${alert.join(' ') || '(nothing)'}`);
  });
}

async function run(browser) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();

  // 1. The liaison of the order's unit signs in and finds the new order.
  await signIn(page, token);
  const row = page.locator('table.orders tbody tr', { has: page.locator(`a[href="${orderPath}"]`) });
  await need(page, row, `the new order ${orderId} in the inbox list`);
  check((await row.count()) === 1, `order ${orderId} listed ${await row.count()} times`);
  const state = await row.locator('td[data-label="状态"]').innerText();
  check(state === '待签收', `the new order's state is ${state}, expected 待签收`);
  const inboxPng = join(artifacts, 'inbox.png');
  await page.screenshot({ path: inboxPng, fullPage: true });
  console.log(`screenshot: ${inboxPng}`);

  // 2. It opens the order and acknowledges it with the unit's reference.
  await Promise.all([page.waitForURL((u) => u.pathname === orderPath), row.locator('a').first().click()]);
  await need(page, page.getByRole('heading', { level: 1 }), 'the order heading');
  await need(page, page.getByText('北京市海淀区万寿路甲15号院7号楼3单元602室'), 'the order address');
  await (await need(page, page.getByLabel('单位编号'), 'the unit reference field 单位编号')).fill(unitRef);
  await submit(page, await need(page, page.getByRole('button', { name: '签收', exact: true }), 'the 签收 button'), 'ack');
  await need(page, page.getByRole('status').filter({ hasText: '已签收。' }), 'the notice 已签收。');
  await need(page, page.locator('dd', { hasText: unitRef }), `the unit reference ${unitRef} on the order`);

  // 3. It marks the order resolved with the result.
  await (await need(page, page.getByLabel('办理结果'), 'the result field 办理结果')).fill(result);
  await submit(page, await need(page, page.getByRole('button', { name: '办结', exact: true }), 'the 办结 button'), 'resolve');
  await need(page, page.getByRole('status').filter({ hasText: '已办结' }), 'the notice 已办结');
  await need(page, page.locator('td', { hasText: result }), 'the result in the order history');
  const orderPng = join(artifacts, 'order.png');
  await page.screenshot({ path: orderPng, fullPage: true });
  console.log(`screenshot: ${orderPng}`);

  // 4. It signs out.
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/pu/login'),
    (await need(page, page.getByRole('button', { name: '退出登录' }), 'the 退出登录 button')).click(),
  ]);
  await context.close();

  // 5. A liaison of another unit, in a browser of their own, neither sees
  // the order in the list nor reaches it by its address: its page is the
  // one an unknown id gets.
  const other = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const theirs = await other.newPage();
  await signIn(theirs, otherToken);
  check((await theirs.locator(`a[href="${orderPath}"]`).count()) === 0, 'the other unit lists the order');
  check(!(await theirs.content()).includes(orderId), 'the other unit\'s inbox mentions the order id');
  await visit(theirs, orderPath, 404);
  await need(theirs, theirs.getByRole('heading', { level: 1, name: '没有这张工单' }), 'the not-found heading 没有这张工单');
  const forOrder = await theirs.content();
  await visit(theirs, '/pu/orders/01JUNKNOWNUNKNOWNUNKNOWN00', 404);
  const forUnknown = await theirs.content();
  check(forOrder === forUnknown, 'the other unit\'s page for the order differs from the page for an unknown id');
  check(!forOrder.includes(unitRef) && !forOrder.includes('万寿路'), 'the not-found page tells something of the order');
  await other.close();
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  checkCjkFont();
  const home = trustCa();
  let browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Playwright uses a fresh temporary profile (--user-data-dir) of its
      // own for every launch; these keep chromium from calling home.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      env: { ...process.env, HOME: home },
      timeout: 60_000,
    });
  } catch (e) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(`cannot start ${executablePath} (${e.message.split('\n')[0]}); ${INSTALL_HINT}`);
  }
  try {
    await run(browser);
  } catch (e) {
    for (const ctx of browser.contexts()) {
      for (const p of ctx.pages()) {
        await p.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
      }
    }
    throw e;
  } finally {
    await browser.close();
    rmSync(home, { recursive: true, force: true });
  }
  console.log('inbox browser test: passed');
}

main().catch((e) => {
  console.error(`inbox browser test FAILED: ${e instanceof Missing ? 'expected ' : ''}${e.message}`);
  process.exit(1);
});
