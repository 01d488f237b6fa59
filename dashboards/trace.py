"""The message trace widget on the mail-flow dashboard: a CloudWatch custom widget.

It re-runs the viewer's search when the dashboard's time range changes, not on every automatic
refresh: each run reads the time index of every day in range (docs/trace.md, "What it costs").
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_

TITLE = "Message trace: message ID, sender or recipient"
WIDTH = 24
HEIGHT = 10
PAGE = 50  # records per page


def trace_widget(function: lambda_.IFunction) -> cw.CustomWidget:
    return cw.CustomWidget(
        function_arn=function.function_arn,
        title=TITLE,
        width=WIDTH,
        height=HEIGHT,
        params={"limit": PAGE},
        update_on_refresh=False,
        update_on_resize=False,
        update_on_time_range_change=True,
    )
