"""Reporting: Allure labels and attachments, Allure metadata files, the conformance summary, HTML.

Modules:

- ``allure_labels``: the label scheme (API → operation → rule), severity, contract links and the
  description section that shows the suite's own choices (inferred rules, ``x-choices``);
- ``environment``: ``environment.properties``, ``executor.json`` and ``categories.json``;
- ``summary``: per-check records, rule and API verdicts, ``conformance-summary.{json,md}``;
- ``html``: builds the Allure HTML report with the pinned Allure 3 CLI (Node), keeping history;
- ``plugin``: the pytest plugin that ties these to a conformance run (xdist-safe).

Choices are recorded in ``docs/decisions/reports.md``.
"""
