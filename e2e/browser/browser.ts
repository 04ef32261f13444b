/**
 * A real headless Chromium for the web console's browser tests: Debian's `chromium` (installed
 * by `npm run cluster:prepare`), driven over the DevTools protocol by `playwright-core`, which
 * ships no browser and downloads none. Each visit opens one fresh page (one at a time: Chromium
 * is heavy on a 2-core machine), records every console error, uncaught page error, failed
 * request and HTTP error status while the page loads, and saves a full-page screenshot under
 * `.lathe/test-artifacts/console/<test>/<page>.png` (gitignored), so a failed run leaves
 * something to look at — the way Playwright Test's own runner keeps a trace per test.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { repoRoot } from '../cluster/testenv.js';

/** Where the browser tests' screenshots go; `LATHE_TEST_ARTIFACTS` names another root. */
export const artifactsRoot = process.env.LATHE_TEST_ARTIFACTS
  ? path.resolve(process.env.LATHE_TEST_ARTIFACTS)
  : path.join(repoRoot, '.lathe/test-artifacts');

/** Candidates for the browser binary, in order: `LATHE_CHROMIUM`, then Debian's. */
const chromiumCandidates = [process.env.LATHE_CHROMIUM, '/usr/lib/chromium/chromium'];

/**
 * The Chromium binary to drive. Debian's `/usr/bin/chromium` is a shell wrapper that adds
 * desktop flags; the binary behind it is started directly.
 */
export function chromiumExecutable(): string {
  const found = chromiumCandidates.find((candidate) => candidate && existsSync(candidate));
  if (!found)
    throw new Error(
      'No Chromium found (/usr/lib/chromium/chromium): run "npm run cluster:prepare" as root (it installs Debian\'s chromium), or set LATHE_CHROMIUM to a Chromium binary',
    );
  return found;
}

/**
 * Flags for a headless run as root in a container-like host: no setuid sandbox (root cannot
 * use it; Playwright adds `--no-sandbox` too), shared memory in /tmp (a small /dev/shm crashes
 * renderers), no GPU process.
 */
export const chromiumFlags = ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'];

/** One thing that went wrong while a page loaded. */
export interface PageProblem {
  kind: 'console' | 'pageerror' | 'requestfailed' | 'http';
  text: string;
}

/** What a visit found: the page (still open until the next visit), its status, its problems. */
export interface PageVisit {
  page: Page;
  /** The main document's HTTP status. */
  status: number;
  /** Everything that went wrong while it loaded; a clean page has none. */
  problems: PageProblem[];
  /** Where its screenshot was saved. */
  screenshot: string;
}

/** A file-name-safe form of a test or page name (`Lineage: iris/v2` → `lineage-iris-v2`). */
export function artifactName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!slug) throw new Error(`artifact name "${name}" has no letter or digit`);
  return slug.slice(0, 80);
}

/** The problems as lines for an assertion message. */
export function describeProblems(problems: readonly PageProblem[]): string {
  return problems.map((p) => `${p.kind}: ${p.text}`).join('\n');
}

/** A launched browser with a folder of screenshots for one test file. */
export class ConsoleBrowser {
  private current: Page | undefined;

  private constructor(
    private readonly browser: Browser,
    private readonly context: BrowserContext,
    /** `.lathe/test-artifacts/console/<test>/`. */
    readonly artifactsDir: string,
  ) {}

  /**
   * Launches Chromium for test `test`; `headers` go with every request the pages make (the
   * viewer's bearer token, as `kubectl proxy` or an OIDC proxy in front of the console adds it).
   */
  static async launch(
    test: string,
    options: { headers?: Record<string, string> } = {},
  ): Promise<ConsoleBrowser> {
    const artifactsDir = path.join(artifactsRoot, 'console', artifactName(test));
    await mkdir(artifactsDir, { recursive: true });
    const browser = await chromium.launch({
      executablePath: chromiumExecutable(),
      args: chromiumFlags,
      timeout: 60_000,
    });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      extraHTTPHeaders: options.headers,
    });
    return new ConsoleBrowser(browser, context, artifactsDir);
  }

  /**
   * Opens `url` in a fresh page (closing the previous one), waits until the network is idle,
   * and saves a screenshot named `name`. Problems are collected, not thrown: the test asserts.
   */
  async visit(url: string, name: string): Promise<PageVisit> {
    await this.current?.close();
    const page = await this.context.newPage();
    this.current = page;
    const problems = watchProblems(page);
    const response = await page.goto(url, { waitUntil: 'networkidle', timeout: 60_000 });
    const screenshot = await this.screenshot(name);
    return { page, status: response?.status() ?? 0, problems, screenshot };
  }

  /**
   * Clicks `selector` (a link, a form's submit button) on the open page, waits for the page it
   * leads to, after redirects, and saves a screenshot named `name` — following a link the way
   * a user does, not by building its URL.
   */
  async follow(selector: string, name: string): Promise<PageVisit> {
    const page = this.current;
    if (!page) throw new Error('follow() needs a page open: visit() one first');
    const problems = watchProblems(page);
    const [response] = await Promise.all([
      // The page the click ends on, after any redirect (a form's POST answered 303).
      page.waitForResponse(
        (r) =>
          r.request().isNavigationRequest() &&
          r.frame() === page.mainFrame() &&
          (r.status() < 300 || r.status() >= 400),
        { timeout: 60_000 },
      ),
      page.click(selector),
    ]);
    await page.waitForLoadState('networkidle', { timeout: 60_000 });
    const screenshot = await this.screenshot(name);
    return { page, status: response.status(), problems, screenshot };
  }

  /** Goes back to the previous page of the open tab and waits until it has loaded. */
  async back(): Promise<void> {
    if (!this.current) throw new Error('back() needs a page open');
    await this.current.goBack({ waitUntil: 'networkidle', timeout: 60_000 });
  }

  /** Saves the open page's full-page screenshot as `<name>.png` and returns its path. */
  async screenshot(name: string): Promise<string> {
    if (!this.current) throw new Error('screenshot() needs a page open');
    const file = path.join(this.artifactsDir, `${artifactName(name)}.png`);
    await this.current.screenshot({ path: file, fullPage: true });
    return file;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await this.browser.close();
  }
}

/** Starts recording `page`'s problems into the returned array, from now on. */
function watchProblems(page: Page): PageProblem[] {
  const problems: PageProblem[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push({ kind: 'console', text: message.text() });
  });
  page.on('pageerror', (error) => problems.push({ kind: 'pageerror', text: error.message }));
  page.on('requestfailed', (request) =>
    problems.push({
      kind: 'requestfailed',
      text: `${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`,
    }),
  );
  page.on('response', (response) => {
    if (response.status() >= 400)
      problems.push({ kind: 'http', text: `${response.status()} ${response.url()}` });
  });
  return problems;
}
