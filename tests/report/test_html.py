"""report.html: one self-contained page whose tags balance and whose code is escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from gcverify.report import render_html
from tests.mutation.campaigns import default_campaign, mixed_campaign

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class StrictParser(HTMLParser):
    """Fails on an unclosed, stray or misnested tag; collects text and references."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src")]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src")]

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    return parser


@pytest.mark.parametrize("campaign", [default_campaign, mixed_campaign])
def test_tags_balance_and_nothing_is_loaded_from_elsewhere(campaign):
    page = render_html(campaign())
    assert page.startswith("<!DOCTYPE html>")
    parsed = parse(page)
    assert parsed.links == []
    assert "<script" not in page


def test_code_is_escaped_and_reads_back_as_written():
    result = mixed_campaign()
    page = render_html(result)
    assert "boom <&>" not in page
    text = "".join(parse(page).text)
    assert "raise RuntimeError('boom <&>')" in text
    assert "dZ1 = np.multiply(dA1, np.int64(Z1 >= 0))" in text


def test_survivors_and_equivalents_have_their_own_sections():
    page = render_html(mixed_campaign())
    survivors = page.index("<h2>Survivors</h2>")
    equivalents = page.index("<h2>Probably equivalent</h2>")
    everything = page.index("<h2>All 7 mutants</h2>")
    assert survivors < equivalents < everything
    assert 'class="headline bad"' in page
    assert 'class="headline ok"' in render_html(default_campaign())
