"""The mail-flow page keeps the message trace (on in the default stack) as a placeholder: its
data comes from the widget's function in AWS, so the page says so and never renders the function's
ARN placeholder or an action that would call it."""

from __future__ import annotations

import re

from tests.view.conftest import Demo


def test_the_trace_widget_is_a_placeholder_saying_its_data_comes_from_aws(demo: Demo) -> None:
    html = demo.page("-MailFlow.html").read_text()
    sections = re.findall(r'<section class="widget" data-kind="custom"[^>]*>.*?</section>', html, re.S)
    assert len(sections) == 1, sections
    (section,) = sections
    assert 'data-title="Message trace: message ID, sender or recipient"' in section
    assert 'data-aws="true"' in section and "shown in CloudWatch after a deploy" in section
    assert "TraceFunction" not in html and "cwdb-action" not in html
