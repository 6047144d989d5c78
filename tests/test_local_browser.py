"""Local mode as a person meets it: ``python -m bot`` with no Slack credentials, its page in
headless Chromium (the system's, via Playwright; no browser download), and a document review run
from the message box to its result: the entry modal, a failed validation, a four-eyes refusal
and two approvals by different pretend users.

``LOCKSTEP_SCREENSHOT=docs/local-mode.png`` saves the thread with an open lock form there
(``scripts/screenshot`` does that for the README).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.localbot import local_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_MS = 15_000  # the longest wait for one thing to show up

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs Chromium: apt-get install chromium (.ci/run installs it)",
    ),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


def field(scope: Locator, name: str) -> Locator:
    """The control of input block ``f_<name>`` (a text box, a select or a group of boxes)."""
    return scope.locator(f'[data-kind][data-block-id="f_{name}"]')


def lock_message(page: Page, title: str) -> Locator:
    header = page.locator(".blk-header", has_text=title)
    return page.locator("#thread .message", has=header)


async def act_as(page: Page, user: str) -> None:
    await page.select_option("#who", user)
    await expect(page.locator("#who")).to_have_value(user)


async def test_a_document_review_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    page = await browser.new_page(viewport={"width": 1360, "height": 860})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    async with local_process(tmp_path) as bot:
        await page.goto(bot.url)
        await expect(page.locator("body")).to_have_attribute("data-ready", "1")
        await expect(page.locator("#who")).to_have_value("U0ALICE")

        # the message box takes the slash command; the entry form opens as a modal
        await page.fill("#composer", "/flow start review")
        await page.press("#composer", "Enter")
        modal = page.locator(".modal")
        await expect(modal.locator("h2")).to_have_text("Document review")
        # required is Block Kit's own: the field is not marked optional, so (as Slack does) the
        # modal refuses to send an empty one; the author field is marked "(optional)"
        await expect(modal.locator(".optional")).to_have_count(1)
        await modal.locator("button[type=submit]").click()
        await expect(modal.locator(".error")).to_have_text("Please complete this required field.")
        await field(modal, "document").fill("Q3 plan")
        await modal.locator("button[type=submit]").click()
        await expect(page.locator("#overlay")).to_be_hidden()

        # the run's parent message in the channel; its thread holds the first lock
        parent = page.locator("#history .message", has_text="Document review")
        await expect(parent).to_contain_text("started by @Alice Author")
        await parent.locator(".replies button").click()
        content = lock_message(page, "Content review")
        await expect(field(content, "score")).to_be_visible()

        # Bob scores low without a comment: the lease refuses, the error shows under the field,
        # the value stays, and a note only Bob sees says what to fix
        await act_as(page, "U0BOB")
        await field(content, "score").fill("2")
        await content.locator('button[data-action-id="lockstep_submit"]').click()
        await expect(content.locator(".hint.warn")).to_have_text(
            "⚠️ Please explain a score below 3."
        )
        await expect(field(content, "score")).to_have_value("2")
        note = page.locator("#thread .message.ephemeral", has_text="Please fix the form")
        await expect(note).to_contain_text("Only visible to you")
        await field(content, "comments").fill("Tighten the introduction.")
        await content.locator('button[data-action-id="lockstep_submit"]').click()
        await expect(content).to_contain_text("Approved by @Bob Reviewer")
        await expect(content.locator("button")).to_have_count(0)
        # the answer itself, under its labels; the time in the reader's own time zone
        await expect(content.locator(".blk-fields")).to_contain_text("Tighten the introduction.")
        await expect(content.locator(".blk-fields")).to_contain_text("Score (1 to 5)")
        await expect(content.locator("time")).to_contain_text("Today at")
        assert "@date" not in await content.inner_text()

        # the final review is four-eyes: Alice started the run, so she may not sign off
        final = lock_message(page, "Final review")
        await act_as(page, "U0ALICE")
        await expect(note).to_have_count(0)  # Bob's note is not Alice's
        await field(final, "publish").locator("input").check()
        await final.locator('button[data-action-id="lockstep_submit"]').click()
        refusal = page.locator("#thread .message.ephemeral", has_text="someone else")
        await expect(refusal).to_be_visible()
        screenshot = tmp_path / "local-mode.png"
        await page.screenshot(path=str(screenshot))
        if os.environ.get("LOCKSTEP_SCREENSHOT"):
            shutil.copyfile(screenshot, os.environ["LOCKSTEP_SCREENSHOT"])

        # Carol signs off; the thread ends with the result, the parent says it was approved
        await act_as(page, "U0CAROL")
        await field(final, "publish").locator("input").check()
        await final.locator('button[data-action-id="lockstep_submit"]').click()
        result = page.locator("#thread .message").last
        await expect(result).to_contain_text("✅ Approved by @Carol Reviewer")
        await expect(result.locator(".blk-fields")).to_contain_text("PublishedYes")
        await expect(result.locator(".blk-fields")).to_contain_text("Score (1 to 5)2")
        await expect(final).to_contain_text("Approved by @Carol Reviewer")
        await expect(parent).to_contain_text("✅ approved by @Carol Reviewer")
        assert problems == []


async def fill_every_input(scope: Locator, count: str) -> None:
    await field(scope, "text").fill("hello")
    await field(scope, "count").fill(count)
    await field(scope, "day").fill("2026-03-04")
    await field(scope, "at").fill("09:30")
    await field(scope, "when").fill("2026-03-04T05:06")
    await field(scope, "agree").locator("input").check()
    await field(scope, "one").select_option("b")
    await field(scope, "many").select_option(["a", "c"])
    await field(scope, "owner").select_option("U0BOB")
    await field(scope, "team").select_option(["U0ALICE", "U0CAROL"])


async def test_every_input_in_a_modal_and_in_a_message(browser: Browser, tmp_path: Path) -> None:
    """Dates, times, numbers, selects and people, as typed on the page, reach the flow typed."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = await browser.new_context(timezone_id="UTC", viewport={"width": 1360, "height": 860})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    async with local_process(tmp_path, LOCKSTEP_FLOWS="tests.local_flows") as bot:
        await page.goto(bot.url)
        await page.fill("#composer", "/flow start everything")
        await page.press("#composer", "Enter")
        modal = page.locator(".modal")
        await expect(modal.locator("h2")).to_have_text("Every input")
        await expect(modal.locator("b", has_text="bold")).to_be_visible()
        await expect(field(modal, "count")).to_have_attribute("type", "number")  # number_input
        await fill_every_input(modal, "3")
        await modal.locator("button[type=submit]").click()
        await expect(page.locator("#overlay")).to_be_hidden()

        await page.locator("#history .replies button").click()
        message = lock_message(page, "In a message")  # the form's heading is its title
        await expect(field(message, "count")).to_have_attribute("type", "text")  # plain text
        await fill_every_input(message, "4")
        await message.locator('button[data-action-id="lockstep_submit"]').click()
        result = page.locator("#thread .message .blk-fields")
        typed = (
            "agree=True at=09:30:00 count={} day=2026-03-04 many=['a', 'c'] one=b "
            "owner=U0BOB team=['U0ALICE', 'U0CAROL'] text=hello when=2026-03-04 05:06:00"
        )
        await expect(result.last).to_contain_text(f"Entry{typed.format(3)}")
        await expect(result.last).to_contain_text(f"Lock{typed.format(4)}")
        assert problems == []
    await context.close()
