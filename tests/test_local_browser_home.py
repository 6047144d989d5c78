"""Local mode in headless Chromium, beyond the thread: each pretend user's App Home (what waits
for them, answered from there), the "Start a flow" shortcut, the app's direct messages (the
audit file), and a restart of the bot in the middle of a run.

``LOCKSTEP_SCREENSHOT_HOME=docs/home-tab.png`` saves Bob's Home with a deploy waiting for him
(``scripts/screenshot`` does that for the README).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.localbot import local_process
from tests.test_local_browser import CHROMIUM, TIMEOUT_MS, act_as, browser, field, lock_message

__all__ = ["browser"]  # the fixture, shared with the thread's browser tests

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs Chromium: apt-get install chromium (.ci/run installs it)",
    ),
]


async def request_deploy(page: Page) -> None:
    """Alice asks for a deploy of api 1.2.3, from the ⚡ shortcut: flow, channel, then its form."""
    await act_as(page, "U0ALICE")
    await page.locator("#channel-item").click()
    await page.locator("#shortcut").click()
    modal = page.locator(".modal")
    await expect(modal.locator("h2")).to_have_text("Start a flow")
    await modal.locator('[data-block-id="choose_flow"][data-kind]').select_option("deploy")
    await modal.locator('[data-block-id="choose_channel"][data-kind]').select_option("C0LOCKSTEP")
    await modal.locator("button[type=submit]").click()
    await expect(modal.locator("h2")).to_have_text("Deploy approval")
    await field(modal, "service").fill("api")
    await field(modal, "version").fill("1.2.3")
    await modal.locator("button[type=submit]").click()
    await expect(page.locator("#overlay")).to_be_hidden()


async def test_the_home_tab_the_shortcut_and_direct_messages(
    browser: Browser, tmp_path: Path
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    page = await browser.new_page(viewport={"width": 1360, "height": 860})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    async with local_process(tmp_path) as bot:
        await page.goto(bot.url)
        await expect(page.locator("body")).to_have_attribute("data-ready", "1")

        # Bob opens the app's Home: nothing waits for him yet
        await act_as(page, "U0BOB")
        await page.locator("#app-item").click()
        home = page.locator("#app-body .home")
        await expect(home).to_contain_text("Nothing waits for you.")
        await expect(home.locator('button[data-action-id="lockstep_home_start"]')).to_be_visible()

        await request_deploy(page)

        # back on Bob's Home: the deploy waits for him, due at a time in his own time zone
        await act_as(page, "U0BOB")
        await page.locator("#app-item").click()
        waiting = home.locator(".blk", has_text="Deploy approval").first
        await expect(waiting).to_contain_text("run")
        await expect(home.locator("time").first).to_contain_text("at")
        await expect(home.locator("a", has_text="Open the thread")).to_have_attribute(
            "href", re.compile(r"^https://example\.slack\.test/archives/C0LOCKSTEP/p\d+$")
        )
        screenshot = tmp_path / "home-tab.png"
        await page.screenshot(path=str(screenshot))
        if os.environ.get("LOCKSTEP_SCREENSHOT_HOME"):
            shutil.copyfile(screenshot, os.environ["LOCKSTEP_SCREENSHOT_HOME"])

        # he answers from there: the lock's form opens as a modal, closed with "Close"
        await home.locator('button[data-action-id="lockstep_home_answer"]').click()
        modal = page.locator(".modal")
        await expect(modal.locator("h2")).to_have_text("Deploy approval")
        await expect(modal.locator("footer .btn").first).to_have_text("Close")
        await field(modal, "comment").fill("ship it")
        await modal.locator("button[type=submit]").click()
        await expect(page.locator("#overlay")).to_be_hidden()
        await expect(home).to_contain_text("Nothing waits for you.")

        # Alice's Home: her run, approved; the thread says so too
        await act_as(page, "U0ALICE")
        await expect(home).to_contain_text("approved by @Bob Reviewer")
        short = (await home.locator("code").first.inner_text()).strip()
        assert re.fullmatch(r"[0-9a-f]{8}", short)
        await page.locator("#channel-item").click()
        parent = page.locator("#history .message", has_text="Deploy approval")
        await parent.locator(".replies button").click()
        await expect(lock_message(page, "Deploy approval")).to_contain_text(
            "Approved by @Bob Reviewer"
        )

        # /flow audit sends the trail by direct message: the app's Messages tab shows it
        await page.fill("#composer", f"/flow audit {short}")
        await page.press("#composer", "Enter")
        await expect(page.locator("#app-item")).to_have_text("Lockstep (1)")
        await page.locator("#app-item").click()
        await page.locator("#tab-messages").click()
        messages = page.locator("#app-body")
        await expect(messages).to_contain_text(f"Audit trail of deploy run {short} (6 events).")
        await expect(messages.locator(".file")).to_contain_text(f"lockstep-{short}")
        assert problems == []


async def test_a_restart_in_the_middle_of_a_run(browser: Browser, tmp_path: Path) -> None:
    """The bot stops while a deploy waits for its approval; started again, the page shows the
    run and its open form (reposted from the store), and the approval goes through."""
    expect.set_options(timeout=TIMEOUT_MS)
    page = await browser.new_page(viewport={"width": 1360, "height": 860})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    async with local_process(tmp_path) as bot:
        await page.goto(bot.url)
        await expect(page.locator("body")).to_have_attribute("data-ready", "1")
        await request_deploy(page)
        await expect(page.locator("#history .message", has_text="Deploy approval")).to_contain_text(
            "awaiting"
        )
    async with local_process(tmp_path) as bot:
        await page.goto(bot.url)
        await expect(page.locator("body")).to_have_attribute("data-ready", "1")
        parent = page.locator("#history .message", has_text="Deploy approval")
        await expect(parent).to_contain_text("started by @Alice Author")
        await parent.locator(".replies button").click()
        approval = lock_message(page, "Deploy approval")
        await act_as(page, "U0CAROL")
        await field(approval, "comment").fill("after the restart")
        await approval.locator('button[data-action-id="lockstep_submit"]').click()
        await expect(approval).to_contain_text("Approved by @Carol Reviewer")
        await expect(parent).to_contain_text("✅ approved by @Carol Reviewer")
    assert "Traceback" not in bot.log.read_text()
    assert problems == []
